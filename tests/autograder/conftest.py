"""Fixtures of the autograder tests: skip cleanly where bubblewrap cannot run; a course secret."""

import pytest

from autograder.sandbox import sandbox_available, sandbox_unavailable_reason


@pytest.fixture(scope="session")
def requires_sandbox():
    if not sandbox_available():
        pytest.skip(f"bubblewrap cannot run here: {sandbox_unavailable_reason()}")


@pytest.fixture(scope="session")
def secret_file(tmp_path_factory):
    return tmp_path_factory.mktemp("course") / ".grading_secret"
