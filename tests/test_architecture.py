"""The calculator against the notes' worked numbers, and conv_output_size against brute force."""

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cs231n_lib.architecture import (ALEXNET_CONV1, BYTES_PER_MB, VGGNET16, Summary,
                                     conv_output_size, format_table, summarize)
from cs231n_lib.layer_spec import Conv, Input, Relu, parse_spec


# ---------------------------------------------------------------------------------------------
# conv_output_size: the notes' examples and a brute-force oracle
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("W, F, P, S, expected", [
    (7, 3, 0, 1, 5),      # the notes' text: a 7x7 input, 3x3 filter, no padding, stride 1
    (7, 3, 0, 2, 3),      # ... and stride 2
    (5, 3, 1, 1, 5),      # the notes' 1-D figure: W=5, F=3, P=1, stride 1
    (5, 3, 1, 2, 3),      # ... and stride 2 (stride 3 does not fit: see the invalid cases)
    (32, 5, 2, 1, 32),    # 32x32 input, F=5, P=2 keeps the size
    (227, 11, 0, 4, 55),  # AlexNet's first layer
    (224, 3, 1, 1, 224),  # VGG's convs
    (224, 2, 0, 2, 112),  # VGG's pools
])
def test_notes_output_sizes(W, F, P, S, expected):
    assert conv_output_size(W, F, P, S) == expected


@pytest.mark.parametrize("W, F, P, S, result", [
    (7, 3, 0, 3, r"2\.333\.\.\."),  # the notes' stride 3 that "does not fit"
    (10, 3, 0, 2, r"4\.5"),
    (2, 5, 0, 1, "-2"),             # filter larger than the padded input
])
def test_invalid_hyperparameters_name_W_F_P_S_and_the_result(W, F, P, S, result):
    with pytest.raises(ValueError, match=rf"invalid hyperparameters: .*W={W}, F={F}, P={P}, S={S} "
                                         rf"gives {result}, not a positive integer"):
        conv_output_size(W, F, P, S)


def test_dilation_uses_the_effective_filter_size():
    assert conv_output_size(7, 3, 0, 1, dilation=2) == 3  # spans 5 inputs: like F=5
    assert conv_output_size(7, 3, 2, 1, dilation=2) == 7
    with pytest.raises(ValueError, match=r"W=4, F=3, P=0, S=1, dilation=2 \(effective F=5\) gives 0"):
        conv_output_size(4, 3, 0, 1, dilation=2)


def test_conv_output_size_rejects_non_integers():
    with pytest.raises(TypeError, match="S must be an integer >= 1, got float 2.0"):
        conv_output_size(7, 3, 0, 2.0)
    with pytest.raises(ValueError, match="P must be an integer >= 0, got -1"):
        conv_output_size(7, 3, -1, 1)
    with pytest.raises(TypeError, match="dilation must be an integer >= 1, got bool True"):
        conv_output_size(7, 3, 0, 1, True)


def count_window_positions(W, F, P, S, dilation):
    """Slide the (dilated) filter over the padded input by hand: (number of positions, fits exactly)."""
    span = (F - 1) * dilation + 1
    padded = W + 2 * P
    starts = list(range(0, padded - span + 1, S))
    # Valid in the notes' sense: some window ends exactly at the padded edge, none is left over.
    fits = bool(starts) and starts[-1] + span == padded
    return len(starts), fits


@given(W=st.integers(1, 60), F=st.integers(1, 12), P=st.integers(0, 6), S=st.integers(1, 6),
       dilation=st.integers(1, 4))
def test_conv_output_size_counts_the_window_positions(W, F, P, S, dilation):
    positions, fits = count_window_positions(W, F, P, S, dilation)
    if fits:
        assert conv_output_size(W, F, P, S, dilation) == positions
    else:
        with pytest.raises(ValueError, match="invalid hyperparameters"):
            conv_output_size(W, F, P, S, dilation)


@given(out=st.integers(1, 30), F=st.integers(1, 9), P=st.integers(0, 4), S=st.integers(1, 5))
def test_conv_output_size_on_valid_geometry(out, F, P, S):
    # Build W from the output size so every example is a valid one.
    W = (out - 1) * S + F - 2 * P
    assume(W >= 1)
    assert conv_output_size(W, F, P, S) == out == count_window_positions(W, F, P, S, 1)[0]


# ---------------------------------------------------------------------------------------------
# The notes' VGGNet listing, row by row
# ---------------------------------------------------------------------------------------------

# (name, output volume, activations, weights) as the notes list them.
VGG_ROWS = [
    ("INPUT-224x224x3", (224, 224, 3), 150_528, 0),
    ("CONV3-64", (224, 224, 64), 3_211_264, 1_728),
    ("CONV3-64", (224, 224, 64), 3_211_264, 36_864),
    ("POOL2", (112, 112, 64), 802_816, 0),
    ("CONV3-128", (112, 112, 128), 1_605_632, 73_728),
    ("CONV3-128", (112, 112, 128), 1_605_632, 147_456),
    ("POOL2", (56, 56, 128), 401_408, 0),
    ("CONV3-256", (56, 56, 256), 802_816, 294_912),
    ("CONV3-256", (56, 56, 256), 802_816, 589_824),
    ("CONV3-256", (56, 56, 256), 802_816, 589_824),
    ("POOL2", (28, 28, 256), 200_704, 0),
    ("CONV3-512", (28, 28, 512), 401_408, 1_179_648),
    ("CONV3-512", (28, 28, 512), 401_408, 2_359_296),
    ("CONV3-512", (28, 28, 512), 401_408, 2_359_296),
    ("POOL2", (14, 14, 512), 100_352, 0),
    ("CONV3-512", (14, 14, 512), 100_352, 2_359_296),
    ("CONV3-512", (14, 14, 512), 100_352, 2_359_296),
    ("CONV3-512", (14, 14, 512), 100_352, 2_359_296),
    ("POOL2", (7, 7, 512), 25_088, 0),
    ("FC-4096", (1, 1, 4096), 4_096, 102_760_448),
    ("FC-4096", (1, 1, 4096), 4_096, 16_777_216),
    ("FC-1000", (1, 1, 1000), 1_000, 4_096_000),
]


@pytest.fixture(scope="module")
def vgg():
    return summarize(VGGNET16)


def test_vgg_rows_match_the_notes(vgg):
    assert len(vgg) == len(VGG_ROWS)
    for row, (name, shape, activations, weights) in zip(vgg, VGG_ROWS):
        assert (row.name, row.output_shape, row.activations, row.weights) == \
            (name, shape, activations, weights), row.name
        # One bias per filter or FC output, none in INPUT and POOL rows.
        assert row.biases == (shape[2] if weights else 0), row.name


def test_vgg_parameter_totals_are_the_notes_138M(vgg):
    assert vgg.total_weights == 138_344_128
    assert vgg.total_biases == 13_416
    assert vgg.total_parameters == 138_357_544
    assert round(vgg.total_parameters / 1e6) == 138


def test_vgg_activation_total_is_the_sum_of_the_notes_rows(vgg):
    # The notes print "TOTAL memory: 24M * 4 bytes ~= 93MB / image", but the rows they
    # list add up to 15,237,608 (~15.2M, ~58 MB at 4 bytes). Counting a separate RELU
    # output after every conv/FC would give ~28.8M, so no consistent count gives 24M;
    # the kit reports what the rows sum to.
    assert vgg.total_activations == sum(activations for _, _, activations, _ in VGG_ROWS)
    assert vgg.total_activations == 15_237_608
    assert vgg.forward_bytes == 15_237_608 * 4
    assert vgg.forward_megabytes == pytest.approx(58.13, abs=0.01)
    assert summarize(VGGNET16, bytes_per_value=8).forward_bytes == 15_237_608 * 8


def test_vgg_with_relus_counts_their_activations_but_no_parameters():
    with_relus = summarize(VGGNET16.replace("CONV3-64]", "CONV3-64 -> RELU]"))
    relu_rows = [row for row in with_relus if row.name == "RELU"]
    assert len(relu_rows) == 2
    assert all(row.output_shape == (224, 224, 64) and row.weights == row.biases == 0 for row in relu_rows)
    assert with_relus.total_activations == 15_237_608 + 2 * 3_211_264
    assert with_relus.total_parameters == 138_357_544


def test_batchnorm_counts_gamma_and_beta_per_channel_and_no_flops():
    plain = summarize("INPUT-8x8x3 -> CONV3-16 -> RELU -> POOL2 -> FC-32 -> RELU -> FC-10")
    with_bn = summarize("INPUT-8x8x3 -> CONV3-16 -> BN -> RELU -> POOL2 -> FC-32 -> BN -> RELU -> FC-10")
    bn_rows = [row for row in with_bn if row.name == "BN"]
    assert [(row.output_shape, row.weights, row.biases) for row in bn_rows] == [((8, 8, 16), 16, 16),
                                                                              ((1, 1, 32), 32, 32)]
    # gamma and beta per channel; beta replaces the CONV's and the FC's bias
    assert [row.biases for row in with_bn if row.name in ("CONV3-16", "FC-32", "FC-10")] == [0, 0, 10]
    assert with_bn.total_parameters == plain.total_parameters + 2 * (16 + 32) - (16 + 32)
    assert with_bn.total_activations == plain.total_activations + 8 * 8 * 16 + 32
    assert (with_bn.flops, with_bn.window_reads) == (plain.flops, plain.window_reads)
    # Parameter sharing is a CONV's: a BN has one gamma and beta per channel either way.
    assert summarize("INPUT-8x8x3 -> CONV3-16 -> BN", parameter_sharing=False)[-1].parameters == 32


# ---------------------------------------------------------------------------------------------
# The notes' AlexNet parameter-sharing example
# ---------------------------------------------------------------------------------------------

def test_alexnet_first_layer_with_and_without_parameter_sharing():
    shared = summarize(ALEXNET_CONV1)
    conv1 = shared[-1]
    assert conv1.output_shape == (55, 55, 96)
    assert conv1.activations == 290_400
    assert (conv1.weights, conv1.biases) == (96 * 11 * 11 * 3, 96)
    assert shared.total_parameters == 34_944

    unshared = summarize(ALEXNET_CONV1, parameter_sharing=False)
    assert unshared[-1].weights == 290_400 * 363
    assert unshared[-1].biases == 290_400
    assert unshared.total_parameters == 105_705_600


def test_parameter_sharing_changes_only_conv_layers():
    spec = "INPUT-8x8x3 -> CONV3-4 -> POOL2 -> FC-10"
    unshared = summarize(spec, parameter_sharing=False)
    assert [row.parameters for row in unshared] == [0, 8 * 8 * 4 * (27 + 1), 0, 4 * 4 * 4 * 10 + 10]


# ---------------------------------------------------------------------------------------------
# Inputs, errors, the table
# ---------------------------------------------------------------------------------------------

def test_summarize_takes_parsed_layers_and_an_input_shape():
    from_text = summarize("CONV5-6/p0 -> POOL2 -> FC", input_shape=(32, 32, 3), num_classes=10)
    from_list = summarize([Input(32, 32, 3), *parse_spec("CONV5-6/p0 -> POOL2 -> FC-10")])
    assert from_text == from_list
    assert [row.output_shape for row in from_text] == [(32, 32, 3), (28, 28, 6), (14, 14, 6), (1, 1, 10)]
    assert from_text[-1].weights == 14 * 14 * 6 * 10


def test_dilation_changes_the_output_size_but_not_the_weights():
    rows = summarize("INPUT-9x9x2 -> CONV3-4/p0/d2").rows
    assert rows[-1].output_shape == (5, 5, 4)
    assert rows[-1].weights == 3 * 3 * 2 * 4


def test_non_square_input_checks_each_axis():
    assert summarize("INPUT-6x4x1 -> POOL2")[-1].output_shape == (3, 2, 1)
    with pytest.raises(ValueError, match=r"layer 1 POOL2 on its 5x4x1 input: height: invalid "
                                         r"hyperparameters.*W=5, F=2, P=0, S=2 gives 2\.5"):
        summarize("INPUT-5x4x1 -> POOL2")


def test_invalid_layer_names_the_layer_and_the_notes_formula():
    with pytest.raises(ValueError, match=r"layer 2 CONV3-8/s2/p0 on its 10x10x3 input: height: "
                                         r"invalid hyperparameters.*W=10, F=3, P=0, S=2 gives 4\.5"):
        summarize("INPUT-10x10x3 -> RELU -> CONV3-8/s2/p0")


def test_summarize_argument_errors():
    with pytest.raises(ValueError, match=r"needs the input volume: start the spec with INPUT-HxWxC "
                                         r"or pass input_shape=\(H, W, C\)"):
        summarize("CONV3-8")
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8, 1\) disagrees with the spec's INPUT-8x8x3"):
        summarize("INPUT-8x8x3 -> RELU", input_shape=(8, 8, 1))
    with pytest.raises(ValueError, match=r"input_shape must be \(H, W, C\), got \(8, 8\)"):
        summarize([Relu()], input_shape=(8, 8))
    with pytest.raises(TypeError, match="bytes_per_value must be an integer >= 1"):
        summarize(ALEXNET_CONV1, bytes_per_value=4.0)
    with pytest.raises(TypeError, match="parameter_sharing must be True or False, got 0"):
        summarize(ALEXNET_CONV1, parameter_sharing=0)
    with pytest.raises(TypeError, match="format_table expects the Summary from summarize, got list"):
        format_table(list(summarize(ALEXNET_CONV1)))


def test_format_table_lists_every_row_and_the_totals(vgg):
    table = format_table(vgg)
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "output", "activations", "weights", "biases"]
    assert lines[2].split() == ["CONV3-64", "224x224x64", "3,211,264", "1,728", "64"]
    assert lines[20].split() == ["FC-4096", "1x1x4096", "4,096", "102,760,448", "4,096"]
    assert lines[23].split() == ["TOTAL", "15,237,608", "138,344,128", "13,416"]
    assert "total parameters: 138,357,544 (138,344,128 weights + 13,416 biases)" in table
    assert "60,950,432 bytes = 58.1 MB (forward only)" in table
    assert "no parameter sharing" in format_table(summarize(ALEXNET_CONV1, parameter_sharing=False))


def test_summary_is_a_plain_value():
    summary = summarize("INPUT-4x4x1 -> CONV3-2")
    assert isinstance(summary, Summary)
    assert summary.rows[1].layer == Conv(3, 2)
    assert BYTES_PER_MB == 2 ** 20


# ---------------------------------------------------------------------------------------------
# docs/architecture.md shows real output
# ---------------------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def fenced_block_after(marker, text):
    """The ``` block that follows an HTML comment marker in the page."""
    after = text[text.index(marker):]
    return after.split("```\n", 2)[1].rstrip("\n")


def test_doc_tables_are_what_format_table_prints():
    text = DOC.read_text()
    assert fenced_block_after("<!-- vgg-table", text) == format_table(summarize(VGGNET16))
    assert fenced_block_after("<!-- alexnet-table", text) == \
        format_table(summarize(ALEXNET_CONV1, parameter_sharing=False))


def test_doc_error_examples_are_the_real_messages():
    from cs231n_lib import architecture, layer_spec
    namespace = {**vars(layer_spec), **vars(architecture)}
    lines = DOC.read_text().splitlines()
    examples = [(line[4:], lines[i + 1]) for i, line in enumerate(lines) if line.startswith(">>> ")]
    assert len(examples) == 4
    for call, shown in examples:
        with pytest.raises(ValueError) as caught:
            eval(call, namespace)  # the page's own examples, nothing from outside the repo
        assert shown == f"ValueError: {caught.value}", call
