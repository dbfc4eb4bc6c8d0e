"""The committed student release: up to date with its sources, and leaking nothing.

This is the test that fails when someone edits cs231n_lib/ or solutions/ without running
`make release`. It regenerates the release into a temporary folder and compares it with
assignments/ byte for byte.
"""

import pytest

from autograder.bundle import write_zip
from autograder.nbgrader import exclude_overwriting
from autograder.course import Layout
from autograder.leak_scan import collect_rules, scan_release
from autograder.release import _source_notebooks, release
from autograder.tasks import load_catalog

from .tree import differences, snapshot

pytestmark = pytest.mark.slow   # regenerates the whole release

LAYOUT = Layout.of_repo()
CATALOG = load_catalog(LAYOUT.tasks_file, LAYOUT.lib_dir)
WITH_NOTEBOOK = [a.name for a in CATALOG.assignments
                 if (LAYOUT.solutions_dir / a.name / a.notebook).is_file()]
needs_notebooks = pytest.mark.skipif(not WITH_NOTEBOOK, reason="no notebook in solutions/ yet: nothing is released")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("regenerated")
    layout = LAYOUT.with_outputs(course_dir=out / "course", assignments_dir=out / "assignments")
    release(layout, log=lambda message: None)
    return layout.assignments_dir


@needs_notebooks
@pytest.mark.parametrize("assignment", WITH_NOTEBOOK)
def test_the_committed_release_is_up_to_date(regenerated, assignment):
    committed = LAYOUT.assignments_dir / assignment
    assert committed.is_dir(), f"{committed} is missing: run `make release` and commit assignments/"
    found = differences(snapshot(regenerated / assignment), snapshot(committed))
    assert found == [], f"assignments/{assignment} is out of date with its sources: run `make release`.\n" + \
        "\n".join(found)


def test_assignments_holds_only_released_assignments():
    present = sorted(p.name for p in LAYOUT.assignments_dir.iterdir()) if LAYOUT.assignments_dir.is_dir() else []
    present = [name for name in present if not name.startswith(".")]
    assert present == sorted(WITH_NOTEBOOK), "assignments/ must hold exactly the assignments that have a notebook"


@needs_notebooks
def test_the_committed_release_leaks_nothing():
    rules = collect_rules(_source_notebooks(LAYOUT, CATALOG), LAYOUT.lib_dir)
    leaks = [leak for name in WITH_NOTEBOOK for leak in scan_release(LAYOUT.assignments_dir / name, rules)]
    assert leaks == [], "\n".join(map(str, leaks))


def test_autograde_keeps_the_library_files_each_assignment_asks_for():
    expected = exclude_overwriting(CATALOG, "cs231n_lib")
    assert expected["conv_pool"] == ["cs231n_lib/layers.py"]
    assert expected["train_cifar10"] == ["cs231n_lib/classifiers/cnn.py"]
    assert set(expected) == set(CATALOG.names())


@needs_notebooks
@pytest.mark.parametrize("assignment", WITH_NOTEBOOK)
def test_the_release_zips_each_bundle_as_students_download_it(regenerated, assignment, tmp_path):
    """dist/<a>.zip: the committed folder under one top folder, the same bytes as zipping it again."""
    zipped = regenerated.parent / "dist" / f"{assignment}.zip"
    assert zipped.is_file(), f"the release wrote no {zipped}"
    again = write_zip(LAYOUT.assignments_dir / assignment, tmp_path / f"{assignment}.zip", top=assignment)
    assert zipped.read_bytes() == again.read_bytes()
