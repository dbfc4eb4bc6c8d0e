"""No wait without a deadline, and a time limit is never lost: a sandbox that does not start in
time counts as a time limit (graded again alone), and a second run that fails inside the grader
never replaces a valid first result. (The write to a process that stops reading its requests:
``test_remote.py::test_a_process_that_stops_reading_its_requests_is_killed_at_the_deadline``.)"""

import json
from pathlib import Path

import pytest

from autograder import files, nbgrader
from autograder.course import LIBRARY
from autograder.grading import job as job_module
from autograder.grading import remote
from autograder.grading.batch import BatchReport, _confirm_time_limits_alone
from autograder.grading.job import grade_notebook, job_for, plan_for
from autograder.grading.library import grade_library
from autograder.grading.results import read_result, reached_a_time_limit, write_result
from autograder.report import grade_table
from autograder.sandbox import SandboxLimits

from ..conftest import OPTIONS, collected_class

pytestmark = pytest.mark.slow   # starts sandboxes; collects a class


@pytest.fixture
def starved_machine(monkeypatch):
    """A machine so loaded that no sandbox answers its first request within the start time."""
    monkeypatch.setattr(remote, "START_SECONDS", 0.0)
    monkeypatch.setattr(remote, "GRACE_SECONDS", 0.0)


def test_a_sandbox_that_does_not_start_in_time_counts_as_a_time_limit(requires_sandbox, tmp_path, starved_machine):
    """Before: recorded as "could not start" with no time-limit flag, so never graded again alone
    (a starved machine would have cost the student everything)."""
    layout = collected_class(tmp_path, "conv_pool", {"ada": "reference"})
    plan = plan_for(layout, "conv_pool", OPTIONS)
    submission = layout.submitted_dir("conv_pool", "ada")
    home = tmp_path / "home"
    files.assemble_library(Path(plan.release_dir) / LIBRARY, submission, plan.own_files, home, LIBRARY)
    for folder in (tmp_path, home):
        folder.chmod(0o755)   # the sandbox's own uid reads the library from here
    notebook, graded = grade_notebook(submission, plan, home, use_sandbox=True)
    assert notebook["score"] == 0 and graded is None and "could not start" in notebook["run"]["description"]
    assert reached_a_time_limit({"notebook": notebook})
    library = grade_library(home, list(plan.tasks), seed=1, limits=SandboxLimits(wall_seconds=20),
                            use_sandbox=True)
    assert library["score"] == 0 and "could not start" in library["error"]
    assert reached_a_time_limit({"notebook": {"cells": []}, "library": library})


def test_a_second_run_that_fails_inside_the_grader_keeps_the_first_result(tmp_path, monkeypatch, capsys):
    """Before: the "could not be graded" result of the run alone (its scratch folder removed
    from under it) replaced the student's valid first result, in the gradebook and on disk."""
    layout = collected_class(tmp_path, "conv_pool", {"dan": "reference"})
    plan = plan_for(layout, "conv_pool", OPTIONS)
    dan = job_for(layout, plan, "dan")
    first = {"format": "cs231n-grade/2", "student_id": "dan", "assignment": "conv_pool", "score": 40.0,
             "max_score": 78.0, "graded_alone": False,
             "notebook": {"score": 40.0, "max_score": 46.0, "cells": [{"grade_id": "c", "status": "timeout"}], "run": {}},
             "library": None}
    write_result(Path(dan.result_file), first)

    def scratch_removed_when_alone(job, use_sandbox, fingerprint):
        if job.alone:
            raise FileNotFoundError("[Errno 2] No such file or directory: '/tmp/cs231n-grade-x/home'")
        raise AssertionError("only the run alone is expected here")

    monkeypatch.setattr(job_module, "_grade", scratch_removed_when_alone)
    report = BatchReport("conv_pool", results={"dan": first})
    with nbgrader.open_gradebook(layout.gradebook) as gradebook:
        nbgrader.ensure_structure(gradebook, plan.spec, {})
        _confirm_time_limits_alone(report, [dan], gradebook, layout, plan.spec, use_sandbox=False, progress=False)
    kept = report.results["dan"]
    assert kept["score"] == 40.0 and "grader_error" not in kept, kept
    assert "FileNotFoundError" in kept["regraded_alone_failed"]
    assert read_result(Path(dan.result_file)) == kept           # on disk too: the next run starts from it
    assert "first result stands" in capsys.readouterr().err
    assert json.loads(Path(dan.result_file).read_text())["score"] == 40.0
    assert "grading again alone failed inside the grader" in grade_table({"dan": kept})
