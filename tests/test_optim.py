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


def test_nesterov_first_two_steps_by_hand(w_dw):
    w, dw = w_dw
    w1, config = optim.sgd_nesterov(w, dw, {"learning_rate": 0.1, "momentum": 0.5})
    w2, config = optim.sgd_nesterov(w1, dw, config)
    # v1 = -lr dw, w1 = w + (1 + mu) v1 = w - 0.15 dw; v2 = mu v1 - lr dw = -0.15 dw,
    # w2 = w1 + (1 + mu) v2 - mu v1 = w1 - 0.225 dw + 0.05 dw.
    np.testing.assert_allclose(w1, w - 0.15 * dw)
    np.testing.assert_allclose(w2, w1 - 0.175 * dw)
    np.testing.assert_allclose(config["velocity"], -0.15 * dw)
    assert config["weight_decay"] == 0.0 and optim.sgd_nesterov(w, dw)[1]["momentum"] == 0.9


def test_nesterov_weight_decay_is_decoupled_from_the_momentum(w_dw):
    w, dw = w_dw
    w1, config = optim.sgd_nesterov(w, dw, {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.2})
    # The weights shrink by lr * weight_decay of themselves; the velocity holds the gradient only.
    np.testing.assert_allclose(w1, w * (1 - 0.02) - 0.15 * dw)
    np.testing.assert_allclose(config["velocity"], -0.1 * dw)
    w2, _ = optim.sgd_nesterov(w, np.zeros_like(dw), {"learning_rate": 0.1, "weight_decay": 0.2})
    np.testing.assert_allclose(w2, 0.98 * w)  # no gradient: decay alone


@pytest.mark.parametrize("weight_decay", [0.0, 5e-2])
def test_nesterov_in_place_is_nesterov_bit_for_bit(rng, xp, weight_decay):
    w = to_device(rng.standard_normal(50).astype(np.float32), xp)
    config_a = {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": weight_decay}
    config_b, w_a, w_b = dict(config_a), w.copy(), w.copy()
    for step in range(3):
        dw = to_device(rng.standard_normal(50).astype(np.float32), xp)
        w_a, config_a = optim.sgd_nesterov(w_a, dw, config_a)
        w_b_before = w_b
        w_b, config_b = optim.sgd_nesterov_in_place(w_b, dw, config_b)
        assert w_b is w_b_before and w_b.dtype == np.float32
    np.testing.assert_array_equal(to_numpy(w_a), to_numpy(w_b))
    np.testing.assert_array_equal(to_numpy(config_a["velocity"]), to_numpy(config_b["velocity"]))
