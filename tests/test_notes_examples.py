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
