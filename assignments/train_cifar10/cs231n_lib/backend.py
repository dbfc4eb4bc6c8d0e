"""The one place that imports NumPy and CuPy.

Every other module either takes ``xp = get_array_module(x)`` from its input
arrays (so the same code runs on NumPy and on CuPy) or uses ``np`` from here for
host-side work (random indices, checkpoints, plots).

Backend choice: ``"numpy"``, ``"cupy"`` or ``"auto"``. ``auto`` picks CuPy only
when ``cupy.is_available()`` is True, i.e. CuPy is installed *and* a CUDA GPU is
usable. The default comes from the environment variable ``CS231N_BACKEND``
(``numpy`` when unset) and can be changed with :func:`set_default_backend`.

>>> x = np.zeros((2, 3))
>>> get_array_module(x) is np
True
>>> resolve_backend("numpy") is np
True
"""

import os
import sys
import types

import numpy as np

BACKENDS = ("numpy", "cupy", "auto")
BACKEND_ENV_VAR = "CS231N_BACKEND"

_default_backend = None  # None: read CS231N_BACKEND on first use


class BackendUnavailableError(RuntimeError):
    """CuPy was asked for where it cannot run."""


def _import_cupy():
    """Return the cupy module, or None when it is not installed."""
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def cupy_status():
    """Return (usable, reason): whether CuPy can run here and, if not, why."""
    cupy = _import_cupy()
    if cupy is None:
        return False, ("CuPy is not installed; install the GPU extra "
                       "(pip install 'cupy-cuda12x') on a machine with a CUDA GPU")
    if not cupy.is_available():
        return False, ("CuPy is installed but sees no usable CUDA GPU "
                       "(cupy.is_available() is False); use backend='numpy' or run on a GPU machine")
    return True, "CuPy with a CUDA GPU"


def _check_backend_name(name):
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


def get_default_backend():
    """The backend name used when none is given (from CS231N_BACKEND or set_default_backend)."""
    if _default_backend is not None:
        return _default_backend
    name = os.environ.get(BACKEND_ENV_VAR, "numpy").strip().lower() or "numpy"
    if name not in BACKENDS:
        raise ValueError(f"environment variable {BACKEND_ENV_VAR} must be one of {BACKENDS}, got {name!r}")
    return name


def set_default_backend(name):
    """Set the process-wide default backend (``numpy``, ``cupy`` or ``auto``)."""
    global _default_backend
    _check_backend_name(name)
    resolve_backend(name)  # fail now, not at the first training step
    _default_backend = name


def resolve_backend(name=None) -> types.ModuleType:
    """Return the array module (numpy or cupy) for a backend name.

    Raises BackendUnavailableError when ``"cupy"`` is asked for where CuPy is
    missing or has no GPU; ``"auto"`` then quietly falls back to NumPy.
    """
    name = get_default_backend() if name is None else name
    _check_backend_name(name)
    if name == "numpy":
        return np
    usable, reason = cupy_status()
    if usable:
        return _import_cupy()
    if name == "auto":
        return np
    raise BackendUnavailableError(f"backend 'cupy' was asked for but cannot run: {reason}")


def get_array_module(*arrays) -> types.ModuleType:
    """The array module (numpy or cupy) that owns the given arrays.

    Never imports CuPy: an argument can only be a CuPy array once ``cupy`` is imported, so
    NumPy users never pay for it. The check is ``isinstance(a, cupy.ndarray)`` on the module
    ``import cupy`` gives (the tests' strict stand-in for CuPy takes its place there).
    """
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


def to_numpy(x):
    """Copy an array to the host as a NumPy array (a no-op for NumPy arrays)."""
    if get_array_module(x) is np:
        return np.asarray(x)
    return x.get()


def to_device(x, xp=None):
    """Move a host array to the array module ``xp`` (a backend name or module; default backend)."""
    if xp is None or isinstance(xp, str):
        xp = resolve_backend(xp)
    if xp is np:
        return to_numpy(x)
    return xp.asarray(x)


def is_float_array(x):
    """True for a NumPy or CuPy array with a floating dtype."""
    return hasattr(x, "dtype") and hasattr(x, "shape") and x.dtype.kind == "f"
