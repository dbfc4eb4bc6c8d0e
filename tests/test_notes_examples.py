"""The CS231n ConvNet notes' worked examples, through the library's layers."""

import pytest

from cs231n_lib import fast_layers, layers
from cs231n_lib.backend import np


def test_numpy_example_V_from_X_and_W0():
    """The notes: X of shape (11, 11, 4), 5x5 filters, stride 2, no padding -> a 4x4 output,
    with V[0,0,0] = np.sum(X[:5,:5,:] * W0) + b0 and V[1,0,0] = np.sum(X[2:7,:5,:] * W0) + b0."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((11, 11, 4))  # the notes index (x, y, depth)
    W0, W1 = rng.standard_normal((5, 5, 4)), rng.standard_normal((5, 5, 4))
    b0, b1 = 0.5, -1.0
    # The library's layout: x (N, C, H, W) with H along the notes' first axis.
    x = X.transpose(2, 0, 1)[None]
    w = np.stack([W0, W1]).transpose(0, 3, 1, 2)
    V, _ = layers.conv_forward_naive(x, w, np.array([b0, b1]), {"stride": 2, "pad": 0})
    assert V.shape == (1, 2, 4, 4)
    assert np.isclose(V[0, 0, 0, 0], np.sum(X[:5, :5, :] * W0) + b0)
    assert np.isclose(V[0, 0, 1, 0], np.sum(X[2:7, :5, :] * W0) + b0)
    assert np.isclose(V[0, 0, 3, 0], np.sum(X[6:11, :5, :] * W0) + b0)
    assert np.isclose(V[0, 1, 0, 0], np.sum(X[:5, :5, :] * W1) + b1)
    assert np.isclose(V[0, 1, 2, 3], np.sum(X[4:9, 6:11, :] * W1) + b1)


@pytest.mark.parametrize("H, F, P, S, expected", [
    (7, 3, 0, 1, 5),     # 7x7 input, 3x3 filter, stride 1 -> 5x5
    (7, 3, 0, 2, 3),     # stride 2 -> 3x3
    (5, 3, 1, 2, 3),     # the animated demo: 5x5x3 input, pad 1, stride 2 -> 3x3
    (32, 5, 2, 1, 32),   # "zero padding preserves size": F=5, P=2
    (227, 11, 0, 4, 55),  # AlexNet's first layer
])
@pytest.mark.parametrize("forward", [layers.conv_forward_naive, fast_layers.conv_forward_fast])
def test_output_sizes(forward, H, F, P, S, expected):
    x, w = np.zeros((1, 1, H, H)), np.zeros((1, 1, F, F))
    out, _ = forward(x, w, np.zeros(1), {"stride": S, "pad": P})
    assert out.shape == (1, 1, expected, expected)


def test_stride_three_on_seven_is_invalid():
    with pytest.raises(ValueError, match=r"W=7, F=3, P=0, S=3"):
        layers.conv_forward_naive(np.zeros((1, 1, 7, 7)), np.zeros((1, 1, 3, 3)), np.zeros(1),
                                  {"stride": 3, "pad": 0})


def test_dilation_follows_the_notes_with_our_offset():
    """The notes' "dilation 1" filter w[0]*x[0] + w[1]*x[2] + w[2]*x[4] is our dilation=2."""
    x = np.arange(1.0, 8.0).reshape(1, 1, 1, 7)
    w = np.array([10.0, 100.0, 1000.0]).reshape(1, 1, 1, 3)
    out, _ = layers.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 0, "dilation": 2})
    assert out[0, 0, 0, 0] == 10 * x[0, 0, 0, 0] + 100 * x[0, 0, 0, 2] + 1000 * x[0, 0, 0, 4]
    contiguous, _ = layers.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 0, "dilation": 1})
    assert contiguous[0, 0, 0, 0] == 10 * 1 + 100 * 2 + 1000 * 3


def test_1x1_convolution_is_a_dot_product_through_depth():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((6, 5, 1, 1)), rng.standard_normal(6)
    out, _ = fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 0})
    expected = np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0]) + b[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_overlapping_pooling_3x3_stride_2():
    """AlexNet's overlapping pooling: F=3, S=2 on 55 -> 27, windows sharing a border."""
    x = np.random.default_rng(2).standard_normal((1, 2, 55, 55))
    out, _ = fast_layers.max_pool_forward_fast(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    assert out.shape == (1, 2, 27, 27)
    assert out[0, 1, 5, 7] == x[0, 1, 10:13, 14:17].max()


def test_2x2_max_pool_discards_75_percent_of_activations():
    x = np.random.default_rng(3).standard_normal((1, 1, 224, 224))
    out, _ = fast_layers.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.shape == (1, 1, 112, 112) and out.size == x.size // 4


# ----------------------------------------------------------------------------- more of the notes' numbers
# Each test below is named in docs/notes-checklist.md as the library's coverage of one item.

from cs231n_lib.architecture import VGGNET16, conv_output_size, summarize  # noqa: E402
from cs231n_lib.classifiers import ConvNet  # noqa: E402
from cs231n_lib.im2col import im2col  # noqa: E402

VGG_CONV_PART = VGGNET16.split(" -> FC")[0].split("-> ", 1)[1]  # the 13 CONV3 and 5 POOL2 layers


def test_full_connectivity_does_not_scale_but_local_connectivity_does():
    """A fully connected neuron: 32*32*3 = 3072 weights, 200*200*3 = 120,000. A conv neuron with a
    5x5 receptive field on 32x32x3: 5*5*3 = 75 weights + 1 bias; 3x3 on 16x16x20: 3*3*20 = 180."""
    assert summarize("INPUT-32x32x3 -> FC-1").rows[-1].weights == 3072
    assert summarize("INPUT-200x200x3 -> FC-1").rows[-1].weights == 120_000
    conv = summarize("INPUT-32x32x3 -> CONV5-1").rows[-1]
    assert (conv.weights, conv.biases) == (75, 1)
    assert summarize("INPUT-16x16x20 -> CONV3-1").rows[-1].weights == 180


def test_example_architecture_volumes():
    """INPUT [32x32x3] -> CONV (12 filters) [32x32x12] -> RELU [32x32x12] -> POOL [16x16x12] -> FC [1x1x10]."""
    rows = summarize("INPUT-32x32x3 -> CONV5-12 -> RELU -> POOL2 -> FC-10").rows
    assert [row.output_shape for row in rows] == [(32, 32, 3), (32, 32, 12), (32, 32, 12), (16, 16, 12), (1, 1, 10)]
    assert [row.parameters > 0 for row in rows] == [False, True, False, False, True]


def test_one_dimensional_stride_figure():
    """The notes' 1-D figure: W=5, F=3, P=1, weights [1, 0, -1], bias 0: stride 1 gives 5 outputs,
    stride 2 gives 3, stride 3 does not fit ((5 - 3 + 2)/3 + 1 is not an integer)."""
    signal = np.array([0.0, 2.0, -1.0, 3.0, 1.0])
    x = np.zeros((1, 1, 3, 5))
    x[0, 0, 1] = signal  # the 1-D input as the middle row; the layers pad both axes
    w = np.array([1.0, 0.0, -1.0]).reshape(1, 1, 1, 3)
    signal_pad = np.pad(signal, 1)
    by_hand = signal_pad[:-2] - signal_pad[2:]  # out[i] = 1 * x_pad[i] + 0 * x_pad[i + 1] - 1 * x_pad[i + 2]
    out, _ = layers.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 1})
    np.testing.assert_allclose(out[0, 0, 2], by_hand)  # padded row 2 is the signal
    out, _ = layers.conv_forward_naive(x, w, np.zeros(1), {"stride": 2, "pad": 1})
    np.testing.assert_allclose(out[0, 0, 1], by_hand[::2])
    assert conv_output_size(5, 3, 1, 1) == 5 and conv_output_size(5, 3, 1, 2) == 3
    with pytest.raises(ValueError, match=r"W=5, F=3, P=1, S=3"):
        conv_output_size(5, 3, 1, 3)


def test_alexnet_first_layer_fits_227_not_224():
    """(227 - 11)/4 + 1 = 55; the paper's 224 gives 54.25, which does not fit."""
    assert conv_output_size(227, 11, 0, 4) == 55
    with pytest.raises(ValueError, match=r"W=224, F=11, P=0, S=4 gives 54\.25"):
        conv_output_size(224, 11, 0, 4)


@pytest.mark.parametrize("forward", [layers.conv_forward_naive, fast_layers.conv_forward_fast])
def test_conv_demo_volume(forward):
    """The notes' demo: a 5x5x3 input, K=2 filters of 3x3x3, S=2, P=1 -> a 3x3x2 output; one value by hand."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, size=(1, 3, 5, 5)).astype(float)
    w = rng.integers(-1, 2, size=(2, 3, 3, 3)).astype(float)
    b = np.array([1.0, 0.0])
    out, _ = forward(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (1, 2, 3, 3)
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert out[0, 1, 2, 1] == np.sum(x_pad[0, :, 4:7, 2:5] * w[1]) + b[1]


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_backward_pass_is_a_convolution_with_flipped_filters(pad):
    """The notes: the backward pass of a convolution, for the data and the weights, is a convolution
    with spatially flipped filters (stride 1 here)."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": pad})
    dout = rng.standard_normal(out.shape)
    dx, dw, _ = layers.conv_backward_naive(dout, cache)
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, HH, WW)
    dx_by_conv, _ = layers.conv_forward_naive(dout, flipped, np.zeros(3), {"stride": 1, "pad": 2 - pad})
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dw_by_conv, _ = layers.conv_forward_naive(x_pad.transpose(1, 0, 2, 3), dout.transpose(1, 0, 2, 3),
                                              np.zeros(4), {"stride": 1, "pad": 0})
    np.testing.assert_allclose(dx_by_conv, dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dw_by_conv.transpose(1, 0, 2, 3), dw, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("window, stride", [(2, 2), (3, 2)])
def test_im2col_reused_for_pooling(window, stride):
    """The notes: the im2col idea also computes pooling (channels folded into the batch)."""
    x = np.random.default_rng(6).standard_normal((2, 3, 9, 9))
    if window == 2:
        x = x[:, :, :8, :8]
    N, C, H, W = x.shape
    cols = im2col(x.reshape(N * C, 1, H, W), window, window, stride, 0)  # (N*C, window^2, H'*W')
    H_out = (H - window) // stride + 1
    pool_param = {"pool_height": window, "pool_width": window, "stride": stride}
    np.testing.assert_array_equal(cols.max(axis=1).reshape(N, C, H_out, H_out),
                                  fast_layers.max_pool_forward_fast(x, pool_param)[0])
    np.testing.assert_allclose(cols.mean(axis=1).reshape(N, C, H_out, H_out),
                               fast_layers.avg_pool_forward_fast(x, pool_param)[0], rtol=1e-12)


def test_fc_to_conv_on_384_gives_a_6x6_grid():
    """The notes: five 2x2 pools reduce 224 to 7 (7x7x512); the FC layers as CONV7-4096, CONV1-4096,
    CONV1-1000 give 1x1x1000; on a 384x384 image, 12x12x512 and then a 6x6x1000 grid of scores."""
    converted_top = "CONV7-4096/p0 -> CONV1-4096 -> CONV1-1000"
    at_224 = summarize(f"INPUT-224x224x3 -> {VGG_CONV_PART} -> {converted_top}").rows
    assert at_224[-4].output_shape == (7, 7, 512) and at_224[-1].output_shape == (1, 1, 1000)
    assert at_224[-3].weights == 7 * 7 * 512 * 4096  # the FC layer's 102,760,448 weights, as filters
    at_384 = summarize(f"INPUT-384x384x3 -> {VGG_CONV_PART} -> {converted_top}").rows
    assert at_384[-4].output_shape == (12, 12, 512)
    assert [row.output_shape for row in at_384[-3:]] == [(6, 6, 4096), (6, 6, 4096), (6, 6, 1000)]
    assert (384 - 224) // 32 + 1 == 6  # crops every 32 pixels
    # Shifted by 16 pixels, the image holds whole crops over 352 = 224 + 4 * 32 pixels: a 5x5 grid.
    shifted = summarize(f"INPUT-352x352x3 -> {VGG_CONV_PART} -> {converted_top}").rows
    assert shifted[-1].output_shape == (5, 5, 1000)
    grids = {(0, 0): 6 * 6, (16, 16): 5 * 5, (0, 16): 6 * 5, (16, 0): 5 * 6}  # crops of each pass
    assert grids[(0, 0)] + grids[(16, 16)] == 61 and sum(grids.values()) == ((384 - 224) // 16 + 1) ** 2 == 121


def test_three_224x224x64_volumes_take_about_10M_activations():
    """The notes' memory compromise: three 3x3 CONV layers of 64 filters, pad 1, on 224x224x3: three
    224x224x64 volumes, about 10M activations; with their gradients at 4 bytes, 73.5 MB (the notes: 72MB)."""
    rows = summarize("INPUT-224x224x3 -> [CONV3-64]*3").rows
    activations = sum(row.activations for row in rows[1:])
    assert activations == 9_633_792
    assert 2 * activations * 4 / 2**20 == pytest.approx(73.5)


def test_stack_of_three_3x3_convs_against_one_7x7():
    """Three 3x3 CONV layers: 27 C^2 weights; one 7x7: 49 C^2 (C = 64 here)."""
    C = 64
    assert summarize(f"INPUT-56x56x{C} -> [CONV3-{C}]*3").total_weights == 27 * C * C == 110_592
    assert summarize(f"INPUT-56x56x{C} -> CONV7-{C}").total_weights == 49 * C * C == 200_704


@pytest.mark.parametrize("spec", [
    "FC",                                                   # a linear classifier: N = M = K = 0
    "CONV3-8 -> RELU -> FC",
    "[CONV3-8 -> RELU -> POOL2]*2 -> FC-16 -> RELU -> FC",
    "[CONV3-8 -> RELU -> CONV3-8 -> RELU -> POOL2]*3 -> [FC-16 -> RELU]*2 -> FC",
])
def test_layer_pattern_examples_build_and_score(spec):
    """The notes' four instances of INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC."""
    net = ConvNet(spec, input_dim=(3, 32, 32), num_classes=10, dtype=np.float64, seed=0)
    assert net.loss(np.zeros((2, 3, 32, 32))).shape == (2, 10)
