"""The geometry of conv and pool layers: integer checks, output sizes, hyperparameters.

The one small module the layers, the architecture calculator and the spec parser all
build on (it imports nothing from them). ``conv_output_size`` is the notes'
``(W - F + 2P)/S + 1``; ``require_int`` is the one integer check.

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

import numbers
from fractions import Fraction

from .checks import REQUIRED, read_params


def require_int(name, value, minimum):
    """Check ``value`` is an integer (a Python or NumPy int, not a bool or float) >= ``minimum``.

    Returns it as a Python int. Raises TypeError for a non-integer, ValueError below ``minimum``.
    """
    # bool is an int subclass; True as a stride is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def conv_output_size(W, F, P, S, dilation=1):
    """Spatial output size of a conv or pool layer: ``(W - F + 2P)/S + 1``.

    W: input size (height or width), F: filter size, P: zero padding on each side,
    S: stride, dilation: spacing of filter taps (1 = contiguous, as PyTorch; the
    notes' "dilation 0"). A dilated filter spans ``(F - 1) * dilation + 1`` inputs,
    and that effective size replaces F in the formula.

    Returns the output size, an int >= 1. Raises ValueError naming W, F, P, S and the
    result when the hyperparameters are invalid in the notes' sense: the result is not
    a positive integer, i.e. the filters do not tile the padded input neatly.

    >>> conv_output_size(7, 3, 0, 2)
    3
    >>> conv_output_size(7, 3, 0, 3)
    Traceback (most recent call last):
    ...
    ValueError: invalid hyperparameters: (W - F + 2P)/S + 1 with W=7, F=3, P=0, S=3 gives 2.333..., not a positive integer
    """
    W = require_int("W", W, 1)
    F = require_int("F", F, 1)
    P = require_int("P", P, 0)
    S = require_int("S", S, 1)
    dilation = require_int("dilation", dilation, 1)
    effective_F = (F - 1) * dilation + 1
    result = Fraction(W - effective_F + 2 * P, S) + 1
    if result.denominator == 1 and result >= 1:
        return int(result)
    hyperparameters = f"W={W}, F={F}, P={P}, S={S}"
    if dilation != 1:
        hyperparameters += f", dilation={dilation} (effective F={effective_F})"
    raise ValueError(f"invalid hyperparameters: (W - F + 2P)/S + 1 with {hyperparameters} "
                     f"gives {_format_fraction(result)}, not a positive integer")


def _format_fraction(value):
    """4.5, -2, 2.333... : exact where short, truncated with an ellipsis where not."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.6f}".rstrip("0")
    # Only a terminating decimal that fits six places is exact; mark the rest.
    exact = Fraction(text) == value
    return text if exact else f"{float(value):.3f}..."


def output_size(axis, size, filter_size, pad, stride, dilation=1):
    """One spatial output size, with the axis ("height"/"width") named in any error."""
    try:
        return conv_output_size(size, filter_size, pad, stride, dilation)
    except ValueError as err:
        raise ValueError(f"invalid {axis} geometry: {err}") from None


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
