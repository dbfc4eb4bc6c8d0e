"""Layers of a ConvNet, each a forward/backward pair (CS231n's ``layers.py``).

Every forward returns ``(out, cache)``; every backward takes ``(dout, cache)``
and returns the gradients of its inputs in the forward's argument order.
In a student's copy, each part to write is a ``NotImplementedError`` naming the
notebook that checks it; the input checks and the cache line around it are given.
All functions run on NumPy and CuPy arrays alike (``xp = get_array_module(x)``).

>>> from cs231n_lib.backend import np
>>> x = np.arange(6.0).reshape(2, 3) - 2.5
>>> out, cache = relu_forward(x)
>>> out
array([[0. , 0. , 0. ],
       [0.5, 1.5, 2.5]])
"""

from .backend import get_array_module
from .checks import (REQUIRED, as_float_param, read_params, require_float_array, require_label_smoothing,
                     require_labels, require_shape)
from .geometry import conv_output_shape, conv_params, pool_output_shape, pool_params


# ----------------------------------------------------------------------------- affine

def affine_forward(x, w, b):
    """Fully-connected layer: ``out = x.reshape(N, D) @ w + b``.

    Inputs:
    - x: (N, d_1, ..., d_k), each example flattened to D = d_1 * ... * d_k values
    - w: (D, M) weights
    - b: (M,) biases

    Returns (out, cache):
    - out: (N, M)
    - cache: (x, w, b)
    """
    require_float_array("x", x, layout="(N, d_1, ..., d_k)")
    w = as_float_param("w", w, x, ndim=2, layout="(D, M)")
    b = as_float_param("b", b, x, ndim=1, layout="(M,)")
    N = x.shape[0]
    D, M = w.shape
    if x.size != N * D:
        raise ValueError(f"x must flatten to (N, D) = ({N}, {D}) to match w of shape {tuple(w.shape)}, "
                         f"got x of shape {tuple(x.shape)}")
    require_shape("b", b, (M,), "(M,)")
    out = None
    raise NotImplementedError("layers.affine_forward: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of :func:`affine_forward`.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w, b) from the forward pass

    Returns (dx, dw, db) with the shapes of x, w and b.
    """
    x, w, b = cache
    require_float_array("dout", dout, ndim=2, layout="(N, M)")
    require_shape("dout", dout, (x.shape[0], w.shape[1]), "(N, M)")
    dx, dw, db = None, None, None
    raise NotImplementedError("layers.affine_backward: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    return dx, dw, db


# ----------------------------------------------------------------------------- relu

def relu_forward(x):
    """Rectified linear unit, ``max(0, x)`` elementwise.

    Input x: any shape. Returns (out, cache) with out of x's shape and cache = x.
    """
    require_float_array("x", x)
    xp = get_array_module(x)
    out = None
    raise NotImplementedError("layers.relu_forward: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of :func:`relu_forward`: dout where x > 0, else 0. Returns dx."""
    x = cache
    require_float_array("dout", dout)
    require_shape("dout", dout, x.shape)
    dx = None
    raise NotImplementedError("layers.relu_backward: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    return dx


# ----------------------------------------------------------------------------- convolution

def conv_forward_naive(x, w, b, conv_param):
    """Convolution, looping over output positions (the notes' definition).

    Each output ``out[n, f, i, j]`` is the dot product of filter ``w[f]`` with the
    window of the zero-padded input whose top-left corner is ``(i * stride, j * stride)``,
    plus ``b[f]``. With dilation d the filter taps are d apart (see geometry.py).

    Inputs:
    - x: (N, C, H, W) input
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: dict with 'stride', 'pad' (zeros on each side of H and W) and
      optional 'dilation' (default 1)

    Returns (out, cache):
    - out: (N, F, H', W') with H' = 1 + (H + 2 * pad - ((HH - 1) * dilation + 1)) / stride
    - cache: (x, w, b, conv_param)
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    w = as_float_param("w", w, x, ndim=4, layout="(F, C, HH, WW)")
    b = as_float_param("b", b, x, ndim=1, layout="(F,)")
    stride, pad, dilation = conv_params(conv_param)
    N, F, H_out, W_out = conv_output_shape(x.shape, w.shape, stride, pad, dilation)
    require_shape("b", b, (F,), "(F,)")
    xp = get_array_module(x)
    out = None
    raise NotImplementedError("layers.conv_forward_naive: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Backward pass of :func:`conv_forward_naive`.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, b, conv_param) from the forward pass

    Returns (dx, dw, db): (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x, w, b, conv_param = cache
    stride, pad, dilation = conv_params(conv_param)
    require_float_array("dout", dout, ndim=4, layout="(N, F, H', W')")
    require_shape("dout", dout, conv_output_shape(x.shape, w.shape, stride, pad, dilation),
                  "(N, F, H', W')")
    xp = get_array_module(x)
    dx, dw, db = None, None, None
    raise NotImplementedError("layers.conv_backward_naive: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    return dx, dw, db


# ----------------------------------------------------------------------------- pooling

def max_pool_forward_naive(x, pool_param):
    """Max pooling over (pool_height, pool_width) windows, ``stride`` apart, no padding.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width', 'stride'

    Returns (out, cache):
    - out: (N, C, H', W') with H' = 1 + (H - pool_height) / stride
    - cache: (x, pool_param)
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    N, C, H_out, W_out = pool_output_shape(x.shape, pool_height, pool_width, stride)
    xp = get_array_module(x)
    out = None
    raise NotImplementedError("layers.max_pool_forward_naive: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Backward pass of :func:`max_pool_forward_naive`.

    The gradient of each window goes to the position that held its maximum (the
    "switch"); where windows overlap, a position that is the maximum of several windows
    gets the sum of their gradients. On ties the maximum is not differentiable: any split
    of the window's gradient among its maxima into non-negative shares that add up to it is
    a subgradient, and the checks accept any; this one gives it all to the first maximum
    in row-major order (what ``argmax`` picks).

    Inputs: dout (N, C, H', W'); cache (x, pool_param). Returns dx: (N, C, H, W).
    """
    x, pool_param = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, pool_output_shape(x.shape, pool_height, pool_width, stride),
                  "(N, C, H', W')")
    xp = get_array_module(x)
    dx = None
    raise NotImplementedError("layers.max_pool_backward_naive: your task in conv_pool/ConvPool.ipynb; see the notebook's instructions")
    return dx


def avg_pool_forward_naive(x, pool_param):
    """Average pooling; same inputs, shapes and cache as :func:`max_pool_forward_naive`."""
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    N, C, H_out, W_out = pool_output_shape(x.shape, pool_height, pool_width, stride)
    xp = get_array_module(x)
    out = xp.empty((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width]
            out[:, :, i, j] = window.mean(axis=(2, 3))
    return out, (x, pool_param)


def avg_pool_backward_naive(dout, cache):
    """Backward pass of :func:`avg_pool_forward_naive`: each window shares its gradient equally."""
    x, pool_param = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, pool_output_shape(x.shape, pool_height, pool_width, stride),
                  "(N, C, H', W')")
    xp = get_array_module(x)
    dx = xp.zeros_like(x)
    share = dout / (pool_height * pool_width)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + pool_height,
               j * stride:j * stride + pool_width] += share[:, :, i, j, None, None]
    return dx


def l2_pool_forward_naive(x, pool_param):
    """L2-norm pooling, ``sqrt(sum(window ** 2))``; inputs, shapes and cache as max pooling."""
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    N, C, H_out, W_out = pool_output_shape(x.shape, pool_height, pool_width, stride)
    xp = get_array_module(x)
    out = xp.empty((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width]
            out[:, :, i, j] = xp.sqrt((window * window).sum(axis=(2, 3)))
    return out, (x, pool_param, out)


def l2_pool_backward_naive(dout, cache):
    """Backward pass of :func:`l2_pool_forward_naive`: d out / d x = x / out.

    A window of zeros has no defined gradient; it gets zero (the subgradient).
    """
    x, pool_param, out = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, out.shape, "(N, C, H', W')")
    xp = get_array_module(x)
    dx = xp.zeros_like(x)
    safe_out = xp.where(out > 0, out, 1)
    scale = xp.where(out > 0, dout / safe_out, 0)  # (N, C, H', W')
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + pool_height)
            cols = slice(j * stride, j * stride + pool_width)
            dx[:, :, rows, cols] += x[:, :, rows, cols] * scale[:, :, i, j, None, None]
    return dx


# ----------------------------------------------------------------------------- batch normalization

_BN_DEFAULTS = {"mode": REQUIRED, "eps": 1e-5, "momentum": 0.9,
                "running_mean": None, "running_var": None}


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization over the batch axis of (N, D) activations.

    In 'train' mode each feature is normalized with the minibatch mean and
    variance, and ``bn_param['running_mean']``/``['running_var']`` are updated in
    place of the dict as ``running = momentum * running + (1 - momentum) * batch``.
    In 'test' mode the running statistics are used instead.

    Inputs:
    - x: (N, D); gamma, beta: (D,) scale and shift
    - bn_param: dict with 'mode' ('train' or 'test'), optional 'eps' (1e-5),
      'momentum' (0.9), 'running_mean' and 'running_var' ((D,); zeros when
      absent, as in CS231n)

    Returns (out, cache): out (N, D); cache for :func:`batchnorm_backward`.
    """
    require_float_array("x", x, ndim=2, layout="(N, D)")
    N, D = x.shape
    gamma = as_float_param("gamma", gamma, x, ndim=1, layout="(D,)")
    beta = as_float_param("beta", beta, x, ndim=1, layout="(D,)")
    require_shape("gamma", gamma, (D,), "(D,)")
    require_shape("beta", beta, (D,), "(D,)")
    p = read_params("bn_param", bn_param, _BN_DEFAULTS)
    mode, eps, momentum = p["mode"], p["eps"], p["momentum"]
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    xp = get_array_module(x)
    running_mean = p["running_mean"] if p["running_mean"] is not None else xp.zeros(D, dtype=x.dtype)
    running_var = p["running_var"] if p["running_var"] is not None else xp.zeros(D, dtype=x.dtype)
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
        bn_param.setdefault("running_mean", running_mean)
        bn_param.setdefault("running_var", running_var)
    inv_std = 1.0 / xp.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = gamma * x_hat + beta
    cache = (x_hat, gamma, inv_std, mode)
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of :func:`batchnorm_forward`. Returns (dx, dgamma, dbeta): (N, D), (D,), (D,)."""
    x_hat, gamma, inv_std, mode = cache
    require_float_array("dout", dout, ndim=2, layout="(N, D)")
    require_shape("dout", dout, x_hat.shape, "(N, D)")
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    if mode == "test":  # the statistics are constants
        return dx_hat * inv_std, dgamma, dbeta
    # The batch mean and variance depend on every x: the two sums remove their share.
    dx = (inv_std / N) * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of conv activations, one mean and variance per channel.

    Inputs: x (N, C, H, W); gamma, beta (C,); bn_param as for :func:`batchnorm_forward`.
    Returns (out, cache) with out (N, C, H, W).
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    N, C, H, W = x.shape
    x_rows = x.transpose(0, 2, 3, 1).reshape(-1, C)  # (N*H*W, C)
    out_rows, cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of :func:`spatial_batchnorm_forward`. Returns (dx, dgamma, dbeta)."""
    require_float_array("dout", dout, ndim=4, layout="(N, C, H, W)")
    N, C, H, W = dout.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)  # (N*H*W, C)
    dx_rows, dgamma, dbeta = batchnorm_backward(dout_rows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------- losses

def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the batch.

    Inputs: x (N, C) class scores; y (N,) labels with 0 <= y[i] < C.
    Returns (loss, dx): a Python float and (N, C).
    """
    require_float_array("x", x, ndim=2, layout="(N, C)")
    N, C = x.shape
    require_labels(y, N, C)
    xp = get_array_module(x)
    rows = xp.arange(N)
    correct = x[rows, y][:, None]  # (N, 1)
    margins = xp.maximum(0, x - correct + 1)
    margins[rows, y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)
    dx = positive
    dx[rows, y] -= positive.sum(axis=1)
    dx /= N
    return float(loss), dx


def softmax_loss(x, y, smoothing=0.0):
    """Softmax cross-entropy loss, averaged over the batch.

    Inputs: x (N, C) class scores; y (N,) labels with 0 <= y[i] < C; smoothing: label
    smoothing, 0 <= smoothing < 1 (an addition to CS231n, default 0): the target of each
    image is ``1 - smoothing`` on its label plus ``smoothing / C`` on every class, so the
    loss no longer pushes the scores apart without bound.
    Returns (loss, dx): a Python float and (N, C).
    """
    require_float_array("x", x, ndim=2, layout="(N, C)")
    N, C = x.shape
    require_labels(y, N, C)
    require_label_smoothing(smoothing)
    xp = get_array_module(x)
    shifted = x - x.max(axis=1, keepdims=True)  # exp cannot overflow
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(N)
    loss = -log_probs[rows, y].sum() / N
    dx = xp.exp(log_probs)
    dx[rows, y] -= 1
    if smoothing:
        # -sum(target * log_probs) / N with target = (1 - s) one_hot + s / C; dx = (probs - target) / N
        loss = (1 - smoothing) * loss - smoothing / C * log_probs.sum() / N
        dx[rows, y] += smoothing
        dx -= smoothing / C
    dx /= N
    return float(loss), dx
