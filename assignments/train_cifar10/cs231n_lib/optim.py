"""First-order update rules, each ``update(w, dw, config=None) -> (next_w, config)``.

``config`` holds the hyperparameters (learning rate...) and the rule's state
(velocity, moment estimates); the Solver keeps one config per parameter and
passes it back at the next step. Defaults follow CS231n. Runs on NumPy and CuPy.

>>> from cs231n_lib.backend import np
>>> w, dw = np.ones(3), np.full(3, 0.5)
>>> next_w, config = sgd(w, dw, {"learning_rate": 0.1})
>>> next_w
array([0.95, 0.95, 0.95])
"""

from .backend import get_array_module

_SGD = {"learning_rate": 1e-2}
_SGD_MOMENTUM = {"learning_rate": 1e-2, "momentum": 0.9, "velocity": None}
_SGD_NESTEROV = {"learning_rate": 1e-2, "momentum": 0.9, "weight_decay": 0.0, "velocity": None}
_RMSPROP = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8, "cache": None}
_ADAGRAD = {"learning_rate": 1e-2, "epsilon": 1e-8, "cache": None}
_ADAM = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
         "m": None, "v": None, "t": 0}


def _with_defaults(rule, config, defaults, w):
    """Fill missing keys of config with the defaults (state arrays as zeros like w)."""
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise TypeError(f"{rule} config must be a dict or None, got {type(config).__name__}")
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"{rule} config has unknown keys {unknown}; allowed: {sorted(defaults)}")
    xp = get_array_module(w)
    for key, default in defaults.items():
        if key not in config:
            config[key] = xp.zeros_like(w) if default is None else default
    return config


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``w -= learning_rate * dw``."""
    config = _with_defaults("sgd", config, _SGD, w)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``."""
    config = _with_defaults("sgd_momentum", config, _SGD_MOMENTUM, w)
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def sgd_nesterov(w, dw, config=None):
    """SGD with Nesterov momentum (the notes' form) and decoupled weight decay.

    ``v = momentum * v - learning_rate * dw; w += (1 + momentum) * v - momentum * v_prev``,
    and the weights also shrink by ``learning_rate * weight_decay * w`` (outside the momentum,
    so a learning-rate schedule scales the decay with the steps; docs/library.md says why
    decoupled). Keys: learning_rate, momentum, weight_decay (default 0), velocity.
    """
    config = _with_defaults("sgd_nesterov", config, _SGD_NESTEROV, w)
    learning_rate, momentum, decay = config["learning_rate"], config["momentum"], config["weight_decay"]
    # The arithmetic in the order of sgd_nesterov_in_place, so that both give the same bits.
    momentum_v_prev = momentum * config["velocity"]
    v = momentum_v_prev - learning_rate * dw
    next_w = w * (1 - learning_rate * decay) if decay else w.copy()
    next_w -= momentum_v_prev
    next_w += (1 + momentum) * v
    config["velocity"] = v
    return next_w, config


def sgd_nesterov_in_place(w, dw, config=None, scratch=None):
    """:func:`sgd_nesterov`, the same arithmetic in the same order (the same results, bit for
    bit), with ``w`` and ``config["velocity"]`` updated in place; ``scratch`` (w's shape) holds
    the temporaries when given. Returns (w, config); w is the array passed in.
    """
    config = _with_defaults("sgd_nesterov", config, _SGD_NESTEROV, w)
    xp = get_array_module(w)
    scratch = xp.empty_like(w) if scratch is None else scratch
    learning_rate, momentum, decay = config["learning_rate"], config["momentum"], config["weight_decay"]
    v = config["velocity"]
    if decay:
        w *= 1 - learning_rate * decay
    xp.multiply(v, momentum, out=scratch)  # momentum * v_prev
    w -= scratch
    xp.multiply(dw, learning_rate, out=v)
    xp.subtract(scratch, v, out=v)  # v = momentum * v_prev - learning_rate * dw
    xp.multiply(v, 1 + momentum, out=scratch)
    w += scratch
    return w, config


def rmsprop(w, dw, config=None):
    """RMSProp: a moving average of squared gradients scales each step."""
    config = _with_defaults("rmsprop", config, _RMSPROP, w)
    xp = get_array_module(w)
    decay = config["decay_rate"]
    config["cache"] = decay * config["cache"] + (1 - decay) * dw * dw
    next_w = w - config["learning_rate"] * dw / (xp.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adagrad(w, dw, config=None):
    """Adagrad: the running sum of squared gradients scales each step."""
    config = _with_defaults("adagrad", config, _ADAGRAD, w)
    xp = get_array_module(w)
    config["cache"] = config["cache"] + dw * dw
    next_w = w - config["learning_rate"] * dw / (xp.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    """Adam with bias correction; ``t`` is incremented before it is used (as CS231n)."""
    config = _with_defaults("adam", config, _ADAM, w)
    xp = get_array_module(w)
    config["t"] += 1
    t, beta1, beta2 = config["t"], config["beta1"], config["beta2"]
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * (dw * dw)
    # lr * m_hat / (sqrt(v_hat) + eps), with the bias corrections folded into two scalars
    # so that the big arrays are touched as few times as possible.
    denominator = xp.sqrt(config["v"])
    denominator *= 1 / (1 - beta2 ** t) ** 0.5
    denominator += config["epsilon"]
    step = config["m"] / denominator
    step *= config["learning_rate"] / (1 - beta1 ** t)
    return w - step, config


def adam_in_place(w, dw, config=None, scratch=None):
    """:func:`adam` with the same arithmetic in the same order (so the same results, bit for
    bit), but ``w`` and the moments ``config["m"]``, ``config["v"]`` are updated in place:
    no new arrays. ``scratch`` (w's shape) is reused for the temporaries when given.

    The training engine runs it once on all parameters, held in one flat buffer.
    Returns (w, config) like every update rule; w is the array passed in.
    """
    config = _with_defaults("adam", config, _ADAM, w)
    xp = get_array_module(w)
    scratch = xp.empty_like(w) if scratch is None else scratch
    config["t"] += 1
    t, beta1, beta2 = config["t"], config["beta1"], config["beta2"]
    m, v = config["m"], config["v"]
    m *= beta1
    xp.multiply(dw, 1 - beta1, out=scratch)
    m += scratch
    v *= beta2
    xp.multiply(dw, dw, out=scratch)
    scratch *= 1 - beta2
    v += scratch
    xp.sqrt(v, out=scratch)
    scratch *= 1 / (1 - beta2 ** t) ** 0.5
    scratch += config["epsilon"]
    xp.divide(m, scratch, out=scratch)
    scratch *= config["learning_rate"] / (1 - beta1 ** t)
    w -= scratch
    return w, config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "sgd_nesterov": sgd_nesterov,
                "rmsprop": rmsprop, "adagrad": adagrad, "adam": adam}

# The rules the training engine runs in place over its flat buffers:
# rule -> (in-place version, its config defaults, the names of its state arrays).
IN_PLACE_RULES = {adam: (adam_in_place, _ADAM, ("m", "v")),
                  sgd_nesterov: (sgd_nesterov_in_place, _SGD_NESTEROV, ("velocity",))}
