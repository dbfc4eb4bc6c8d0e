"""The leak scan catches planted leaks and passes a clean release."""

import json

import nbformat
import pytest

from autograder.files import copy_tree
from autograder.leak_scan import collect_rules, scan_release
from autograder.stubs import write_stubs
from autograder.tasks import load_catalog

from .kit import HIDDEN_LINE, NOTEBOOK_SOLUTION_LINE, make_kit

REFERENCE_LINE = "scaled_value = x * self.factor"   # inside the region of ops.Scaler.scale


@pytest.fixture
def kit(tmp_path):
    layout = make_kit(tmp_path / "kit")
    rules = collect_rules([layout.solutions_dir / "first" / "First.ipynb"], layout.lib_dir)
    return layout, rules


@pytest.fixture
def clean_release(kit, tmp_path):
    """What a correct release looks like: stubbed library, notebook without solutions or hidden tests."""
    layout, _ = kit
    release = tmp_path / "release"
    copy_tree(layout.lib_dir, release / "minilib")
    write_stubs(release / "minilib", load_catalog(layout.tasks_file, layout.lib_dir))
    notebook = nbformat.read(layout.solutions_dir / "first" / "First.ipynb", as_version=4)
    notebook.cells[2].source = "# YOUR CODE HERE\nraise NotImplementedError()"
    notebook.cells[3].source = "assert double(2) == 4"
    nbformat.write(notebook, release / "First.ipynb")
    return release


def test_a_clean_release_passes(kit, clean_release):
    _, rules = kit
    assert scan_release(clean_release, rules) == []


def test_rules_hold_instructor_lines_but_not_public_or_trivial_ones(kit):
    _, rules = kit
    assert {HIDDEN_LINE, NOTEBOOK_SOLUTION_LINE, REFERENCE_LINE} <= set(rules.lines)
    assert "assert double(2) == 4" not in rules.lines       # a public check
    assert "return result" not in rules.lines               # public library code
    assert "return scaled_value" in rules.lines             # the reference body of a task


@pytest.mark.parametrize("relative, content, expected", [
    ("minilib/ops.py", "    ### BEGIN SOLUTION\n", "marker 'BEGIN SOLUTION'"),
    ("notes.txt", "see END HIDDEN TESTS\n", "marker 'END HIDDEN TESTS'"),
    ("image.png", b"\x89PNG\x00\xff BEGIN MARK SCHEME", "marker 'BEGIN MARK SCHEME'"),
    ("datasets/get_datasets.sh", f"#!/bin/sh\n  {HIDDEN_LINE}\n", "instructor-only line"),
    ("minilib/extra.py", f"def scale(self, x):\n    {REFERENCE_LINE}\n", "reference solution"),
    ("minilib/answer.py", f"{NOTEBOOK_SOLUTION_LINE}\n", "solution)"),
    ("minilib/ops.py", '"""The tasks are listed in solutions/tasks.toml."""\n', "instructor's kit 'tasks.toml'"),
    ("README.md", "Run `make venv` first.\n", "instructor's kit 'make venv'"),
])
def test_a_planted_leak_in_any_file_is_caught(kit, clean_release, relative, content, expected):
    _, rules = kit
    path = clean_release / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    leaks = scan_release(clean_release, rules)
    assert leaks and all(leak.path == relative for leak in leaks)
    assert expected in str(leaks[0])


def test_a_hidden_test_line_in_a_notebook_cell_or_output_is_caught(kit, clean_release):
    _, rules = kit
    path = clean_release / "First.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][3]["source"] = ["assert double(2) == 4\n", HIDDEN_LINE]
    notebook["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                        "text": [f"    {REFERENCE_LINE}\n"]}]
    path.write_text(json.dumps(notebook))
    found = {(leak.location, leak.what.split(" (from")[0]) for leak in scan_release(clean_release, rules)}
    assert found == {("cell 3 line 2", f"instructor-only line {HIDDEN_LINE!r}"),
                     ("cell 1 output", f"instructor-only line {REFERENCE_LINE!r}")}


def test_a_solution_cell_without_markers_is_instructor_only_as_a_whole(tmp_path, kit):
    layout, _ = kit
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(
        "The stride must divide the padded width exactly.",
        metadata={"nbgrader": {"solution": True, "grade": True, "grade_id": "q1", "points": 1,
                               "locked": False, "schema_version": 3, "task": False}})]
    nbformat.write(notebook, tmp_path / "Q.ipynb")
    rules = collect_rules([tmp_path / "Q.ipynb"], layout.lib_dir)
    assert "The stride must divide the padded width exactly." in rules.lines
