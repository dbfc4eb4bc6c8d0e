"""A bounded grader: whatever a student's code returns or displays, the grader's memory and what it
writes for that student stay bounded (issue 16, items 5 and 6).

The budget test of one student process with a scaled-down budget is
``test_remote.py::test_answers_beyond_the_students_budget_are_refused_and_the_grader_holds_no_more``;
here, whole students are graded: one realistic measure of the grader's peak memory, and the
graded copy's size under scaled-down output limits.
"""

import dataclasses
import itertools
import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import files
from autograder.class_simulation import build_submission
from autograder.collect import collect
from autograder.grading.graded_copy import graded_copy
from autograder.grading.job import grade_student, job_for, plan_for
from autograder.grading.notebook_run import NotebookOutcome
from autograder.notebooks import read_notebook, write_notebook

from ..conftest import OPTIONS, new_layout

pytestmark = pytest.mark.slow   # grades hostile students in the sandbox


def hostile_student(layout, assignment_name: str, student: str, root: Path, code: str) -> None:
    """The release's stubs with one code cell added after the setup cell, collected as ``student``."""
    catalog = layout.catalog()
    assignment = catalog.get(assignment_name)
    folder = build_submission(layout, assignment, sorted(catalog.student_files()), "stubs", root / "class" / student)
    notebook = read_notebook(folder / assignment.notebook)
    notebook["cells"][2:2] = [{"cell_type": "code", "execution_count": None, "id": "added", "metadata": {},
                               "outputs": [], "source": code}]
    write_notebook(notebook, folder / assignment.notebook)
    collect(layout, assignment_name, [root / "class"], log=lambda line: None)


# Every name a grade cell of `architectures` reads from the notebook becomes a copy of one 64 MiB
# array after each cell the student runs: 29 answers of 64 MiB, each fetched by value.
FLOODER = textwrap.dedent('''
    import numpy as np
    _big = np.ones(2**23)
    _NAMES = {names!r}

    def _flood(result):
        get_ipython().user_ns.update(dict.fromkeys(_NAMES, _big))

    get_ipython().events.register("post_run_cell", _flood)
''')

MEASURE = textwrap.dedent('''
    import pickle, resource, sys
    from autograder.grading.job import grade_student
    job = pickle.loads(open(sys.argv[1], "rb").read())
    result = grade_student(job, True)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
''')


def test_the_graders_peak_memory_for_one_student_stays_bounded(requires_sandbox, tmp_path):
    """Before: every answer stayed in the grader as long as the grade cells' namespace held it
    (here 29 x 64 MiB, about 2.1 GB of peak RSS; the issue measured 4.4 GiB with 256 MiB answers)."""
    layout = new_layout(tmp_path)
    plan = plan_for(layout, "architectures", OPTIONS)
    names = sorted(set().union(*(cell.reads & plan.spec.solution_names for cell in plan.spec.grade_cells)))
    assert len(names) * 64 * 2**20 > 4 * files.LIMITS.held_answer_bytes   # far more than the budget, if all kept
    hostile_student(layout, "architectures", "flooder", tmp_path, FLOODER.format(names=names))
    hostile_student(layout, "architectures", "plain", tmp_path, "pass")

    def peak_rss_grading(student: str) -> int:
        """The peak RSS of a fresh process that grades ``student``: the grader's own memory."""
        job = job_for(layout, plan, student)
        (tmp_path / f"{student}.pickle").write_bytes(pickle.dumps(job))
        measured = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / f"{student}.pickle")],
                                  capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parents[3])
        assert measured.returncode == 0, measured.stderr[-3000:]
        return int(measured.stdout.split()[-1])

    # Measured against a peer graded in the same environment (the plain stubs peak at 0.14 GiB here;
    # one loaded full run once read 0.68 GiB for the flooder, which alone reads 0.38): the flooder may
    # add the budget and one answer in flight, never its 29 answers (0.24 GiB more than the stubs as
    # measured; about 1.9 GiB more before the budget).
    plain, peak = peak_rss_grading("plain"), peak_rss_grading("flooder")
    assert peak - plain < files.LIMITS.held_answer_bytes + 64 * 2**20, \
        f"peak RSS {peak / 2**30:.2f} GiB against {plain / 2**30:.2f} GiB for the plain stubs"
    job = job_for(layout, plan, "flooder")
    result = json.loads(Path(job.result_file).read_text())
    details = " ".join(str(check.get("detail")) for cell in result["notebook"]["cells"] for check in cell["checks"])
    assert result["notebook"]["score"] == 0
    # Answers beyond the budget were refused: in the grade cells, as in the notebook, the name is then not defined.
    assert "NameError: name 'vgg_total_parameters' is not defined" in details, details


DISPLAYER = textwrap.dedent('''
    import base64
    from IPython.display import display

    picture = base64.b64encode(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(500_000)).decode()   # about 0.7 MB each
    for _ in range(3):
        display({"image/png": picture, "text/plain": "<a picture>"}, raw=True)
    print("x" * 60_000)
''')


def test_the_graded_copy_and_the_result_stay_bounded_whatever_the_notebook_displays(requires_sandbox, tmp_path,
                                                                                    monkeypatch):
    """Before: the display caps held only in the student's process; 48 cells each displaying a
    large output made a 336 MB graded copy. Scaled down here: 200 kB per cell, 1 MB per copy."""
    monkeypatch.setattr(files, "LIMITS", dataclasses.replace(files.LIMITS, cell_output_chars=200_000,
                                                             graded_copy_chars=1_000_000))
    layout = new_layout(tmp_path)
    plan = plan_for(layout, "conv_pool", OPTIONS)
    hostile_student(layout, "conv_pool", "displayer", tmp_path, DISPLAYER)
    notebook = layout.submitted_dir("conv_pool", "displayer") / plan.spec.notebook
    data = read_notebook(notebook)
    data["cells"][3:3] = [dict(data["cells"][2], id=f"again-{n}") for n in range(7)]   # 8 such cells
    write_notebook(data, notebook)
    job = job_for(layout, plan, "displayer")
    result = grade_student(job, True)
    graded = Path(job.graded_copy)
    copy = json.loads(graded.read_text())
    shown = [copy["cells"][index] for index in range(2, 10)]
    assert all(cell["source"].startswith("\nimport base64") for cell in shown)
    assert any("output truncated" in output.get("text", "") for cell in shown for output in cell["outputs"])
    # The cells as written are within the limit; the notebook's own metadata and indentation add a little.
    assert graded.stat().st_size < 1_000_000 + 20_000, graded.stat().st_size
    assert Path(job.result_file).stat().st_size < 2**20
    assert result["notebook"]["score"] == 0


def test_a_notebook_of_many_tiny_cells_makes_a_bounded_graded_copy(tmp_path, monkeypatch):
    """Each cell of the copy carries an id and metadata: 40,000 empty cells with long ids made a
    copy of 15.6 MB before, whatever the limit. Scaled down: a copy of at most 100 kB."""
    monkeypatch.setattr(files, "LIMITS", dataclasses.replace(files.LIMITS, graded_copy_chars=100_000))
    spec = plan_for(new_layout(tmp_path), "conv_pool", OPTIONS).spec
    grade_id = "x" * 100   # the longest id the copy keeps, on every cell
    notebook = {"cells": [{"cell_type": kind, "source": "", "id": f"c{index}",
                           "metadata": {"nbgrader": {"grade_id": grade_id, "solution": True}}}
                          for index, kind in zip(range(40_000), itertools.cycle(["code", "markdown", "raw"]))]}
    copy = graded_copy(notebook, NotebookOutcome(cells=[], outputs={}, sources={}), spec)
    written = len(json.dumps(copy, indent=1))
    assert written < 100_000 + 2_000, written
    assert copy["cells"][-1]["source"].startswith("[") and "more cells are left out" in copy["cells"][-1]["source"]
