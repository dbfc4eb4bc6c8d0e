"""im2col and its mirror col2im, from strided slices (no fancy indexing, no build step).

``im2col`` stretches every receptive field of a (N, C, H, W) input into a column,
so that a convolution becomes one matrix multiply (the notes' "Implementation as
Matrix Multiplication"). It loops over the HH * WW filter offsets, not over the
output positions: each offset is one strided slice of the padded input that
holds that tap for every window at once. The same code runs on NumPy and CuPy.

Layout: one matrix per image, as the notes' ``X_col``: for image n,
``cols[n]`` is (C*HH*WW, H_out*W_out) with rows ordered (c, kh, kw), exactly like
``w.reshape(F, -1)``, and columns ordered (i, j). So ``w.reshape(F, -1) @ cols``
is (N, F, H_out*W_out): already the (N, F, H', W') output, with no transpose.

>>> from cs231n_lib.backend import np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> im2col(x, 2, 2, stride=2, pad=0).shape   # 1 image, 4 taps x 4 windows
(1, 4, 4)
>>> im2col(x, 2, 2, stride=2, pad=0)[0, :, 0]   # the top-left 2x2 window
array([0., 1., 4., 5.])
"""

from .backend import get_array_module
from .geometry import output_size


def tap_slices(H_out, W_out, filter_height, filter_width, stride, dilation):
    """Yield (kh, kw, rows, cols): for each filter tap, the slices of the padded input it reads.

    ``x_pad[:, :, rows, cols]`` has shape (N, C, H_out, W_out): tap (kh, kw) of every window.
    """
    for kh in range(filter_height):
        top = kh * dilation
        rows = slice(top, top + stride * (H_out - 1) + 1, stride)
        for kw in range(filter_width):
            left = kw * dilation
            yield kh, kw, rows, slice(left, left + stride * (W_out - 1) + 1, stride)


def im2col(x, filter_height, filter_width, stride, pad, dilation=1):
    """Receptive fields as columns.

    Inputs: x (N, C, H, W); filter size, stride, zero padding and dilation.
    Returns cols: (N, C * filter_height * filter_width, H_out * W_out).
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    H_out = output_size("height", H, filter_height, pad, stride, dilation)
    W_out = output_size("width", W, filter_width, pad, stride, dilation)
    cols = None
    raise NotImplementedError("im2col.im2col: your task in im2col/Im2col.ipynb; see the notebook's instructions")
    return cols


def col2im(cols, x_shape, filter_height, filter_width, stride, pad, dilation=1):
    """The adjoint of :func:`im2col`: sum each column back into the window it came from.

    Inputs: cols (N, C * filter_height * filter_width, H_out * W_out); x_shape (N, C, H, W).
    Returns dx: (N, C, H, W). Where windows overlap, their contributions add up.
    """
    xp = get_array_module(cols)
    N, C, H, W = x_shape
    H_out = output_size("height", H, filter_height, pad, stride, dilation)
    W_out = output_size("width", W, filter_width, pad, stride, dilation)
    dx = None
    raise NotImplementedError("im2col.col2im: your task in im2col/Im2col.ipynb; see the notebook's instructions")
    return dx
