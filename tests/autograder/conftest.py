"""Fixtures of the autograder tests: a course directory in a temp folder, graded classes built from the release.

A class of five is graded once per session and shared by the tests that only read it.
Grading tests skip cleanly where bubblewrap cannot run (``requires_sandbox``).
"""

import shutil
from pathlib import Path

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.course import Layout
from autograder.grading.batch import grade_class
from autograder.grading.job import GradingOptions
from autograder.sandbox import sandbox_available, sandbox_unavailable_reason


@pytest.fixture(scope="session")
def requires_sandbox():
    if not sandbox_available():
        pytest.skip(f"bubblewrap cannot run here: {sandbox_unavailable_reason()}")


CLASS = {"ada": "reference", "ben": "partial", "cy": "stubs", "dan": "infinite_loop", "eve": "cheater"}
# Quick-mode cells of conv_pool finish in about a second; the infinite loop costs 3 cells x this.
CELL_TIMEOUT = 8
OPTIONS = GradingOptions(cell_timeout=CELL_TIMEOUT)


def new_layout(root: Path) -> Layout:
    """A course directory under ``root``, grading against the committed release in assignments/."""
    return Layout.of_repo().with_outputs(course_dir=Path(root) / "course")


def collected_class(root: Path, assignment: str, kinds: dict[str, str]) -> Layout:
    layout = new_layout(root)
    folders = build_class(layout, assignment, kinds, Path(root) / "class")
    collect(layout, assignment, [Path(root) / "class"], log=lambda line: None)
    assert sorted(layout.students_with_submissions(assignment)) == sorted(folders)
    return layout


@pytest.fixture(scope="session")
def graded_conv_pool(requires_sandbox, tmp_path_factory):
    """The class of five on conv_pool, collected from folders and graded two at a time."""
    root = tmp_path_factory.mktemp("conv_pool_class")
    layout = collected_class(root, "conv_pool", CLASS)
    report = grade_class(layout, "conv_pool", jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors
    yield layout, report.results
    shutil.rmtree(root, ignore_errors=True)
