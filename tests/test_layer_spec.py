"""The spec language: each token kind, nested repetition, the errors, and a round trip."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cs231n_lib.layer_spec import FC, BatchNorm, Conv, Input, Pool, Relu, as_layers, parse_spec, render_spec


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------

def test_input_is_height_by_width_by_channels():
    layers = parse_spec("INPUT-224x200x3 -> RELU")
    assert layers[0] == Input(height=224, width=200, channels=3)
    assert layers[0].shape == (224, 200, 3)
    assert layers[0].chw == (3, 224, 200)


def test_conv_defaults_to_stride_one_and_size_preserving_pad():
    assert parse_spec("CONV3-64") == [Conv(size=3, filters=64, stride=1, pad=1, dilation=1)]
    assert parse_spec("CONV5-6")[0].pad == 2
    assert parse_spec("CONV1-16")[0].pad == 0


def test_conv_options_in_any_order():
    assert parse_spec("CONV11-96/s4/p0") == [Conv(11, 96, stride=4, pad=0)]
    assert parse_spec("conv3-8/p2/d2/s1") == [Conv(3, 8, stride=1, pad=2, dilation=2)]
    assert parse_spec("CONV3-8/d2")[0].pad == 2  # effective size 5 needs pad 2 to keep the size
    assert parse_spec("CONV2-8/d2")[0].pad == 1  # effective size 3 is odd: centred pad exists


def test_conv_param_dict_for_the_layers():
    assert Conv(11, 96, stride=4, pad=0).conv_param == {"stride": 4, "pad": 0, "dilation": 1}


def test_pool_kinds_and_strides():
    assert parse_spec("POOL2") == [Pool(kind="max", size=2, stride=2)]
    assert parse_spec("MAXPOOL2") == [Pool("max", 2, 2)]
    assert parse_spec("POOL3/s2") == [Pool("max", 3, 2)]
    assert parse_spec("AVGPOOL2") == [Pool("avg", 2, 2)]
    assert parse_spec("l2pool4/s1") == [Pool("l2", 4, 1)]
    assert Pool("max", 3, 2).pool_param == {"pool_height": 3, "pool_width": 3, "stride": 2}


def test_relu_and_fc():
    assert parse_spec("FC-4096 relu FC-10") == [FC(4096), Relu(), FC(10)]


def test_bare_final_fc_takes_num_classes():
    assert parse_spec("CONV3-8 -> FC", num_classes=10)[-1] == FC(10)
    assert parse_spec("CONV3-8 -> FC-10", num_classes=10)[-1] == FC(10)


def test_separators_and_case_are_free():
    expected = [Input(32, 32, 3), Conv(3, 16), Relu(), Pool("max", 2, 2)]
    assert parse_spec("INPUT-32x32x3 -> CONV3-16 -> RELU -> POOL2") == expected
    assert parse_spec("input-32X32x3,conv3-16,relu,pool2") == expected
    assert parse_spec("  INPUT-32x32x3\n  CONV3-16->RELU ,  POOL2 ") == expected


# ---------------------------------------------------------------------------------------------
# Repetition
# ---------------------------------------------------------------------------------------------

def test_repetition_expands_in_order():
    assert parse_spec("[CONV3-8 -> RELU]*3") == [Conv(3, 8), Relu()] * 3


def test_nested_repetition_is_the_notes_pattern():
    layers = parse_spec("INPUT-32x32x3 -> [[CONV3-32 -> RELU]*2 -> POOL2]*3 -> [FC-100 -> RELU]*1 -> FC",
                        num_classes=10)
    block = [Conv(3, 32), Relu(), Conv(3, 32), Relu(), Pool("max", 2, 2)]
    assert layers == [Input(32, 32, 3), *block * 3, FC(100), Relu(), FC(10)]
    assert len(layers) == 1 + 15 + 3


def test_three_levels_of_nesting_multiply():
    layers = parse_spec("[[[RELU]*2 -> POOL2]*3 -> FC-5]*4")
    assert len(layers) == 4 * (3 * (2 + 1) + 1)
    assert layers.count(Relu()) == 24


# ---------------------------------------------------------------------------------------------
# Errors say which token, where, what was expected and what came
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ("INPUT-224x224x3 -> CONV3-64 -> RELU -> CONV3- -> POOL2",
     r'"CONV3-" at token 4: expected CONVF-K like CONV3-64.*\(character 40 of the spec\)'),
    ("CONV2-8", r'"CONV2-8" at token 1: expected .*even effective filter size 2.*CONV2-8/p0'),
    ("CONV3-8/s2/s3", r'"CONV3-8/s2/s3" at token 1: .*/s is given twice'),
    ("CONV3-8/x2", r"/x2 is not an option here"),
    ("POOL2/p1", r'"POOL2/p1" at token 1: expected POOLF.*/p1 is not an option here'),
    ("CONV3-0", r'"CONV3-0" at token 1: expected valid hyperparameters: Conv.filters must be an integer >= 1, got 0'),
    ("INPUT-32x32 -> RELU", r'"INPUT-32x32" at token 1: expected INPUT-HxWxC like INPUT-224x224x3'),
    ("RELU -> INPUT-3x3x3", r'"INPUT-3x3x3" at token 2: expected INPUT only as the first token'),
    ("FC-", r'"FC-" at token 1: expected FC-N like FC-4096'),
    ("CONV3-8 -> SOFTMAX", r'"SOFTMAX" at token 2: expected a layer: INPUT-HxWxC, CONVF-K'),
    ("CONV3-8 -> FC", r'"FC" at token 2: expected FC-N, or parse_spec\(..., num_classes=N\)'),
    ("FC -> RELU", r'"FC" at token 1: expected FC-N like FC-4096; a bare FC .* only as the last token'),
    ("[FC]*2", r"only as the last token, outside brackets"),
    ("CONV3-8 -> FC-5", r"spec ends with FC-5 but num_classes=10"),
    ("CONV3-8 > RELU", r'">" at character 9: expected a layer, "->"'),
    ("", r"empty spec"),
    ("INPUT-3x3x3", r"no layers after INPUT"),
])
def test_parse_errors_name_the_token_and_what_was_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec, num_classes=10 if "FC-5" in spec else None)


@pytest.mark.parametrize("spec, message", [
    ("[CONV3-8 -> RELU]*0", r'"\*0" at token 5: expected a repeat count N >= 1 like \*2'),
    ("[CONV3-8]*", r'"\*" at token 4: expected a repeat count N >= 1'),
    ("[CONV3-8]*x", r'"\*x" at token 4: expected a repeat count'),
    ("[CONV3-8 -> RELU", r'"\[" at token 1: expected a matching "\]": 1 bracket\(s\) still open'),
    ("[[CONV3-8]*2 -> RELU", r'"\[" at token 1: expected a matching "\]"'),
    ("CONV3-8] -> RELU", r'"\]" at token 2: expected a layer or "\[": this "\]" closes no open "\["'),
    ("[CONV3-8] -> RELU", r'"\]" at token 3: expected "\*N" right after "\]".*got \'RELU\''),
    ("[CONV3-8]", r"got 'the end'"),
    ("[]*2", r'"\]" at token 2: expected at least one layer between "\[" and "\]"'),
    ("CONV3-8*2", r'"\*2" at token 2: expected a layer or "\[": "\*N" repeats a bracketed group'),
])
def test_bracket_and_repeat_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_wrong_argument_types_are_type_errors():
    with pytest.raises(TypeError, match="spec must be a str"):
        parse_spec(["CONV3-8"])
    with pytest.raises(TypeError, match="num_classes must be an integer >= 1, got float 10.0"):
        parse_spec("FC", num_classes=10.0)
    with pytest.raises(TypeError, match=r"Conv.filters must be an integer >= 1, got bool True"):
        Conv(3, True)


def test_dataclasses_check_their_fields():
    with pytest.raises(ValueError, match="even effective filter size 4"):
        Conv(4, 8)
    assert Conv(4, 8, pad=0).pad == 0
    with pytest.raises(ValueError, match=r"Pool.kind must be one of \('max', 'avg', 'l2'\), got 'min'"):
        Pool("min", 2)
    with pytest.raises(ValueError, match="Input.channels must be an integer >= 1, got 0"):
        Input(32, 32, 0)
    with pytest.raises(Exception):  # frozen: a parsed spec cannot be edited behind a model's back
        Conv(3, 8).filters = 16


def test_as_layers_accepts_a_string_or_a_list():
    assert as_layers("CONV3-8 -> RELU") == [Conv(3, 8), Relu()]
    assert as_layers((Conv(3, 8), Relu())) == [Conv(3, 8), Relu()]
    with pytest.raises(TypeError, match=r"layers\[1\] must be Input, Conv, Pool, Relu, BatchNorm or FC, got str"):
        as_layers([Conv(3, 8), "RELU"])
    with pytest.raises(ValueError, match=r"layers\[1\] is Input.*may only come first"):
        as_layers([Relu(), Input(8, 8, 3)])


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

def test_render_uses_the_notes_names_and_only_non_default_options():
    text = "INPUT-227x227x3 -> CONV11-96/s4/p0 -> RELU -> POOL3/s2 -> CONV5-256 -> L2POOL2 -> FC-10"
    assert render_spec(parse_spec(text)) == text
    assert Conv(3, 8, pad=0, dilation=2).name == "CONV3-8/p0/d2"
    assert Pool("avg", 3, 1).name == "AVGPOOL3/s1"


positive = st.integers(min_value=1, max_value=12)


@st.composite
def conv_layers(draw):
    size, dilation = draw(positive), draw(st.integers(1, 3))
    explicit_pad = draw(st.one_of(st.none(), st.integers(0, 6)))
    if explicit_pad is None and ((size - 1) * dilation) % 2 == 1:
        explicit_pad = 0  # an even effective size has no default pad
    return Conv(size, draw(st.integers(1, 512)), draw(positive), explicit_pad, dilation)


layer_strategy = st.one_of(
    conv_layers(),
    st.builds(Pool, st.sampled_from(["max", "avg", "l2"]), positive, st.one_of(st.none(), positive)),
    st.just(Relu()),
    st.builds(FC, st.integers(1, 5000)),
)


@given(st.one_of(st.none(), st.builds(Input, positive, positive, positive)),
       st.lists(layer_strategy, min_size=1, max_size=8))
def test_parse_inverts_render(input_layer, body):
    layers = ([input_layer] if input_layer else []) + body
    assert parse_spec(render_spec(layers)) == layers


@given(st.lists(layer_strategy, min_size=1, max_size=4), st.integers(1, 4), st.integers(1, 3))
def test_nested_groups_expand_to_the_product(group, inner, outer):
    text = f"[[{render_spec(group)}]*{inner} -> RELU]*{outer}"
    assert parse_spec(text) == (group * inner + [Relu()]) * outer


# ---------------------------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------------------------

def test_bn_after_a_conv_or_an_fc():
    layers = parse_spec("INPUT-32x32x3 -> [CONV3-64 -> BN -> RELU]*2 -> POOL2 -> FC-256 -> bn -> RELU -> FC",
                        num_classes=10)
    assert layers[1:4] == [Conv(3, 64), BatchNorm(), Relu()]
    assert layers[-4:] == [FC(256), BatchNorm(), Relu(), FC(10)]
    assert render_spec(layers) == ("INPUT-32x32x3 -> CONV3-64 -> BN -> RELU -> CONV3-64 -> BN -> RELU -> POOL2 "
                                   "-> FC-256 -> BN -> RELU -> FC-10")


@pytest.mark.parametrize("spec, message", [
    ("BN -> CONV3-8", r"layer 1 \(BN\) follows the start of the spec: expected BN right after a CONV or FC"),
    ("INPUT-8x8x3 -> BN -> CONV3-8", r"layer 2 \(BN\) follows the start of the spec"),
    ("CONV3-8 -> BN -> BN", r"layer 3 \(BN\) follows BN: expected BN right after a CONV or FC layer"),
    ("CONV3-8 -> POOL2 -> BN", r"layer 3 \(BN\) follows POOL2: expected"),
    ("CONV3-8 -> RELU -> BN", r"layer 3 \(BN\) follows RELU: expected"),
    ("[CONV3-8 -> RELU -> BN]*2", r"layer 3 \(BN\) follows RELU"),
    ("CONV3-8 -> BN2", r'"BN2" at token 2: expected a layer: .*RELU, BN, FC-N'),
])
def test_bn_placement_errors_say_what_was_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_bn_placement_is_checked_on_layer_lists_too():
    assert as_layers([Conv(3, 4), BatchNorm()]) == [Conv(3, 4), BatchNorm()]
    with pytest.raises(ValueError, match=r"layer 2 \(BN\) follows POOL2"):
        as_layers([Pool(), BatchNorm()])


@st.composite
def layers_with_batchnorm(draw):
    """Layers where every BN follows a CONV or FC, as the spec requires."""
    layers = []
    for layer in draw(st.lists(layer_strategy, min_size=1, max_size=6)):
        layers.append(layer)
        if isinstance(layer, (Conv, FC)) and draw(st.booleans()):
            layers.append(BatchNorm())
    return layers


@given(layers_with_batchnorm())
def test_parse_inverts_render_with_bn(layers):
    assert parse_spec(render_spec(layers)) == layers
