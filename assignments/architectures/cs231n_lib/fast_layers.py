"""Fast conv (im2col) and pool (strided taps) layers: same signatures as the naive layers.

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
from .checks import as_float_param, require_float_array, require_shape
from .geometry import conv_output_shape, conv_params, pool_output_shape, pool_params
from .im2col import col2im, im2col, tap_slices

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
    """Convolution as matrix multiplication, the notes' four steps, on a (chunk of a) batch.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); checked hyperparameters.
    Returns (out, cols): out (N, F, H', W') and the columns (N, C*HH*WW, H'*W').
    """
    xp = get_array_module(x)
    N, F, H_out, W_out = conv_output_shape(x.shape, w.shape, stride, pad, dilation)
    out, cols = None, None
    raise NotImplementedError("fast_layers.conv_forward_im2col: your task in im2col/Im2col.ipynb; see the notebook's instructions")
    return out, cols


def conv_backward_im2col(dout, x_shape, w, cols, stride, pad, dilation, need_dx=True):
    """Backward of :func:`conv_forward_im2col`. Returns (dx, dw, db); dx is None unless need_dx."""
    xp = get_array_module(dout)
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    dout_rows = dout.reshape(N, F, H_out * W_out)
    # One GEMM per image, then a sum: no transposed copy of dout or cols is made. As
    # cols @ dout^T, (C*HH*WW, H'W') x (H'W', F), OpenBLAS ran it about 20% faster than
    # dout @ cols^T on the benchmark layers; the small (C*HH*WW, F) sum is transposed after.
    dw = xp.matmul(cols, dout_rows.transpose(0, 2, 1)).sum(axis=0).T.reshape(w.shape)
    db = dout_rows.sum(axis=(0, 2))
    dx = None
    if need_dx:
        dcols = xp.matmul(w.reshape(F, -1).T, dout_rows)  # (N, C*HH*WW, H'*W')
        dx = col2im(dcols, x_shape, HH, WW, stride, pad, dilation)
    return dx, dw, db


def conv_forward_fast(x, w, b, conv_param):
    """Convolution through im2col. Inputs, shapes and ``out`` as :func:`layers.conv_forward_naive`.

    Returns (out, cache) with cache = (x, w, b, conv_param, cols or None).
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    w = as_float_param("w", w, x, ndim=4, layout="(F, C, HH, WW)")
    b = as_float_param("b", b, x, ndim=1, layout="(F,)")
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


def conv_backward_fast(dout, cache, need_dx=True):
    """Backward pass of :func:`conv_forward_fast`. Returns (dx, dw, db) like the naive backward.

    ``need_dx=False`` skips the input gradient (dx is None): a network's first
    layer never needs it, and it costs a third of the backward pass.
    """
    x, w, b, conv_param, cols = cache
    stride, pad, dilation = conv_params(conv_param)
    require_float_array("dout", dout, ndim=4, layout="(N, F, H', W')")
    out_shape = conv_output_shape(x.shape, w.shape, stride, pad, dilation)
    require_shape("dout", dout, out_shape, "(N, F, H', W')")
    if cols is not None:
        return conv_backward_im2col(dout, x.shape, w, cols, stride, pad, dilation, need_dx)
    xp = get_array_module(x)
    N, _, H_out, W_out = out_shape
    _, _, HH, WW = w.shape
    chunk = images_per_chunk(x.shape, w.shape, (H_out, W_out), x.dtype.itemsize)
    dx = xp.empty_like(x) if need_dx else None
    dw = xp.zeros_like(w)
    db = xp.zeros_like(b)
    for start in range(0, N, chunk):
        x_chunk = x[start:start + chunk]
        cols_chunk = im2col(x_chunk, HH, WW, stride, pad, dilation)
        dx_chunk, dw_chunk, db_chunk = conv_backward_im2col(
            dout[start:start + chunk], x_chunk.shape, w, cols_chunk, stride, pad, dilation, need_dx)
        if need_dx:
            dx[start:start + chunk] = dx_chunk
        dw += dw_chunk
        db += db_chunk
    return dx, dw, db


# ----------------------------------------------------------------------------- pooling
# Pooling walks the pool_height * pool_width taps of all windows at once: tap (kh, kw)
# of every window is one strided slice of x (im2col's tap_slices), so each tap costs one
# elementwise pass over the (N, C, H', W') output and no window matrix is built.

def _pool_taps(x_shape, pool_height, pool_width, stride):
    _, _, H_out, W_out = pool_output_shape(x_shape, pool_height, pool_width, stride)
    return list(tap_slices(H_out, W_out, pool_height, pool_width, stride, 1))


def max_pool_forward_fast(x, pool_param):
    """Max pooling. Inputs and out as :func:`layers.max_pool_forward_naive`.

    Works for any window and stride, overlapping (3x3, stride 2) included.
    Returns (out, cache) with cache = (x, pool_param, out).
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    xp = get_array_module(x)
    taps = _pool_taps(x.shape, pool_height, pool_width, stride)
    _, _, rows, cols = taps[0]
    out = x[:, :, rows, cols].copy()
    for _, _, rows, cols in taps[1:]:
        xp.maximum(out, x[:, :, rows, cols], out=out)
    return out, (x, pool_param, out)


def max_pool_backward_fast(dout, cache):
    """Backward pass of :func:`max_pool_forward_fast`. Returns dx: (N, C, H, W).

    Each window's gradient goes to the first tap, in row-major order, that equals
    the window's maximum (as the naive layer's argmax); ``unclaimed`` marks the
    windows whose maximum no earlier tap has taken yet.
    """
    x, pool_param, out = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, out.shape, "(N, C, H', W')")
    xp = get_array_module(x)
    taps = _pool_taps(x.shape, pool_height, pool_width, stride)
    windows_overlap = stride < pool_height or stride < pool_width
    _, _, H_out, W_out = out.shape
    # Windows that tile x exactly write every position once below: no zero fill needed.
    tiles_exactly = (not windows_overlap and H_out * pool_height == x.shape[2]
                     and W_out * pool_width == x.shape[3])
    dx = xp.empty(x.shape, dtype=dout.dtype) if tiles_exactly else xp.zeros(x.shape, dtype=dout.dtype)
    for index, (_, _, rows, cols) in enumerate(taps):
        is_max = x[:, :, rows, cols] == out
        if index == 0:   # every window is unclaimed before the first tap
            unclaimed = ~is_max
        else:
            is_max &= unclaimed
            unclaimed ^= is_max
        # A multiply, not where(): several times faster in NumPy here.
        if windows_overlap:
            dx[:, :, rows, cols] += dout * is_max
        else:  # each input position belongs to one window: write instead of read-add-write
            xp.multiply(dout, is_max, out=dx[:, :, rows, cols])
    return dx


def avg_pool_forward_fast(x, pool_param):
    """Average pooling. Inputs and out as :func:`layers.avg_pool_forward_naive`."""
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    pool_height, pool_width, stride = pool_params(pool_param)
    taps = _pool_taps(x.shape, pool_height, pool_width, stride)
    _, _, rows, cols = taps[0]
    total = x[:, :, rows, cols].copy()
    for _, _, rows, cols in taps[1:]:
        total += x[:, :, rows, cols]
    return total / (pool_height * pool_width), (x, pool_param)


def avg_pool_backward_fast(dout, cache):
    """Backward pass of :func:`avg_pool_forward_fast`. Returns dx: (N, C, H, W)."""
    x, pool_param = cache
    pool_height, pool_width, stride = pool_params(pool_param)
    require_float_array("dout", dout, ndim=4, layout="(N, C, H', W')")
    require_shape("dout", dout, pool_output_shape(x.shape, pool_height, pool_width, stride),
                  "(N, C, H', W')")
    xp = get_array_module(x)
    share = dout / (pool_height * pool_width)
    dx = xp.zeros(x.shape, dtype=dout.dtype)
    for _, _, rows, cols in _pool_taps(x.shape, pool_height, pool_width, stride):
        dx[:, :, rows, cols] += share
    return dx
