"""ThreeLayerConvNet: CS231n's sanity checks on the model itself."""

import math

import pytest

from cs231n_lib.backend import np
from cs231n_lib.classifiers import ThreeLayerConvNet


def test_param_shapes_and_dtype():
    model = ThreeLayerConvNet(input_dim=(3, 16, 12), num_filters=5, filter_size=3, hidden_dim=7,
                              num_classes=4)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (5, 3, 3, 3), "b1": (5,), "W2": (5 * 8 * 6, 7), "b2": (7,),
                      "W3": (7, 4), "b3": (4,)}
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_initial_loss_is_about_log_num_classes(rng):
    np.random.seed(0)
    model = ThreeLayerConvNet()  # CS231n's defaults: 3x32x32, 32 7x7 filters, weight_scale 1e-3
    X = rng.standard_normal((20, 3, 32, 32))
    y = rng.integers(10, size=20)
    loss, _ = model.loss(X, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(math.log(10), abs=0.01)
    model.reg = 0.5
    assert model.loss(X, y)[0] > loss  # the L2 term adds to it


def test_gradients_match_numerical_ones(rng):
    np.random.seed(1)
    model = ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5,
                              num_classes=4, weight_scale=1e-1, reg=0.3, dtype=np.float64)
    X = rng.standard_normal((3, 2, 6, 6))
    y = rng.integers(4, size=3)
    _, grads = model.loss(X, y)
    h = 1e-6
    for name, param in model.params.items():
        numeric = np.zeros_like(param)
        for ix in np.ndindex(*param.shape):
            old = param[ix]
            param[ix] = old + h
            plus = model.loss(X, y)[0]
            param[ix] = old - h
            minus = model.loss(X, y)[0]
            param[ix] = old
            numeric[ix] = (plus - minus) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-4, atol=1e-7, err_msg=name)


def test_reg_uses_the_factor_one_half(rng):
    model = ThreeLayerConvNet(input_dim=(1, 4, 4), num_filters=2, filter_size=3, hidden_dim=3,
                              num_classes=2, dtype=np.float64)
    X, y = rng.standard_normal((2, 1, 4, 4)), np.array([0, 1])
    base = model.loss(X, y)[0]
    model.reg = 2.0
    squares = sum(float((model.params[k] ** 2).sum()) for k in ("W1", "W2", "W3"))
    assert model.loss(X, y)[0] == pytest.approx(base + 0.5 * 2.0 * squares, rel=1e-9)


def test_bad_construction_and_input():
    with pytest.raises(ValueError, match="filter_size must be odd"):
        ThreeLayerConvNet(filter_size=4)
    with pytest.raises(ValueError, match=r"W=7, F=2, P=0, S=2"):
        ThreeLayerConvNet(input_dim=(3, 7, 7))
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=3)
    with pytest.raises(ValueError, match=r"X must have shape \(2, 3, 8, 8\)"):
        model.loss(np.zeros((2, 3, 16, 16)))
