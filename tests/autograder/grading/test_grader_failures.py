"""A failure of the grader itself for one student: a result that says so, the batch intact, no crash loop."""

import pytest

from autograder.grading import job as job_module
from autograder.grading.batch import grade_class
from autograder.report import grade_table

from ..conftest import OPTIONS, collected_class

pytestmark = pytest.mark.slow   # grades a class in the sandbox


def test_a_grader_failure_for_one_student_gives_a_result_that_says_so(requires_sandbox, tmp_path, monkeypatch):
    layout = collected_class(tmp_path, "architectures", {"ann": "reference", "bob": "reference"})
    scan = job_module.scan_submission

    def failing_for_bob(submission, release, notebook):
        if submission.parent.name == "bob":
            raise RuntimeError("a bug in the grader, reached by bob's submission")
        return scan(submission, release, notebook)

    monkeypatch.setattr(job_module, "scan_submission", failing_for_bob)
    report = grade_class(layout, "architectures", jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors and set(report.results) == {"ann", "bob"}
    ann, bob = report.results["ann"], report.results["bob"]
    # Every point but the written answers, which wait for a TA.
    assert ann["score"] == ann["max_score"] - ann["pending_manual_points"] > 0
    assert bob["score"] == 0 and bob["max_score"] == ann["max_score"]
    assert "could not be graded" in bob["grader_error"] and "RuntimeError" in bob["grader_error"]
    assert {cell["status"] for cell in bob["notebook"]["cells"]} == {"missing"}
    assert "COULD NOT BE GRADED" in grade_table(report.results)
    # Run again with the same grader: the stored result stands (no failure again, no crash).
    again = grade_class(layout, "architectures", jobs=2, options=OPTIONS, progress=False)
    assert again.results["bob"]["graded_at"] == bob["graded_at"]
