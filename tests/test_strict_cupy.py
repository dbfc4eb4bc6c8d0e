"""The strict CuPy stand-in (tests/strict_cupy.py): what it refuses, what it runs, what it counts,
and the planted host-device mistakes it catches where the name check and the NumPy tests do not."""

import inspect
import pickle
import re
import sys

import pytest

from cs231n_lib import layers
from cs231n_lib.backend import get_array_module, np, resolve_backend, to_device, to_numpy
from cs231n_lib.checks import require_labels

from . import strict_cupy
from .test_backend import xp_names_in

IMPLICIT = "Implicit conversion to a NumPy array is not allowed. Please use `.get()`"


def device(cp, shape=(2, 3), seed=0):
    return cp.asarray(np.random.default_rng(seed).standard_normal(shape))


# ----------------------------------------------------------------------------- refused, as by CuPy

def test_backend_resolves_cupy_to_the_stand_in(stand_in_cupy):
    assert resolve_backend("cupy") is stand_in_cupy and resolve_backend("auto") is stand_in_cupy
    d = to_device(np.zeros(3), "cupy")
    assert type(d) is stand_in_cupy.ndarray and get_array_module(d) is stand_in_cupy
    assert get_array_module(np.zeros(3)) is np
    assert stand_in_cupy.get_array_module(np.zeros(3), d) is stand_in_cupy
    assert stand_in_cupy.get_array_module(np.zeros(3), 1.0) is np
    assert stand_in_cupy.is_available()


def test_implicit_conversion_to_numpy_is_refused_with_cupys_message(stand_in_cupy):
    d = device(stand_in_cupy)
    for convert in (np.asarray, np.array, lambda a: np.concatenate([a, np.zeros((2, 3))]), lambda a: np.zeros(6).reshape(2, 3) + a,
                    lambda a: np.float64(1.0) * np.asarray(a)):
        with pytest.raises(TypeError, match="Implicit conversion|mixed into a device operation"):
            convert(d)
    with pytest.raises(TypeError, match=re.escape(IMPLICIT)):
        np.asarray(d)
    with pytest.raises(TypeError, match="pickle its .get"):
        pickle.dumps(d)


def test_numpy_operands_are_refused_in_device_operations(stand_in_cupy):
    cp, d, host = stand_in_cupy, device(stand_in_cupy), np.ones((2, 3))
    attempts = {
        "d + host": lambda: d + host, "host * d": lambda: host * d, "d @ host.T": lambda: d @ host.T,
        "d > host": lambda: d > host, "cp.maximum(d, host)": lambda: cp.maximum(d, host, out=d),
        "np.maximum(d, host)": lambda: np.maximum(d, host), "cp.matmul(host, d.T)": lambda: cp.matmul(host, d.T),
        "cp.tensordot(d, host)": lambda: cp.tensordot(d, host, axes=2),
        "cp.concatenate([d, host])": lambda: cp.concatenate([d, host]),
        "cp.where(d > 0, d, host)": lambda: cp.where(d > 0, d, host),
    }
    for what, attempt in attempts.items():
        with pytest.raises(TypeError, match="numpy.ndarray .* mixed into a device operation"):
            attempt()
            pytest.fail(f"{what} was accepted")

    def add_in_place():
        e = d.copy()
        e += host
    with pytest.raises(TypeError, match="mixed into a device operation"):
        add_in_place()


def test_a_host_index_or_a_host_value_in_a_device_array_is_refused(stand_in_cupy):
    """Stricter than CuPy, which copies them over silently on every call."""
    d = device(stand_in_cupy, (5, 3))
    with pytest.raises(TypeError, match="indexing a device array with a numpy.ndarray .* host-side randomness"):
        d[np.array([0, 2])]
    with pytest.raises(TypeError, match="assigning a numpy.ndarray of shape \\(3,\\) into a device array"):
        d[0] = np.zeros(3)
    with pytest.raises(TypeError, match="numpy.ndarray .* mixed"):
        stand_in_cupy.add.at(d, np.array([0, 0]), 1.0)


def test_names_cupy_lacks_are_refused(stand_in_cupy):
    for name in ("busday_count", "geomspace", "no_such_function"):
        assert not hasattr(stand_in_cupy, name)
    with pytest.raises(AttributeError, match="'tobytes_please'"):
        device(stand_in_cupy).tobytes_please()


def test_empty_buffers_hold_values_no_computation_should_read(stand_in_cupy):
    cp = stand_in_cupy
    assert np.isnan(cp.empty((2, 2)).get()).all() and np.isnan(cp.empty_like(device(cp)).get()).all()
    assert (cp.empty(3, dtype=np.int64).get() == np.iinfo(np.int64).max).all()
    assert cp.empty(2, dtype=bool).get().all()


# ----------------------------------------------------------------------------- run, as by CuPy

def test_the_cupy_idioms_of_the_library_run_and_agree_with_numpy(stand_in_cupy):
    cp = stand_in_cupy
    host = np.arange(24.0).reshape(2, 3, 4)
    d = cp.asarray(host)

    def same(got, expected):
        assert type(got) is cp.ndarray, type(got)
        np.testing.assert_array_equal(got.get(), expected)

    same(cp.pad(d, ((0, 0), (1, 1), (0, 0))), np.pad(host, ((0, 0), (1, 1), (0, 0))))
    same(d[cp.asarray([1, 0]), :, cp.arange(2)], host[[1, 0], :, np.arange(2)])  # fancy indexing on the device
    same(d[d > 10], host[host > 10])
    scatter, scatter_host = cp.zeros(4), np.zeros(4)
    cp.add.at(scatter, cp.asarray([0, 0, 3]), 1.0)
    np.add.at(scatter_host, [0, 0, 3], 1.0)
    same(scatter, scatter_host)
    windows = cp.lib.stride_tricks.as_strided(d, shape=(2, 3, 2, 2), strides=(96, 32, 8, 8))
    same(windows, np.lib.stride_tricks.as_strided(host, shape=(2, 3, 2, 2), strides=(96, 32, 8, 8)))
    same(cp.einsum("nij,nkj->nik", d, d), np.einsum("nij,nkj->nik", host, host))
    out = cp.empty((2, 3, 3))
    assert cp.matmul(d, d.transpose(0, 2, 1), out=out) is out  # out= gives back the device array
    same(out, host @ host.transpose(0, 2, 1))
    same(cp.tensordot(d, d, axes=([1, 2], [1, 2])), np.tensordot(host, host, axes=([1, 2], [1, 2])))
    same(np.maximum(d, 3.0), np.maximum(host, 3.0))  # NumPy's ufunc on device arrays runs on the device
    assert d.astype(np.float32).dtype == np.float32 and cp.result_type(d, np.float32) == np.float64
    same(d * np.float32(2) + 1, host * 2 + 1)  # NumPy and Python scalars are fine
    total = d.sum()
    assert type(total) is cp.ndarray and total.shape == ()  # reductions stay on the device
    assert float(total) == host.sum()
    assert cp.random.default_rng(0).standard_normal((2, 2)).shape == (2, 2)
    assert type(cp.random.randn(3)) is cp.ndarray


def test_transfers_are_counted_with_the_line_that_asked(stand_in_cupy):
    cp, counts = stand_in_cupy, strict_cupy.TRANSFERS
    d = cp.asarray(np.ones(3))
    d = d * 2
    host = to_numpy(d)
    value = float(d.sum())
    assert (counts.host_to_device, counts.device_to_host) == (1, 2) and value == 6.0 and host.sum() == 6.0
    assert list(counts.where("device_to_host")) == [
        f"test_strict_cupy.py:{inspect.currentframe().f_lineno - 4} (.get())",
        f"test_strict_cupy.py:{inspect.currentframe().f_lineno - 4} (float())"]
    copy = cp.asnumpy(d)
    assert type(copy) is np.ndarray and counts.device_to_host == 3
    copy[0] = -1.0  # a copy: the device array keeps its value
    assert float(d[0]) == 2.0
    assert cp.asnumpy(host) is host and counts.device_to_host == 4  # host data: no transfer (the 4th is float)
    d.set(np.zeros(3))
    assert counts.host_to_device == 2 and float(d.sum()) == 0.0


def test_the_labels_check_reads_device_labels_once(stand_in_cupy):
    """checks.require_labels runs at every training step: one host read, not y.min() and y.max()."""
    y = to_device(np.array([0, 3, 1, 2]), "cupy")
    require_labels(y, 4, 4)
    assert strict_cupy.TRANSFERS.device_to_host == 1, strict_cupy.TRANSFERS.log
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values from 0 to 3"):
        require_labels(y, 4, 3)


# ----------------------------------------------------------------------------- planted mistakes

def relu_forward_via_numpy(x):
    """layers.relu_forward with a slip: np.asarray on the input, harmless on NumPy."""
    xp = get_array_module(x)
    return xp.maximum(np.asarray(x), 0), x


def dropout_forward_with_a_host_mask(x, p=0.5, seed=0):
    """Inverted dropout whose mask is drawn with NumPy's generator: a host array in a device product."""
    mask = (np.random.default_rng(seed).random(x.shape) < p) / p
    return x * mask, mask


def minibatch_by_host_indices(X, y, batch_size, rng):
    """A minibatch of device arrays picked by host-side random indices."""
    xp = get_array_module(X)
    batch = rng.choice(X.shape[0], batch_size)
    return xp.ascontiguousarray(X[batch]), y[batch]


PLANTED = [
    (relu_forward_via_numpy, lambda xp: (to_device(np.linspace(-1, 1, 6).reshape(2, 3), xp),),
     "Implicit conversion to a NumPy array"),
    (dropout_forward_with_a_host_mask, lambda xp: (to_device(np.ones((4, 5)), xp),),
     "numpy.ndarray of shape \\(4, 5\\) was mixed into a device operation"),
    (minibatch_by_host_indices,
     lambda xp: (to_device(np.ones((10, 3)), xp), to_device(np.arange(10), xp), 4, np.random.default_rng(0)),
     "indexing a device array with a numpy.ndarray"),
]


@pytest.mark.parametrize("planted, arguments, error", PLANTED, ids=[p[0].__name__ for p in PLANTED])
def test_the_stand_in_catches_a_planted_host_device_mix(planted, arguments, error):
    # What the suite had before: every xp. name exists in CuPy, and the NumPy run is fine.
    import cupy as real_cupy
    assert all(hasattr(real_cupy, name) for name in xp_names_in(inspect.getsource(planted)))
    planted(*arguments(np))
    with strict_cupy.installed() as stand_in:
        with pytest.raises(TypeError, match=error):
            planted(*arguments(stand_in))


def test_the_library_function_the_first_plant_copies_runs_on_the_stand_in(stand_in_cupy):
    x = to_device(np.linspace(-1, 1, 6).reshape(2, 3), "cupy")
    out, _ = layers.relu_forward(x)
    np.testing.assert_array_equal(to_numpy(out), np.maximum(np.linspace(-1, 1, 6).reshape(2, 3), 0))


def test_installing_the_stand_in_restores_what_cupy_was_after():
    before = sys.modules.get("cupy")
    with strict_cupy.installed() as stand_in:
        assert sys.modules["cupy"] is stand_in and resolve_backend("cupy") is stand_in
        with strict_cupy.installed():  # the gpu hook and the stand_in_cupy fixture may nest
            assert sys.modules["cupy"] is stand_in
        assert sys.modules["cupy"] is stand_in
    assert sys.modules.get("cupy") is before
    assert before is None or before is not strict_cupy  # outside a gpu test, cupy is the real package
