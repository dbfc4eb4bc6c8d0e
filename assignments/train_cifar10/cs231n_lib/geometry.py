"""Hyperparameters and output sizes of conv and pool layers, read and checked once.

Dilation convention: ``dilation=1`` is the ordinary contiguous filter and
``dilation=d`` leaves ``d - 1`` gaps between filter taps, as in PyTorch. The
CS231n notes count gaps instead, so their "dilation 0" is our ``dilation=1`` and
their "dilation 1" (``w[0]*x[0] + w[1]*x[2] + w[2]*x[4]``) is our ``dilation=2``.
A filter of size F with dilation d spans ``(F - 1) * d + 1`` inputs.

>>> conv_params({"stride": 2, "pad": 1})
(2, 1, 1)
>>> conv_output_shape((4, 3, 7, 7), (8, 3, 3, 3), stride=2, pad=0, dilation=1)
(4, 8, 3, 3)
"""

from .architecture import conv_output_size
from .checks import REQUIRED, read_params, require_int


def conv_params(conv_param):
    """Read ``conv_param`` (keys ``stride``, ``pad``, optional ``dilation``) -> (stride, pad, dilation)."""
    p = read_params("conv_param", conv_param, {"stride": REQUIRED, "pad": REQUIRED, "dilation": 1})
    return (require_int("conv_param['stride']", p["stride"], 1),
            require_int("conv_param['pad']", p["pad"], 0),
            require_int("conv_param['dilation']", p["dilation"], 1))


def pool_params(pool_param):
    """Read ``pool_param`` (``pool_height``, ``pool_width``, ``stride``) -> (pool_height, pool_width, stride)."""
    p = read_params("pool_param", pool_param,
                    {"pool_height": REQUIRED, "pool_width": REQUIRED, "stride": REQUIRED})
    return (require_int("pool_param['pool_height']", p["pool_height"], 1),
            require_int("pool_param['pool_width']", p["pool_width"], 1),
            require_int("pool_param['stride']", p["stride"], 1))


def output_size(axis, size, filter_size, pad, stride, dilation=1):
    """One spatial output size, with the axis ("height"/"width") named in any error."""
    try:
        return conv_output_size(size, filter_size, pad, stride, dilation)
    except ValueError as err:
        raise ValueError(f"invalid {axis} geometry: {err}") from None


def conv_output_shape(x_shape, w_shape, stride, pad, dilation):
    """(N, C, H, W) input and (F, C, HH, WW) filters -> (N, F, H_out, W_out)."""
    N, C, H, W = x_shape
    F, C_w, HH, WW = w_shape
    if C_w != C:
        raise ValueError(f"w has {C_w} input channels but x has {C}: "
                         f"w must be (F, C, HH, WW) with C = {C}, got {tuple(w_shape)}")
    return (N, F, output_size("height", H, HH, pad, stride, dilation),
            output_size("width", W, WW, pad, stride, dilation))


def pool_output_shape(x_shape, pool_height, pool_width, stride):
    """(N, C, H, W) input -> (N, C, H_out, W_out) for an unpadded pooling window."""
    N, C, H, W = x_shape
    return (N, C, output_size("height", H, pool_height, 0, stride),
            output_size("width", W, pool_width, 0, stride))
