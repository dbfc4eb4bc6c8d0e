"""Fast conv and pool layers through im2col: same signatures as the naive layers.

``conv_forward_fast(x, w, b, conv_param)`` accepts what ``conv_forward_naive``
accepts (stride, pad, dilation) and returns the same ``out``; its cache is
``(x, w, b, conv_param, cols)`` where ``cols`` is the im2col matrix kept for the
backward pass, or None when the batch was processed in chunks.

Memory: im2col copies every input value once per filter tap, so it "can use a
lot of memory" (the notes). The conv bounds its workspace: when the im2col
matrix of the whole batch would exceed the budget, it processes the batch in
chunks of images, with identical results, and recomputes the columns in the
backward pass instead of caching them. The budget is ``set_workspace_budget(bytes)``
or the environment variable ``CS231N_CONV_WORKSPACE_MB`` (default 512 MB).

>>> from cs231n_lib.backend import np
>>> x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
>>> w = np.ones((4, 3, 3, 3)); b = np.zeros(4)
>>> out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
>>> out.shape
(2, 4, 8, 8)
"""

import os

from .backend import get_array_module
from .checks import require_float_array, require_shape
from .geometry import conv_output_shape, conv_params, pool_output_shape, pool_params
from .im2col import col2im, im2col

WORKSPACE_ENV_VAR = "CS231N_CONV_WORKSPACE_MB"
_workspace_bytes = None  # None: read the environment variable on first use


def get_workspace_budget():
    """The largest im2col matrix, in bytes, that one conv call may build at once."""
    if _workspace_bytes is not None:
        return _workspace_bytes
    text = os.environ.get(WORKSPACE_ENV_VAR, "512")
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"{WORKSPACE_ENV_VAR} must be a number of megabytes, got {text!r}") from None
    if megabytes <= 0:
        raise ValueError(f"{WORKSPACE_ENV_VAR} must be positive, got {text!r}")
    return int(megabytes * 2**20)


def set_workspace_budget(num_bytes):
    """Set the conv workspace budget in bytes (None: back to the environment/default)."""
    global _workspace_bytes
    if num_bytes is not None and (not isinstance(num_bytes, int) or num_bytes <= 0):
        raise ValueError(f"workspace budget must be a positive number of bytes or None, got {num_bytes!r}")
    _workspace_bytes = num_bytes


def images_per_chunk(x_shape, w_shape, out_hw, itemsize):
    """How many images' im2col columns fit in the workspace budget (at least one)."""
    _, C, _, _ = x_shape
    _, _, HH, WW = w_shape
    H_out, W_out = out_hw
    bytes_per_image = C * HH * WW * H_out * W_out * itemsize
    return max(1, get_workspace_budget() // bytes_per_image)


# ----------------------------------------------------------------------------- convolution

def conv_forward_im2col(x, w, b, stride, pad, dilation):
    """Convolution as one matrix multiply, the notes' four steps, on a whole (chunk of a) batch.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); checked hyperparameters.
    Returns (out, cols): out (N, F, H', W') and the im2col matrix (C*HH*WW, N*H'*W').
    """
    xp = get_array_module(x)
    N, F, H_out, W_out = conv_output_shape(x.shape, w.shape, stride, pad, dilation)
    out, cols = None, None
    ### BEGIN SOLUTION
    _, _, HH, WW = w.shape
    cols = im2col(x, HH, WW, stride, pad, dilation)  # 1. windows stretched into columns
    w_rows = w.reshape(F, -1)  # 2. filters stretched into rows, (F, C*HH*WW)
    out = w_rows @ cols + b[:, None]  # 3. one matrix multiply, (F, N*H'*W')
    out = out.reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)  # 4. back to (N, F, H', W')
    out = xp.ascontiguousarray(out)
    ### END SOLUTION
    return out, cols


def conv_backward_im2col(dout, x_shape, w, cols, stride, pad, dilation):
    """Backward of :func:`conv_forward_im2col`. Returns (dx, dw, db)."""
    F = w.shape[0]
    _, _, HH, WW = w.shape
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*H'*W')
    dw = (dout_rows @ cols.T).reshape(w.shape)
    dcols = w.reshape(F, -1).T @ dout_rows  # (C*HH*WW, N*H'*W')
    dx = col2im(dcols, x_shape, HH, WW, stride, pad, dilation)
    db = dout_rows.sum(axis=1)
    return dx, dw, db


def conv_forward_fast(x, w, b, conv_param):
    """Convolution through im2col. Inputs, shapes and ``out`` as :func:`layers.conv_forward_naive`.

    Returns (out, cache) with cache = (x, w, b, conv_param, cols or None).
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    require_float_array("w", w, ndim=4, layout="(F, C, HH, WW)")
    require_float_array("b", b, ndim=1, layout="(F,)")
    stride, pad, dilation = conv_params(conv_param)
    N, F, H_out, W_out = conv_output_shape(x.shape, w.shape, stride, pad, dilation)
    require_shape("b", b, (F,), "(F,)")
    xp = get_array_module(x)
    chunk = images_per_chunk(x.shape, w.shape, (H_out, W_out), x.dtype.itemsize)
    if chunk >= N:
        out, cols = conv_forward_im2col(x, w, b, stride, pad, dilation)
        return out, (x, w, b, conv_param, cols)
    out = xp.empty((N, F, H_out, W_out), dtype=xp.result_type(x, w))
    for start in range(0, N, chunk):
        out[start:start + chunk], _ = conv_forward_im2col(x[start:start + chunk], w, b,
                                                          stride, pad, dilation)
    return out, (x, w, b, conv_param, None)


def conv_backward_fast(dout, cache):
    """Backward pass of :func:`conv_forward_fast`. Returns (dx, dw, db) like the naive backward."""
    x, w, b, conv_param, cols = cache
    stride, pad, dilation = conv_params(conv_param)
    require_float_array("dout", dout, ndim=4, layout="(N, F, H', W')")
    out_shape = conv_output_shape(x.shape, w.shape, stride, pad, dilation)
    require_shape("dout", dout, out_shape, "(N, F, H', W')")
    if cols is not None:
        return conv_backward_im2col(dout, x.shape, w, cols, stride, pad, dilation)
    xp = get_array_module(x)
    N, _, H_out, W_out = out_shape
    _, _, HH, WW = w.shape
    chunk = images_per_chunk(x.shape, w.shape, (H_out, W_out), x.dtype.itemsize)
    dx = xp.empty_like(x)
    dw = xp.zeros_like(w)
    db = xp.zeros_like(b)
    for start in range(0, N, chunk):
        x_chunk = x[start:start + chunk]
        cols_chunk = im2col(x_chunk, HH, WW, stride, pad, dilation)
        dx[start:start + chunk], dw_chunk, db_chunk = conv_backward_im2col(
            dout[start:start + chunk], x_chunk.shape, w, cols_chunk, stride, pad, dilation)
        dw += dw_chunk
        db += db_chunk
    return dx, dw, db


# ----------------------------------------------------------------------------- pooling
# Pooling is im2col on each channel alone: every (N*C) channel becomes a one-channel
# image, so each column holds one pooling window.

def _pool_columns(x, pool_height, pool_width, stride):
    N, C, H, W = x.shape
    return im2col(x.reshape(N * C, 1, H, W), pool_height, pool_width, stride, 0)  # (ph*pw, N*C*H'*W')


def _pool_columns_back(dcols, x_shape, pool_height, pool_width, stride):
    N, C, H, W = x_shape
    return col2im(dcols, (N * C, 1, H, W), pool_height, pool_width, stride, 0).reshape(x_shape)


def max_pool_forward_fast(x, pool_param):
    """Max pooling through im2col. Inputs and out as :func:`layers.max_pool_forward_naive`.

    Works for any window and stride, overlapping (3x3, stride 2) included.
    Returns (out, cache) with cache = (x, pool_param, switches), switches being the
    argmax of each window (the first maximum on ties, as the naive layer).
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    out_shape = pool_output_shape(x.shape, pool_height, pool_width, stride)
    cols = _pool_columns(x, pool_height, pool_width, stride)
    switches = cols.argmax(axis=0)  # (N*C*H'*W',)
    out = cols.max(axis=0).reshape(out_shape)
    return out, (x, pool_param, switches)


def max_pool_backward_fast(dout, cache):
    """Backward pass of :func:`max_pool_forward_fast`. Returns dx: (N, C, H, W)."""
    x, pool_param, switches = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, pool_output_shape(x.shape, pool_height, pool_width, stride),
                  "(N, C, H', W')")
    xp = get_array_module(x)
    taps = xp.arange(pool_height * pool_width)[:, None]
    dcols = (taps == switches) * dout.reshape(1, -1)  # (ph*pw, N*C*H'*W')
    return _pool_columns_back(dcols.astype(dout.dtype, copy=False), x.shape,
                              pool_height, pool_width, stride)


def avg_pool_forward_fast(x, pool_param):
    """Average pooling through im2col. Inputs and out as :func:`layers.avg_pool_forward_naive`."""
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    out_shape = pool_output_shape(x.shape, pool_height, pool_width, stride)
    out = _pool_columns(x, pool_height, pool_width, stride).mean(axis=0).reshape(out_shape)
    return out, (x, pool_param)


def avg_pool_backward_fast(dout, cache):
    """Backward pass of :func:`avg_pool_forward_fast`. Returns dx: (N, C, H, W)."""
    x, pool_param = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, pool_output_shape(x.shape, pool_height, pool_width, stride),
                  "(N, C, H', W')")
    xp = get_array_module(x)
    share = dout.reshape(1, -1) / (pool_height * pool_width)
    dcols = xp.broadcast_to(share, (pool_height * pool_width, share.shape[1]))
    return _pool_columns_back(dcols, x.shape, pool_height, pool_width, stride)
