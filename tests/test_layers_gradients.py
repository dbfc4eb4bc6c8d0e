"""Every backward pass against numerical gradients of its forward pass (float64, CPU)."""

import pytest

from cs231n_lib import fast_layers, layer_utils, layers
from cs231n_lib.backend import np
from cs231n_lib.gradient_check import check_gradient, eval_numerical_gradient

TOL = 1e-6  # centered differences in float64 reach ~1e-8; a wrong backward lands far above this

CONV_PARAMS = [{"stride": 1, "pad": 1}, {"stride": 2, "pad": 0}, {"stride": 1, "pad": 2, "dilation": 2}]
POOL_PARAMS = [{"pool_height": 2, "pool_width": 2, "stride": 2},
               {"pool_height": 3, "pool_width": 3, "stride": 2},  # the notes' overlapping pooling
               {"pool_height": 1, "pool_width": 2, "stride": 1}]
POOL_INPUT_HW = {2: (8, 6), 3: (7, 9), 1: (3, 5)}  # valid geometry for each pool_height above


def test_affine(rng):
    inputs = {"x": rng.standard_normal((3, 2, 4)), "w": rng.standard_normal((8, 5)),
              "b": rng.standard_normal(5)}
    check_gradient(layers.affine_forward, layers.affine_backward, inputs, tol=TOL)


def test_relu(rng):
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep probes away from the kink at 0
    check_gradient(layers.relu_forward, layers.relu_backward, {"x": x}, tol=TOL)


@pytest.mark.parametrize("conv_param", CONV_PARAMS)
@pytest.mark.parametrize("pair", [(layers.conv_forward_naive, layers.conv_backward_naive),
                                  (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast)],
                         ids=["naive", "fast"])
def test_conv(rng, pair, conv_param):
    inputs = {"x": rng.standard_normal((2, 3, 7, 7)), "w": rng.standard_normal((4, 3, 3, 3)),
              "b": rng.standard_normal(4), "conv_param": conv_param}
    check_gradient(*pair, inputs, tol=TOL)


POOL_PAIRS = {
    "max_naive": (layers.max_pool_forward_naive, layers.max_pool_backward_naive),
    "max_fast": (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
    "avg_naive": (layers.avg_pool_forward_naive, layers.avg_pool_backward_naive),
    "avg_fast": (fast_layers.avg_pool_forward_fast, fast_layers.avg_pool_backward_fast),
    "l2_naive": (layers.l2_pool_forward_naive, layers.l2_pool_backward_naive),
}


@pytest.mark.parametrize("pool_param", POOL_PARAMS)
@pytest.mark.parametrize("name", POOL_PAIRS)
def test_pooling(rng, name, pool_param):
    H, W = POOL_INPUT_HW[pool_param["pool_height"]]
    # Distinct values, so no max is tied and a small probe cannot change the argmax.
    x = rng.permutation(2 * 2 * H * W).reshape(2, 2, H, W) / 10.0 + 0.5
    check_gradient(*POOL_PAIRS[name], {"x": x, "pool_param": pool_param}, tol=TOL)


def test_batchnorm_train_and_test_modes(rng):
    inputs = {"x": 3 * rng.standard_normal((6, 4)) + 2, "gamma": rng.standard_normal(4),
              "beta": rng.standard_normal(4)}
    for mode in ("train", "test"):
        bn_param = {"mode": mode, "running_mean": rng.standard_normal(4), "running_var": rng.random(4) + 0.5}

        def forward(x, gamma, beta, bn_param=bn_param):
            return layers.batchnorm_forward(x, gamma, beta, dict(bn_param))
        check_gradient(forward, layers.batchnorm_backward, inputs, tol=TOL)


def test_spatial_batchnorm(rng):
    inputs = {"x": rng.standard_normal((2, 3, 4, 5)) + 1, "gamma": rng.standard_normal(3),
              "beta": rng.standard_normal(3)}

    def forward(x, gamma, beta):
        return layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    check_gradient(forward, layers.spatial_batchnorm_backward, inputs, tol=TOL)


@pytest.mark.parametrize("loss", [layers.softmax_loss, layers.svm_loss])
def test_losses(rng, loss):
    x = rng.standard_normal((6, 5))
    y = rng.integers(5, size=6)
    _, dx = loss(x, y)
    numeric = np.zeros_like(x)
    h = 1e-5
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = loss(x, y)[0]
        x[ix] = old - h
        minus = loss(x, y)[0]
        x[ix] = old
        numeric[ix] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("smoothing", [0.1, 0.6])
def test_softmax_loss_with_label_smoothing(rng, smoothing):
    x, y = rng.standard_normal((6, 5)), rng.integers(5, size=6)
    loss, dx = layers.softmax_loss(x, y, smoothing=smoothing)
    # By hand: the cross-entropy against the target (1 - s) one_hot(y) + s / C.
    log_probs = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    target = np.full((6, 5), smoothing / 5)
    target[np.arange(6), y] += 1 - smoothing
    assert loss == pytest.approx(-(target * log_probs).sum() / 6, rel=1e-12)
    numeric = eval_numerical_gradient(lambda scores: layers.softmax_loss(scores, y, smoothing=smoothing)[0],
                                      x, verbose=False)
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match=r"0 <= smoothing < 1, got 1"):
        layers.softmax_loss(x, y, smoothing=1)

SANDWICHES = {
    "affine_relu": (layer_utils.affine_relu_forward, layer_utils.affine_relu_backward,
                    lambda r: {"x": r.standard_normal((2, 3, 4)), "w": r.standard_normal((12, 5)),
                               "b": r.standard_normal(5)}),
    "conv_relu": (layer_utils.conv_relu_forward, layer_utils.conv_relu_backward,
                  lambda r: {"x": r.standard_normal((2, 3, 6, 6)), "w": r.standard_normal((3, 3, 3, 3)),
                             "b": r.standard_normal(3), "conv_param": {"stride": 1, "pad": 1}}),
    "conv_relu_pool": (layer_utils.conv_relu_pool_forward, layer_utils.conv_relu_pool_backward,
                       lambda r: {"x": r.standard_normal((2, 3, 8, 8)),
                                  "w": r.standard_normal((3, 3, 3, 3)), "b": r.standard_normal(3),
                                  "conv_param": {"stride": 1, "pad": 1},
                                  "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}),
    "conv_bn_relu": (layer_utils.conv_bn_relu_forward, layer_utils.conv_bn_relu_backward,
                     lambda r: {"x": r.standard_normal((2, 3, 5, 5)),
                                "w": r.standard_normal((3, 3, 3, 3)), "b": r.standard_normal(3),
                                "gamma": r.standard_normal(3), "beta": r.standard_normal(3),
                                "conv_param": {"stride": 1, "pad": 1}, "bn_param": {"mode": "train"}}),
}


@pytest.mark.parametrize("name", SANDWICHES)
def test_sandwich_layers(rng, name):
    forward, backward, make_inputs = SANDWICHES[name]
    inputs = make_inputs(rng)
    if "bn_param" in inputs:
        bn_param = inputs.pop("bn_param")
        inner = forward

        def forward(*args):
            return inner(*args, dict(bn_param))
    check_gradient(forward, backward, inputs, tol=1e-5)


def test_nested_caches_are_plain_tuples(rng):
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 3)), np.zeros(2)
    _, cache = layer_utils.conv_relu_pool_forward(
        x, w, b, {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert isinstance(cache, tuple) and len(cache) == 3
    assert all(isinstance(inner, tuple) or hasattr(inner, "shape") for inner in cache)
