"""Bad input gets a clear error saying what was expected and what came."""

import pytest

from cs231n_lib import fast_layers, layers
from cs231n_lib.backend import np


def conv_inputs(rng, N=2, C=3, H=7, W=7, F=4, HH=3, WW=3):
    return (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)),
            rng.standard_normal(F))


CONV_FORWARDS = [layers.conv_forward_naive, fast_layers.conv_forward_fast]


@pytest.mark.parametrize("forward", CONV_FORWARDS)
def test_invalid_geometry_names_W_F_P_S_and_the_result(rng, forward):
    x, w, b = conv_inputs(rng, H=10, W=10)
    # The notes: W=10, F=3, P=0, S=2 gives 4.5, not an integer.
    with pytest.raises(ValueError, match=r"W=10, F=3, P=0, S=2.*4\.5"):
        forward(x, w, b, {"stride": 2, "pad": 0})


@pytest.mark.parametrize("forward", CONV_FORWARDS)
def test_filter_larger_than_padded_input(rng, forward):
    x, w, b = conv_inputs(rng, H=2, W=2, HH=5, WW=5)
    with pytest.raises(ValueError, match=r"W=2, F=5, P=0, S=1"):
        forward(x, w, b, {"stride": 1, "pad": 0})


@pytest.mark.parametrize("forward", CONV_FORWARDS)
@pytest.mark.parametrize("conv_param, message", [
    ({"stride": 1}, r"missing required keys \['pad'\]"),
    ({"stride": 0, "pad": 0}, r"stride'\] must be an integer >= 1, got 0"),
    ({"stride": 1, "pad": -1}, r"pad'\] must be an integer >= 0, got -1"),
    ({"stride": 1.5, "pad": 0}, r"stride'\] must be an integer >= 1, got float 1.5"),
    ({"stride": 1, "pad": 0, "dilation": 0}, r"dilation'\] must be an integer >= 1, got 0"),
    ({"stride": 1, "pad": 0, "padding": 1}, r"unknown keys \['padding'\]"),
    ([1, 0], r"conv_param must be a dict"),
])
def test_bad_conv_param(rng, forward, conv_param, message):
    x, w, b = conv_inputs(rng)
    with pytest.raises((ValueError, TypeError), match=message):
        forward(x, w, b, conv_param)


@pytest.mark.parametrize("forward", CONV_FORWARDS)
def test_conv_shape_mismatches(rng, forward):
    x, w, b = conv_inputs(rng)
    with pytest.raises(ValueError, match=r"x must have 4 dimensions of shape \(N, C, H, W\), got shape \(3, 7, 7\)"):
        forward(x[0], w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="w has 2 input channels but x has 3"):
        forward(x, w[:, :2], b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"b must have shape \(4,\) \(F,\), got \(3,\)"):
        forward(x, w, b[:3], {"stride": 1, "pad": 1})


def test_integer_input_is_a_type_error(rng):
    x, w, b = conv_inputs(rng)
    with pytest.raises(TypeError, match="x must have a floating dtype.*got int64"):
        layers.conv_forward_naive(x.astype(np.int64), w, b, {"stride": 1, "pad": 1})
    with pytest.raises(TypeError, match="x must be a NumPy or CuPy array.*got list"):
        layers.relu_forward([1.0, -1.0])


def test_affine_shape_mismatch(rng):
    with pytest.raises(ValueError, match=r"x must flatten to \(N, D\) = \(2, 12\).*got x of shape \(2, 3, 5\)"):
        layers.affine_forward(rng.standard_normal((2, 3, 5)), rng.standard_normal((12, 4)),
                              rng.standard_normal(4))


@pytest.mark.parametrize("forward", [layers.max_pool_forward_naive, fast_layers.max_pool_forward_fast,
                                     layers.avg_pool_forward_naive, fast_layers.avg_pool_forward_fast])
def test_bad_pool_geometry_and_params(rng, forward):
    x = rng.standard_normal((1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"W=5, F=2, P=0, S=2 gives 2\.5"):
        forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"missing required keys \['stride'\]"):
        forward(x, {"pool_height": 2, "pool_width": 2})


def test_backward_rejects_dout_of_the_wrong_shape(rng):
    x, w, b = conv_inputs(rng)
    out, cache = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 7, 7\)"):
        layers.conv_backward_naive(out[:, :3], cache)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 7, 7\)"):
        fast_layers.conv_backward_fast(out[:, :3], fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[1])


@pytest.mark.parametrize("loss", [layers.softmax_loss, layers.svm_loss])
def test_bad_labels(rng, loss):
    scores = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values from 0 to 3"):
        loss(scores, np.array([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="y must hold integer class labels, got dtype float64"):
        loss(scores, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        loss(scores, np.array([0, 1]))


def test_batchnorm_mode_is_checked(rng):
    with pytest.raises(ValueError, match="mode'\\] must be 'train' or 'test', got 'eval'"):
        layers.batchnorm_forward(rng.standard_normal((3, 2)), np.ones(2), np.zeros(2), {"mode": "eval"})
