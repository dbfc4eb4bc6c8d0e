"""Update rules: the first steps follow from their definitions, state lives in config."""

import pytest

from cs231n_lib import optim
from cs231n_lib.backend import np, to_device, to_numpy


@pytest.fixture
def w_dw(rng):
    return rng.standard_normal((4, 5)), rng.standard_normal((4, 5))


def test_sgd_is_w_minus_lr_dw(w_dw):
    w, dw = w_dw
    next_w, config = optim.sgd(w, dw, {"learning_rate": 0.3})
    np.testing.assert_allclose(next_w, w - 0.3 * dw)
    assert optim.sgd(w, dw)[1]["learning_rate"] == 1e-2  # CS231n's default


def test_momentum_accumulates_velocity(w_dw):
    w, dw = w_dw
    w1, config = optim.sgd_momentum(w, dw, {"learning_rate": 0.1, "momentum": 0.5})
    w2, config = optim.sgd_momentum(w1, dw, config)
    # v1 = -lr dw; v2 = mu v1 - lr dw
    np.testing.assert_allclose(w1, w - 0.1 * dw)
    np.testing.assert_allclose(w2, w1 + (-0.5 * 0.1 - 0.1) * dw)
    np.testing.assert_allclose(config["velocity"], -0.15 * dw)


def test_rmsprop_first_step(w_dw):
    w, dw = w_dw
    next_w, config = optim.rmsprop(w, dw, {"learning_rate": 1e-3})
    # cache = (1 - 0.99) dw^2, so the step is lr * dw / (0.1 |dw|) = 10 lr sign(dw).
    np.testing.assert_allclose(next_w, w - 1e-2 * np.sign(dw), rtol=1e-6)
    np.testing.assert_allclose(config["cache"], 0.01 * dw ** 2)


def test_adagrad_first_step_moves_each_weight_by_lr(w_dw):
    w, dw = w_dw
    next_w, _ = optim.adagrad(w, dw, {"learning_rate": 1e-2})
    np.testing.assert_allclose(next_w, w - 1e-2 * np.sign(dw), rtol=1e-6)


def test_adam_increments_t_before_using_it(w_dw):
    w, dw = w_dw
    next_w, config = optim.adam(w, dw)
    # With t = 1 the bias corrections give m_hat = dw and v_hat = dw^2: a step of lr sign(dw).
    assert config["t"] == 1
    np.testing.assert_allclose(next_w, w - 1e-3 * np.sign(dw), rtol=1e-5)
    w2, config = optim.adam(next_w, dw, config)
    assert config["t"] == 2
    np.testing.assert_allclose(w2, next_w - 1e-3 * np.sign(dw), rtol=1e-5)  # a constant gradient


@pytest.mark.parametrize("rule", sorted(optim.UPDATE_RULES))
def test_defaults_unknown_keys_and_backends(rule, w_dw, xp):
    w, dw = (to_device(a, xp) for a in w_dw)
    update = optim.UPDATE_RULES[rule]
    next_w, config = update(w, dw)
    assert next_w.shape == w.shape and type(next_w) is type(w)
    assert float(np.abs(to_numpy(next_w) - to_numpy(w)).max()) > 0
    assert "learning_rate" in config
    with pytest.raises(ValueError, match=r"unknown keys \['lr'\]"):
        update(w, dw, {"lr": 0.1})
