"""The backend module: choosing NumPy or CuPy, moving arrays, and the xp. contract."""

import ast
import pathlib

import pytest

from cs231n_lib import backend
from cs231n_lib.backend import (BackendUnavailableError, get_array_module, np, resolve_backend,
                                to_device, to_numpy)

from .conftest import CUPY_USABLE

LIBRARY = pathlib.Path(backend.__file__).parent


def library_modules():
    return sorted(p for p in LIBRARY.rglob("*.py"))


def test_get_array_module_of_numpy_arrays_and_scalars():
    assert get_array_module(np.zeros(3)) is np
    assert get_array_module(1.0, np.zeros(2)) is np


def test_to_numpy_and_to_device_round_trip(xp):
    host = np.arange(6.0).reshape(2, 3)
    device = to_device(host, xp)
    assert get_array_module(device) is xp
    np.testing.assert_array_equal(to_numpy(device), host)


def test_unknown_backend_name_is_refused():
    with pytest.raises(ValueError, match="one of .*'numpy'.*got 'tensorflow'"):
        resolve_backend("tensorflow")


def test_env_var_sets_the_default(monkeypatch):
    monkeypatch.setattr(backend, "_default_backend", None)
    monkeypatch.setenv("CS231N_BACKEND", "auto")
    assert backend.get_default_backend() == "auto"
    monkeypatch.setenv("CS231N_BACKEND", "gpu-please")
    with pytest.raises(ValueError, match="CS231N_BACKEND"):
        backend.get_default_backend()


def test_set_default_backend(monkeypatch):
    monkeypatch.setattr(backend, "_default_backend", None)
    backend.set_default_backend("numpy")
    assert resolve_backend() is np


@pytest.mark.skipif(CUPY_USABLE, reason="this machine has a GPU, so cupy resolves")
def test_cupy_without_gpu_says_why_and_auto_falls_back():
    with pytest.raises(BackendUnavailableError, match="cupy.*(not installed|no usable CUDA GPU)"):
        resolve_backend("cupy")
    assert resolve_backend("auto") is np


def test_only_backend_imports_numpy_or_cupy():
    offenders = []
    for path in library_modules():
        if path.name == "backend.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("numpy", "cupy")]
    assert offenders == []


def xp_names_in(source):
    """Every NAME in ``xp.NAME`` in some Python source."""
    return {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "xp"}


def xp_names_used():
    """Every NAME in ``xp.NAME`` across the library, with where it is used."""
    used = {}
    for path in library_modules():
        for name in xp_names_in(path.read_text()):
            used.setdefault(name, set()).add(path.name)
    return used


def test_library_uses_xp_names():
    # Guards the test below against passing vacuously.
    assert {"pad", "tensordot", "zeros_like", "arange"} <= set(xp_names_used())


def test_every_xp_name_exists_in_cupy():
    import cupy  # part of the test extra: it imports without a GPU
    missing = {name: sorted(files) for name, files in xp_names_used().items()
               if not hasattr(cupy, name)}
    assert missing == {}, f"xp. names CuPy lacks: {missing}"
