"""Input checks shared by the layers: bad input gets a clear error, never a silent wrong answer.

Each check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind,
wrong shape or value) with a message that says what was expected and what came.
These lines sit outside the solution regions, so students get them for free.
"""

import numbers

from .backend import get_array_module


def require_float_array(name, x, ndim=None, layout=None):
    """Check that ``x`` is a NumPy/CuPy float array, with ``ndim`` dimensions if given.

    ``layout`` names the dimensions for the message, e.g. ``"(N, C, H, W)"``.
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "ndim")):
        raise TypeError(f"{name} must be a NumPy or CuPy array{_of_shape(layout)}, "
                        f"got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions{_of_shape(layout)}, "
                         f"got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must have a floating dtype (float32 or float64), got {x.dtype}")


def as_float_param(name, value, x, ndim=None, layout=None):
    """A parameter array (weights, biases, gamma, beta) with a floating dtype.

    A float array comes back unchanged. An integer array, which CS231n's notebooks pass
    (``b = np.array([0, 128])`` to the conv, ``gamma = np.asarray([3, 4, 5])`` to spatial
    batch norm), is cast to the dtype NumPy's arithmetic with the data ``x`` gives
    (``result_type(x, value)``: float64 for int64 with float32 x, as ``x * value`` would be).
    Anything else (bool, complex, not an array) is a TypeError: a bool mask or complex
    numbers as weights are bugs, not numbers to convert.
    """
    if not (hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "ndim")):
        raise TypeError(f"{name} must be a NumPy or CuPy array{_of_shape(layout)}, "
                        f"got {type(value).__name__}")
    if value.dtype.kind in "iu":
        value = value.astype(get_array_module(x).result_type(x.dtype, value.dtype))
    elif value.dtype.kind != "f":
        raise TypeError(f"{name} must hold real numbers (a float dtype, or integers that are "
                        f"converted to float), got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions{_of_shape(layout)}, "
                         f"got shape {tuple(value.shape)}")
    return value


def require_shape(name, x, expected, layout=None):
    """Check ``x.shape == expected`` (a tuple)."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}{_of_layout(layout)}, "
                         f"got {tuple(x.shape)}")


def require_label_smoothing(smoothing):
    """Check a label smoothing: a number with 0 <= smoothing < 1 (1 would ignore the labels)."""
    if isinstance(smoothing, bool) or not isinstance(smoothing, numbers.Real) or not 0 <= smoothing < 1:
        raise ValueError(f"label smoothing must be a number with 0 <= smoothing < 1, got {smoothing!r}")


def require_labels(y, num_samples, num_classes):
    """Check class labels: integers of shape (N,) with 0 <= y[i] < num_classes."""
    if not (hasattr(y, "shape") and hasattr(y, "dtype")):
        raise TypeError(f"y must be an integer array of shape ({num_samples},), got {type(y).__name__}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")
    if tuple(y.shape) != (num_samples,):
        raise ValueError(f"y must have shape ({num_samples},) to match the {num_samples} scores, "
                         f"got {tuple(y.shape)}")
    # One host read of a device array (labels are checked at every training step): a bool,
    # not y.min() and y.max() each pulled to the host.
    if num_samples and bool(((y < 0) | (y >= num_classes)).any()):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values from "
                         f"{int(y.min())} to {int(y.max())}")


def read_params(param_name, params, defaults):
    """Read a hyperparameter dict against its defaults, rejecting unknown keys.

    ``defaults`` maps each allowed key to its default, or to ``REQUIRED``.
    Returns a dict with every key filled in.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{param_name} must be a dict with keys {sorted(defaults)}, "
                        f"got {type(params).__name__}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"{param_name} has unknown keys {unknown}; allowed: {sorted(defaults)}")
    missing = sorted(k for k, v in defaults.items() if v is REQUIRED and k not in params)
    if missing:
        raise ValueError(f"{param_name} is missing required keys {missing}")
    return {**defaults, **params}


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


def _of_shape(layout):
    return f" of shape {layout}" if layout else ""


def _of_layout(layout):
    return f" {layout}" if layout else ""
