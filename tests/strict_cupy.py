"""A strict stand-in for CuPy: the library's GPU path, run and checked on a machine without a GPU.

``import cupy`` works here but ``cupy.is_available()`` is False, so nothing on CuPy's side
ever runs and a check by name (every ``xp.`` name exists in CuPy) cannot see the usual
CuPy bugs. This module is a fake device: its arrays hold their data in NumPy arrays, but
they behave the way CuPy's do at every host-device boundary, and more strictly where a
CuPy mistake would only cost time:

Refused as CuPy refuses them (``TypeError``):

- implicit conversion to NumPy: ``np.asarray(d)``, ``np.array(d)``, anything calling
  ``__array__`` gets CuPy's own message ("Implicit conversion to a NumPy array is not
  allowed. Please use `.get()` to construct a NumPy array explicitly.");
- a NumPy array as an operand of a device operation (arithmetic, comparisons, ufuncs,
  ``matmul``, any ``cupy.`` function; NumPy scalars and Python numbers are fine);
- a NumPy function or ufunc called on a device array with a NumPy array beside it
  (``np.maximum(d, host)``); on device arrays alone it runs on the device, as CuPy's
  ``__array_ufunc__`` / ``__array_function__`` do;
- names CuPy does not have: the namespace is read from the installed ``cupy`` package
  (it imports without a GPU), so ``xp.foo`` fails here exactly when it would fail there.

Refused although CuPy accepts them (the stand-in is stricter, and says so in the message):

- a NumPy array as an index, or as the value assigned into a device array
  (``d[host_indices]``, ``d[...] = host``): CuPy copies it to the device silently, a
  synchronous transfer on every call, which is how host-side randomness (a minibatch
  drawn with ``np.random``) ends up stalling a GPU loop. Move it with ``cupy.asarray``.
- reading memory that was never written: ``cupy.empty`` / ``empty_like`` are filled
  with NaN (floats), the largest value (integers) or True (booleans); CuPy's are
  whatever the allocator held, which is often zero and hides the bug.
- out-of-bounds integer indices raise ``IndexError`` (CuPy wraps them around).

Counted: every host-device transfer, in :data:`TRANSFERS` (host to device: ``asarray``
/ ``array`` of host data, ``.set()``, a Python list as an index; device to host:
``.get()``, ``asnumpy``, ``float()``, ``int()``, ``bool()``, ``complex()``, ``.item()``,
``.tolist()``, ``repr``/``str``/``format``), each with the line of the library or test
that asked for it, so a test can bound the transfers of a training step or find the
scalar pulled to the host in a hot loop.

Why not ``array-api-strict``: scikit-learn and SciPy test their device-agnostic code on
CPU-only CI with ``array_api_strict`` (``SCIPY_ARRAY_API=1``; scikit-learn's
``yield_namespace_device_dtype_combinations``), whose arrays carry a device and refuse to
mix devices. We take that idea, but not the package: it implements the array API
standard only, and the kit's library is written in CuPy's NumPy-compatible dialect
(``out=`` arguments, ``pad``, ``ascontiguousarray``, ufunc objects, ``tensordot`` on
strided views, integer-array indexing, ``lib.stride_tricks``), all of which it rejects
although CuPy runs them. A stand-in must refuse what CuPy refuses and accept what CuPy
accepts, so it wraps NumPy behind CuPy's own namespace.

Use: inside ``with installed():`` (the ``strict_cupy`` fixture of ``tests/conftest.py``;
tests marked ``gpu`` get it automatically where no GPU is present), ``import cupy`` gives
this module, ``cs231n_lib.backend`` resolves ``"cupy"`` and ``"auto"`` to it, and
``get_array_module`` recognises its arrays as ``cupy.ndarray``.
"""

import contextlib
import functools
import os
import sys
import types

import numpy

from cs231n_lib import backend as cs231n_backend

try:
    import cupy as _real_cupy  # only its namespace is read: it imports without a GPU
    # CuPy imports some parts on first use; do it now, while "cupy" still names the real package.
    _real_cupy.random.Generator, _real_cupy.random.RandomState, _real_cupy.lib.stride_tricks  # noqa: B018
except ImportError:  # pragma: no cover - cupy-cuda12x is in the test extra
    _real_cupy = None

__version__ = f"strict stand-in for CuPy (NumPy {numpy.__version__})"

_IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")
_MESSENGERS = {os.path.abspath(__file__), os.path.abspath(cs231n_backend.__file__)}


# ----------------------------------------------------------------------------- transfers

class Transfers:
    """Host-device copies since the last ``reset()``: counts and, for each, where it came from."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.host_to_device = 0
        self.device_to_host = 0
        self.log = []  # (direction, what, "file:line" of the caller outside this module)

    def record(self, direction, what):
        if direction == "host_to_device":
            self.host_to_device += 1
        else:
            self.device_to_host += 1
        self.log.append((direction, what, _caller()))

    def where(self, direction):
        """The distinct callers of one direction's transfers, each with its count: {location: count}."""
        counts = {}
        for logged_direction, what, location in self.log:
            if logged_direction == direction:
                key = f"{location} ({what})"
                counts[key] = counts.get(key, 0) + 1
        return counts


TRANSFERS = Transfers()


def _caller():
    """file:line of the code that caused the transfer: the innermost frame outside this module
    and outside ``cs231n_lib/backend.py`` (whose to_device/to_numpy only carry out the request)."""
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename) in _MESSENGERS:
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


# ----------------------------------------------------------------------------- crossing the boundary

def _mixed(where, value):
    return TypeError(f"{where}: a numpy.ndarray of shape {value.shape} was mixed into a device operation; "
                     f"CuPy refuses host arrays here (TypeError: Unsupported type {type(value)}). "
                     "Move it to the device first (backend.to_device, cupy.asarray).")


def _device_values(value, where):
    """value with every device array replaced by its data; a NumPy array anywhere is a TypeError."""
    if type(value) is ndarray:
        return value._data
    if isinstance(value, numpy.ndarray):
        raise _mixed(where, value)
    if isinstance(value, (list, tuple)):
        return type(value)(_device_values(v, where) for v in value)
    return value


def _as_device(result):
    """NumPy results as device arrays; a NumPy scalar becomes a 0-d array (CuPy reductions give those)."""
    if isinstance(result, numpy.ndarray):
        return ndarray._of(result)
    if isinstance(result, numpy.generic):
        return ndarray._of(numpy.asarray(result))
    if isinstance(result, tuple):
        return tuple(_as_device(r) for r in result)
    if isinstance(result, list):
        return [_as_device(r) for r in result]
    return result


def _run(function, where, args, kwargs):
    """Call a NumPy function on device data; an ``out=`` device array comes back as itself."""
    out = kwargs.get("out")
    data_args = _device_values(args, where)
    data_kwargs = {key: _device_values(value, where) for key, value in kwargs.items()}
    result = function(*data_args, **data_kwargs)
    if type(out) is ndarray and result is out._data:
        return out
    if isinstance(out, tuple) and len(out) == 1 and type(out[0]) is ndarray and result is out[0]._data:
        return out[0]
    return _as_device(result)


def _index(key, where):
    """An index into a device array: device arrays, slices, ints; a host array is refused."""
    if type(key) is ndarray:
        return key._data
    if isinstance(key, numpy.ndarray):
        raise TypeError(f"{where}: indexing a device array with a numpy.ndarray of shape {key.shape} "
                        "(host memory). CuPy would copy the index to the device on every call, a "
                        "synchronous transfer, e.g. host-side randomness indexing device data; the "
                        "strict stand-in refuses it: make the index on the device or move it once "
                        "with cupy.asarray.")
    if isinstance(key, list):
        TRANSFERS.record("host_to_device", "a Python list as an index")
        return numpy.asarray(key)
    if isinstance(key, tuple):
        return tuple(_index(k, where) for k in key)
    return key


def _cupy_has(name, owner=None):
    """Whether CuPy (or one of its objects) has this name; without the package, NumPy's names count."""
    if _real_cupy is None:
        return True
    return hasattr(_real_cupy if owner is None else owner, name)


def _no_such(owner, name):
    return AttributeError(f"{owner} has no attribute {name!r} (the strict CuPy stand-in offers only "
                          "the names the installed CuPy has)")


# ----------------------------------------------------------------------------- the device array

def _operator(ufunc, reflected=False):
    def method(self, other):
        if isinstance(other, (numpy.ndarray, list)):
            raise _mixed(f"operator {ufunc.__name__}", other) if isinstance(other, numpy.ndarray) else \
                TypeError(f"operator {ufunc.__name__}: Unsupported type {type(other)} (CuPy takes "
                          "device arrays and scalars)")
        operands = (other, self) if reflected else (self, other)
        return _run(ufunc, f"operator {ufunc.__name__}", operands, {})
    return method


def _in_place(ufunc):
    def method(self, other):
        if isinstance(other, numpy.ndarray):
            raise _mixed(f"in-place {ufunc.__name__}", other)
        _run(ufunc, f"in-place {ufunc.__name__}", (self, other), {"out": self})
        return self
    return method


def _to_host_scalar(convert):
    def method(self):
        TRANSFERS.record("device_to_host", f"{convert.__name__}()")
        return convert(self._data)
    return method


class ndarray:
    """A device array of the stand-in: its data is a NumPy array nobody outside may see."""

    __slots__ = ("_data",)
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float):
        self._data = _uninitialised(numpy.empty(shape, dtype=dtype))

    @classmethod
    def _of(cls, data):
        array = object.__new__(cls)
        array._data = data
        return array

    # what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT_CONVERSION)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # np.add(d, d) runs on the device in CuPy; a host operand is refused by _run.
        return getattr(_Ufunc(ufunc), method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if not _cupy_has(name):
            return NotImplemented  # NumPy then raises TypeError: no implementation for cupy arrays
        return getattr(sys.modules[__name__], name)(*args, **kwargs)

    # explicit transfers
    def get(self, stream=None, order="C", out=None):
        """A NumPy copy of the data: the one explicit way to the host (counted)."""
        TRANSFERS.record("device_to_host", ".get()")
        return numpy.array(self._data, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy a host array into this device array (counted)."""
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"set() takes a numpy.ndarray, got {type(arr).__name__}")
        TRANSFERS.record("host_to_device", ".set()")
        self._data[...] = arr

    def item(self, *args):
        TRANSFERS.record("device_to_host", ".item()")
        return self._data.item(*args)

    def tolist(self):
        TRANSFERS.record("device_to_host", ".tolist()")
        return self._data.tolist()

    __float__ = _to_host_scalar(float)
    __int__ = _to_host_scalar(int)
    __bool__ = _to_host_scalar(bool)
    __complex__ = _to_host_scalar(complex)

    def __repr__(self):
        TRANSFERS.record("device_to_host", "repr()")
        return repr(self._data)

    def __str__(self):
        TRANSFERS.record("device_to_host", "str()")
        return str(self._data)

    def __format__(self, spec):
        TRANSFERS.record("device_to_host", "format()")
        return format(self._data if self._data.ndim else self._data[()], spec)

    # shape and layout: metadata, no transfer
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    itemsize = property(lambda self: self._data.itemsize)
    nbytes = property(lambda self: self._data.nbytes)
    strides = property(lambda self: self._data.strides)
    flags = property(lambda self: self._data.flags)
    T = property(lambda self: ndarray._of(self._data.T))
    device = property(lambda self: "strict stand-in device")

    @property
    def base(self):
        return None if self._data.base is None else ndarray._of(self._data.base)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __getitem__(self, key):
        return _as_device(self._data[_index(key, "indexing")])

    def __setitem__(self, key, value):
        if isinstance(value, numpy.ndarray):
            raise TypeError(f"assigning a numpy.ndarray of shape {value.shape} into a device array: CuPy "
                            "copies it to the device implicitly; the strict stand-in refuses it so that "
                            "the copy is written where it happens (cupy.asarray, backend.to_device)")
        self._data[_index(key, "assignment")] = _device_values(value, "assignment")

    def __getattr__(self, name):
        # Methods and attributes CuPy's ndarray has (sum, reshape, astype, ...), run on the data.
        if name.startswith("_") or not _cupy_has(name, getattr(_real_cupy, "ndarray", None)):
            raise _no_such("cupy.ndarray", name)
        value = getattr(self._data, name)
        if not callable(value):
            return _as_device(value)

        @functools.wraps(value)
        def method(*args, **kwargs):
            return _run(value, f"cupy.ndarray.{name}", args, kwargs)
        return method

    __add__, __radd__ = _operator(numpy.add), _operator(numpy.add, True)
    __sub__, __rsub__ = _operator(numpy.subtract), _operator(numpy.subtract, True)
    __mul__, __rmul__ = _operator(numpy.multiply), _operator(numpy.multiply, True)
    __truediv__, __rtruediv__ = _operator(numpy.true_divide), _operator(numpy.true_divide, True)
    __floordiv__, __rfloordiv__ = _operator(numpy.floor_divide), _operator(numpy.floor_divide, True)
    __mod__, __rmod__ = _operator(numpy.remainder), _operator(numpy.remainder, True)
    __pow__, __rpow__ = _operator(numpy.power), _operator(numpy.power, True)
    __matmul__, __rmatmul__ = _operator(numpy.matmul), _operator(numpy.matmul, True)
    __and__, __rand__ = _operator(numpy.bitwise_and), _operator(numpy.bitwise_and, True)
    __or__, __ror__ = _operator(numpy.bitwise_or), _operator(numpy.bitwise_or, True)
    __xor__, __rxor__ = _operator(numpy.bitwise_xor), _operator(numpy.bitwise_xor, True)
    __lshift__, __rlshift__ = _operator(numpy.left_shift), _operator(numpy.left_shift, True)
    __rshift__, __rrshift__ = _operator(numpy.right_shift), _operator(numpy.right_shift, True)
    __lt__, __le__ = _operator(numpy.less), _operator(numpy.less_equal)
    __gt__, __ge__ = _operator(numpy.greater), _operator(numpy.greater_equal)
    __eq__, __ne__ = _operator(numpy.equal), _operator(numpy.not_equal)
    __iadd__, __isub__ = _in_place(numpy.add), _in_place(numpy.subtract)
    __imul__, __itruediv__ = _in_place(numpy.multiply), _in_place(numpy.true_divide)
    __ifloordiv__, __imod__ = _in_place(numpy.floor_divide), _in_place(numpy.remainder)
    __ipow__, __iand__ = _in_place(numpy.power), _in_place(numpy.bitwise_and)
    __ior__, __ixor__ = _in_place(numpy.bitwise_or), _in_place(numpy.bitwise_xor)

    def __neg__(self):
        return _as_device(-self._data)

    def __pos__(self):
        return _as_device(+self._data)

    def __abs__(self):
        return _as_device(abs(self._data))

    def __invert__(self):
        return _as_device(~self._data)

    def __copy__(self):
        return _as_device(self._data.copy())

    def __deepcopy__(self, memo):
        return _as_device(self._data.copy())

    def __reduce__(self):
        raise TypeError("pickling a device array would copy it to the host implicitly: "
                        "pickle its .get() instead")


def _uninitialised(data):
    """Fill a fresh buffer with values no computation should read: NaN, the largest integer, True."""
    if data.dtype.kind in "fc":
        data.fill(numpy.nan)
    elif data.dtype.kind in "iu":
        data.fill(numpy.iinfo(data.dtype).max)
    elif data.dtype.kind == "b":
        data.fill(True)
    return data


# ----------------------------------------------------------------------------- functions and ufuncs

class _Ufunc:
    """A NumPy ufunc behind CuPy's ufunc: calls and methods (``at``, ``reduce``...) on device arrays."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def __call__(self, *args, **kwargs):
        return _run(self._ufunc, f"cupy.{self.__name__}", args, kwargs)

    def __getattr__(self, method):
        if method.startswith("_") or not _cupy_has(method, getattr(_real_cupy, self.__name__, None)):
            raise _no_such(f"cupy.{self.__name__}", method)
        numpy_method = getattr(self._ufunc, method)
        where = f"cupy.{self.__name__}.{method}"
        if method == "at":
            def at(a, indices, b=None):
                # a NumPy index array is as much a host operand here as anywhere
                return _run(numpy_method, where, (a, indices) if b is None else (a, indices, b), {})
            return at
        return lambda *args, **kwargs: _run(numpy_method, where, args, kwargs)


class _Namespace(types.SimpleNamespace):
    """A CuPy submodule (random, linalg, lib.stride_tricks...) served from its NumPy twin."""

    def __init__(self, numpy_module, cupy_module, name):
        super().__init__()
        object.__setattr__(self, "_numpy", numpy_module)
        object.__setattr__(self, "_cupy", cupy_module)
        object.__setattr__(self, "__name__", name)

    def __getattr__(self, name):
        if name.startswith("_") or not _cupy_has(name, self._cupy):
            raise _no_such(self.__name__, name)
        return _serve(getattr(self._numpy, name), getattr(self._cupy, name, None), f"{self.__name__}.{name}")


class _HostState:
    """A NumPy generator (``default_rng``, ``RandomState``) whose draws land on the device."""

    def __init__(self, state, cupy_type, name):
        self._state, self._cupy_type, self._name = state, cupy_type, name

    def __getattr__(self, name):
        if name.startswith("_") or not _cupy_has(name, self._cupy_type):
            raise _no_such(self._name, name)
        draw = getattr(self._state, name)
        return lambda *args, **kwargs: _run(draw, f"{self._name}.{name}", args, kwargs)


def _serve(numpy_value, cupy_value, where):
    """The stand-in for one CuPy name, from the NumPy object of the same name."""
    if isinstance(numpy_value, numpy.ufunc):
        return _Ufunc(numpy_value)
    if isinstance(numpy_value, types.ModuleType):
        return _Namespace(numpy_value, cupy_value, where)
    if isinstance(numpy_value, type) and issubclass(numpy_value, (numpy.random.Generator,
                                                                  numpy.random.RandomState)):
        return lambda *args, **kwargs: _HostState(numpy_value(*args, **kwargs), cupy_value, where)
    if isinstance(numpy_value, type) or not callable(numpy_value):
        return numpy_value  # dtypes (cupy.float32 is numpy.float32), constants
    if numpy_value is numpy.random.default_rng:
        return lambda *args, **kwargs: _HostState(numpy_value(*args, **kwargs),
                                                  getattr(_real_cupy.random, "Generator", None)
                                                  if _real_cupy else None, where)

    @functools.wraps(numpy_value)
    def function(*args, **kwargs):
        return _run(numpy_value, where, args, kwargs)
    return function


def __getattr__(name):
    """Any other CuPy name: the NumPy function of that name, on device arrays only."""
    if name.startswith("__") or not _cupy_has(name):
        raise _no_such("module 'cupy'", name)
    if not hasattr(numpy, name):
        raise AttributeError(f"cupy.{name} has no NumPy twin: the strict stand-in cannot emulate it")
    value = _serve(getattr(numpy, name), getattr(_real_cupy, name, None), f"cupy.{name}")
    globals()[name] = value  # served once
    return value


def is_available():
    """The stand-in device is always there."""
    return True


def asarray(a, dtype=None, order=None):
    """A device array of a: device arrays stay (cast if asked); host data is copied over (counted)."""
    if type(a) is ndarray:
        return a if dtype is None or a.dtype == numpy.dtype(dtype) else a.astype(dtype)
    data = numpy.array(a, dtype=dtype, order=order if order in ("C", "F") else "K", copy=True)
    TRANSFERS.record("host_to_device", "cupy.asarray")
    return ndarray._of(data)


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    if type(obj) is ndarray:
        return ndarray._of(numpy.array(obj._data, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    TRANSFERS.record("host_to_device", "cupy.array")
    return ndarray._of(numpy.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None):
    """A NumPy copy of a device array (counted); host data comes back as a NumPy array."""
    if type(a) is ndarray:
        return a.get(order=order)
    return numpy.asarray(a, order=order)


def get_array_module(*args):
    for a in args:
        if type(a) is ndarray:
            return sys.modules[__name__]
    return numpy


def empty(shape, dtype=float, order="C"):
    return ndarray._of(_uninitialised(numpy.empty(shape, dtype=dtype, order=order)))


def empty_like(prototype, dtype=None, order="K", subok=None, shape=None):
    data = _device_values(prototype, "cupy.empty_like")
    return ndarray._of(_uninitialised(numpy.empty_like(data, dtype=dtype, order=order, shape=shape)))


# ----------------------------------------------------------------------------- installing it

@contextlib.contextmanager
def installed():
    """``import cupy`` gives this stand-in inside the block, with the transfer counts at zero.

    ``cs231n_lib.backend`` keeps no cache of its own (it imports cupy on demand and knows
    a device array by ``isinstance(a, sys.modules["cupy"].ndarray)``), so nothing else needs
    resetting; the previous ``sys.modules["cupy"]`` (the real package, or none) comes back after.
    """
    missing = object()
    previous = sys.modules.get("cupy", missing)
    sys.modules["cupy"] = sys.modules[__name__]
    TRANSFERS.reset()
    try:
        yield sys.modules[__name__]
    finally:
        if previous is missing:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = previous
