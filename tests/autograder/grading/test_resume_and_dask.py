"""A grading run killed midway resumes with a consistent gradebook; without bubblewrap grading refuses
unless told otherwise. Grading on Dask: test_dask_deployed.py (a cluster started as instructors start one)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.__main__ import main
from autograder.grading.batch import grade_class
from autograder.nbgrader import gradebook_scores, open_gradebook, scores_of
from autograder.course import REPO_ROOT
from autograder.notebook_spec import notebook_spec
from autograder.grading.results import RESULT_FORMAT, read_results

from ..conftest import OPTIONS, collected_class

pytestmark = pytest.mark.slow   # kills and resumes grading runs

ASSIGNMENT = "architectures"   # notebook only (no library tasks): the cheapest real grading


def student_processes_left(scratch: Path) -> list[str]:
    """Pids of sandboxed student processes still alive whose files came from ``scratch`` (the
    grader's TMPDIR): other grading runs on a shared machine are left out by their mounts."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if (entry.isdigit() and b"/grader/student_process.py" in Path("/proc", entry, "cmdline").read_bytes()
                    and str(scratch) in Path("/proc", entry, "mountinfo").read_text()):
                found.append(entry)
        except OSError:
            pass
    return found


def assert_gradebook_matches_results(layout, expect_all: bool):
    spec = notebook_spec(layout, layout.catalog().get(ASSIGNMENT))
    results = read_results(layout, ASSIGNMENT)
    with sqlite3.connect(layout.gradebook) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with open_gradebook(layout.gradebook) as gradebook:
        stored = gradebook_scores(gradebook, ASSIGNMENT)
    assert set(stored) <= set(results)          # never a gradebook entry without its result
    for student, cells in stored.items():
        assert cells == scores_of(results[student], spec), student   # and never half an entry
    if expect_all:
        assert set(stored) == set(results)
    return results


def test_a_run_killed_midway_leaves_whole_results_and_resumes(requires_sandbox, tmp_path):
    # Enough students that killing the run just after the first result catches it midway.
    layout = collected_class(tmp_path, ASSIGNMENT, {"s1": "reference", "s2": "partial", "s3": "reference",
                                                    "s4": "partial", "s5": "reference", "s6": "partial"})
    command = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--course-dir", str(layout.course_dir),
               "--jobs", "1", "--no-progress", "--cell-timeout", str(OPTIONS.cell_timeout)]
    scratch = tmp_path / "grader-tmp"
    scratch.mkdir()
    process = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True, env={**os.environ, "TMPDIR": str(scratch)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, seen_running = time.monotonic() + 120, False
    while not list(layout.results_dir(ASSIGNMENT).glob("*.json")) and time.monotonic() < deadline:
        seen_running = seen_running or bool(student_processes_left(scratch))
        time.sleep(0.02)
    assert seen_running, "the test cannot tell this run's student processes from others"
    os.killpg(process.pid, signal.SIGKILL)   # while the next student is being graded
    process.wait()
    deadline = time.monotonic() + 10          # sandboxes die with their grader (bwrap --die-with-parent)
    while student_processes_left(scratch) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert student_processes_left(scratch) == []
    first = assert_gradebook_matches_results(layout, expect_all=False)
    assert 1 <= len(first) < 6
    for path in layout.results_dir(ASSIGNMENT).glob("*.json"):
        assert json.loads(path.read_text())["format"] == RESULT_FORMAT

    report = grade_class(layout, ASSIGNMENT, jobs=2, options=OPTIONS, progress=False)
    assert sorted(report.results) == ["s1", "s2", "s3", "s4", "s5", "s6"] and not report.internal_errors
    for student, result in first.items():
        assert report.results[student]["graded_at"] == result["graded_at"]    # kept, not graded again
    results = assert_gradebook_matches_results(layout, expect_all=True)
    for honest in ("s1", "s3", "s5"):
        assert results[honest]["score"] == results[honest]["max_score"] - results[honest]["pending_manual_points"]
    for partial in ("s2", "s4", "s6"):
        assert results[partial]["score"] < results[partial]["max_score"]


def test_without_bubblewrap_grading_refuses_unless_told(tmp_path, monkeypatch, capsys):
    layout = collected_class(tmp_path, ASSIGNMENT, {"cy": "stubs"})
    monkeypatch.setattr(sandbox, "_probe", lambda: (False, "bubblewrap is not installed (test)"))
    code = main(["grade", ASSIGNMENT, "--course-dir", str(layout.course_dir), "--no-progress"])
    assert code == 1
    error = capsys.readouterr().err
    assert "--unsafe-no-sandbox" in error and "bubblewrap is not installed (test)" in error
    assert not list(layout.results_dir(ASSIGNMENT).glob("*.json"))

    code = main(["grade", ASSIGNMENT, "--course-dir", str(layout.course_dir), "--no-progress", "--unsafe-no-sandbox",
                 "--cell-timeout", str(OPTIONS.cell_timeout)])
    captured = capsys.readouterr()
    assert code == 0 and "WARNING: GRADING WITHOUT A SANDBOX" in captured.err and "NOT SANDBOXED" in captured.out
    assert read_results(layout, ASSIGNMENT)["cy"]["sandboxed"] is False
