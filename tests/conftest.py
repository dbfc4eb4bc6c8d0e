"""Shared fixtures: a seeded generator, the array backends, Hypothesis settings."""

import os

import pytest
from hypothesis import HealthCheck, settings

from cs231n_lib.backend import cupy_status, np, resolve_backend

from . import strict_cupy

# CI keeps property tests small; HYPOTHESIS_PROFILE=thorough searches harder.
settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Read before any test can put the stand-in in sys.modules: True only with a real CUDA GPU.
CUPY_USABLE, CUPY_REASON = cupy_status()
CUPY_UNDER_TEST = ("real CuPy on a CUDA GPU" if CUPY_USABLE else
                   f"the strict CuPy stand-in, tests/strict_cupy.py ({CUPY_REASON})")

# The "cupy" case of every backend test runs on the real CuPy where a GPU exists and on the
# strict stand-in elsewhere (pytest_runtest_setup below): it is never skipped.
BACKEND_PARAMS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]


def pytest_report_header(config):
    return f"tests marked gpu run on: {CUPY_UNDER_TEST}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # A hook, not a fixture, so that it comes before every fixture (the xp fixture resolves
    # "cupy") and Hypothesis's tests see no extra function-scoped fixture.
    if item.get_closest_marker("gpu") and not CUPY_USABLE:
        item._strict_cupy = strict_cupy.installed()
        item._strict_cupy.__enter__()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    stand_in = getattr(item, "_strict_cupy", None)
    if stand_in is not None:
        del item._strict_cupy
        stand_in.__exit__(None, None, None)


@pytest.fixture
def stand_in_cupy():
    """The strict CuPy stand-in as ``cupy`` for one test, its transfer counts at zero, GPU or not."""
    with strict_cupy.installed() as stand_in:
        yield stand_in


@pytest.fixture
def rng():
    return np.random.default_rng(231)


@pytest.fixture(params=BACKEND_PARAMS)
def xp(request):
    """The array module of each backend: NumPy, and CuPy (its strict stand-in without a GPU)."""
    return resolve_backend(request.param)
