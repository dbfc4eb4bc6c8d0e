"""Shared fixtures: a seeded generator, the array backends, Hypothesis settings."""

import os

import pytest
from hypothesis import HealthCheck, settings

from cs231n_lib.backend import cupy_status, np, resolve_backend

# CI keeps property tests small; HYPOTHESIS_PROFILE=thorough searches harder.
settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CUPY_USABLE, CUPY_REASON = cupy_status()
requires_gpu = pytest.mark.skipif(not CUPY_USABLE, reason=f"no CUDA GPU: {CUPY_REASON}")

BACKEND_PARAMS = ["numpy", pytest.param("cupy", marks=[pytest.mark.gpu, requires_gpu])]


@pytest.fixture
def rng():
    return np.random.default_rng(231)


@pytest.fixture(params=BACKEND_PARAMS)
def xp(request):
    """The array module of each backend: NumPy always, CuPy where a GPU is present."""
    return resolve_backend(request.param)
