"""The whole release on the synthetic kit, nbgrader included: layout, stubs, config, determinism, fail-closed."""

import dataclasses
import json
import subprocess
import sys

import pytest
from traitlets.config.loader import PyFileConfigLoader

from autograder.errors import ReleaseError
from autograder.course import REPO_ROOT
from autograder.notebooks import NOTEBOOK_CODE_STUB
from autograder.release import release
from autograder.stubs import stub_library
from autograder.tasks import load_catalog

from .kit import HIDDEN_LINE, NOTEBOOK_SOLUTION_LINE, make_kit
from .tree import differences, snapshot

pytestmark = pytest.mark.slow   # releases kits through nbgrader


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    layout = make_kit(tmp_path_factory.mktemp("kit"), with_second_notebook=True)
    report = release(layout, log=lambda message: None)
    return layout, report


def test_every_assignment_with_a_notebook_is_released(released):
    layout, report = released
    assert report.released == ["first", "second"] and report.skipped == {}
    assert sorted(p.name for p in layout.assignments_dir.iterdir()) == ["first", "second"]


def test_a_release_holds_notebook_stubbed_library_data_script_and_bundle_files(released):
    layout, _ = released
    files = snapshot(layout.assignments_dir / "first")
    assert sorted(files) == ["First.ipynb", "README.md", "datasets/get_datasets.sh", "minilib/__init__.py",
                             "minilib/ops.py", "minilib/sub/__init__.py", "minilib/sub/more.py",
                             "requirements.txt", "setup.sh", "submit.py"]
    assert files["datasets/get_datasets.sh"][1], "the data script must stay executable"
    # The second assignment runs the first one's functions: it gets the script that brings them.
    assert "bring_earlier_work.py" in snapshot(layout.assignments_dir / "second")
    catalog = load_catalog(layout.tasks_file, layout.lib_dir)
    for relative, text in stub_library(layout.lib_dir, catalog).items():
        assert files[f"minilib/{relative.as_posix()}"][0] == text.encode()


def test_the_released_notebook_has_no_solution_and_no_hidden_test(released):
    layout, _ = released
    notebook = json.loads((layout.assignments_dir / "first" / "First.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert sources[2] == NOTEBOOK_CODE_STUB
    assert sources[3] == "assert double(2) == 4"
    text = json.dumps(notebook)
    assert HIDDEN_LINE not in text and NOTEBOOK_SOLUTION_LINE not in text
    assert notebook["cells"][3]["metadata"]["nbgrader"]["points"] == 2


def test_the_generated_config_is_what_nbgrader_reads(released):
    layout, _ = released
    config = PyFileConfigLoader("nbgrader_config.py", path=str(layout.course_dir)).load_config()
    assert config.Autograde.exclude_overwriting == {"first": ["minilib/ops.py"], "second": ["minilib/sub/more.py"]}
    assert config.CourseDirectory.root == str(layout.course_dir)


def test_releasing_again_gives_identical_files(released, tmp_path):
    layout, _ = released
    again = layout.with_outputs(assignments_dir=tmp_path / "again")
    release(again, ["first"], log=lambda message: None)
    assert differences(snapshot(layout.assignments_dir / "first"), snapshot(tmp_path / "again" / "first")) == []


def test_a_leak_stops_the_release_and_leaves_the_old_one_in_place(released, tmp_path):
    layout, _ = released
    before = snapshot(layout.assignments_dir)
    leaky_script = tmp_path / "get_datasets.sh"
    leaky_script.write_text(f"#!/bin/sh\n{HIDDEN_LINE}\n")
    leaky = dataclasses.replace(layout, data_script=leaky_script)
    with pytest.raises(ReleaseError, match=r"(?s)first: the release leaks.*datasets/get_datasets.sh line 2"):
        release(leaky, ["first"], log=lambda message: None)
    assert snapshot(layout.assignments_dir) == before
    assert sorted(p.name for p in layout.assignments_dir.iterdir()) == ["first", "second"]
    assert not (layout.course_dir / "release" / "first").exists(), "nbgrader's copy must go too"


def test_assignments_without_a_notebook_are_skipped_and_named_ones_are_required(tmp_path):
    layout = make_kit(tmp_path)
    (layout.solutions_dir / "first" / "First.ipynb").unlink()
    report = release(layout, log=lambda message: None)
    assert report.released == [] and sorted(report.skipped) == ["first", "second"]
    assert not layout.assignments_dir.exists()
    with pytest.raises(ReleaseError, match=r"second: expected its notebook at .*Second.ipynb, found none"):
        release(layout, ["second"], log=lambda message: None)


def test_a_region_outside_the_tasks_stops_the_release_before_anything_is_built(tmp_path):
    layout = make_kit(tmp_path)
    with open(layout.lib_dir / "ops.py", "a") as module:
        module.write("\n\ndef extra():\n    ### BEGIN SOLUTION\n    return 0\n    ### END SOLUTION\n")
    with pytest.raises(ReleaseError, match=r"minilib/ops.py:\d+: solution region in 'extra'"):
        release(layout, log=lambda message: None)
    assert not layout.course_dir.exists() and not layout.assignments_dir.exists()


def test_the_cli_reports_errors_with_a_nonzero_exit(tmp_path):
    result = subprocess.run([sys.executable, "-m", "autograder", "release", "no_such_assignment",
                             "--course-dir", str(tmp_path / "course"),
                             "--assignments-dir", str(tmp_path / "assignments")],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "release failed: unknown assignment 'no_such_assignment'" in result.stderr
    assert not (tmp_path / "assignments").exists()
