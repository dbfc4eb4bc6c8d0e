"""The CS231n notes' architecture calculator: output volumes, parameters and memory.

>>> conv_output_size(7, 3, 0, 1)
5
>>> conv_output_size(227, 11, 0, 4)
55
"""

from fractions import Fraction


def _require_int(name, value, minimum):
    # bool is an int subclass; True as a stride is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


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
    _require_int("W", W, 1)
    _require_int("F", F, 1)
    _require_int("P", P, 0)
    _require_int("S", S, 1)
    _require_int("dilation", dilation, 1)
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
