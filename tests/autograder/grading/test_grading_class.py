"""A real class graded end to end: correct ones full marks, broken ones lose exactly what they broke,
hostile ones gain nothing and harm nothing; the gradebook holds exactly the results."""

import shutil
from pathlib import Path

import pytest

from autograder.grading.batch import grade_class
from autograder.nbgrader import LIBRARY_NOTEBOOK, gradebook_scores, open_gradebook, scores_of
from autograder.course import REPO_ROOT
from autograder.notebook_spec import notebook_spec
from autograder.release import release

from ..conftest import OPTIONS

pytestmark = pytest.mark.slow   # grades a class in the sandbox


def lost_cells(result):
    """Autograded cells that lost points (written answers wait for a TA: tests/.../test_manual_answers.py)."""
    return {c["grade_id"]: c["points"] - c["score"] for c in result["notebook"]["cells"]
            if not c.get("manual") and c["score"] < c["points"]}


def lost_library_checks(result):
    return {(f["task"], c["name"]) for f in result["library"]["functions"] for c in f["checks"]
            if c["score"] < c["points"]}


def test_the_reference_solution_gets_full_marks(graded_conv_pool):
    _, results = graded_conv_pool
    ada = results["ada"]
    assert ada["sandboxed"] is True
    # 42 autograded notebook points and 10 of written answers, pending until a TA grades them.
    assert ada["notebook"]["max_score"] == 42 + 10 and ada["library"]["max_score"] == 32
    assert ada["score"] == 74 and ada["max_score"] == 84 and lost_cells(ada) == {}
    assert not ada["integrity"]["findings"]


def test_a_partly_correct_student_loses_exactly_what_they_broke(graded_conv_pool):
    _, results = graded_conv_pool
    ben = results["ben"]
    # The notebook answer left as the stub, and the db bug seen by the notebook's own check.
    assert lost_cells(ben) == {"convpool-test-output-size": 3, "convpool-test-affine-backward": 2}
    assert lost_library_checks(ben) == {("layers.affine_backward", "db"),
                                        ("layers.affine_backward", "agrees with the numerical gradient of your forward")}
    assert ben["score"] == 74 - 5 - 2


def test_the_untouched_stubs_score_zero(graded_conv_pool):
    _, results = graded_conv_pool
    assert results["cy"]["score"] == 0
    cells = results["cy"]["notebook"]["cells"]
    assert {c["status"] for c in cells if not c.get("manual")} == {"error"}
    assert {c["status"] for c in cells if c.get("manual")} == {"not answered"}   # 0 at once, no TA needed


def test_an_infinite_loop_costs_the_cells_that_call_it_and_the_batch_goes_on(graded_conv_pool):
    _, results = graded_conv_pool
    dan = results["dan"]
    timed_out = {c["grade_id"] for c in dan["notebook"]["cells"] if c["status"] == "timeout"}
    assert timed_out == {"convpool-test-conv-forward", "convpool-test-conv-backward",
                         "convpool-test-backward-by-convolution", "convpool-test-sandwich"}
    assert lost_cells(dan) == {"convpool-test-conv-forward": 6, "convpool-test-conv-backward": 5,
                               "convpool-test-backward-by-convolution": 3, "convpool-test-sandwich": 3}
    lost_functions = {task for task, _ in lost_library_checks(dan)}
    assert "layers.conv_forward_naive" in lost_functions
    # Calls still waiting when the library run's wall clock ends it are lost too (the loop's cost),
    # but what ran before the loop (affine, relu) keeps its points.
    assert {"layers.affine_forward", "layers.affine_backward", "layers.relu_forward"}.isdisjoint(lost_functions)


def test_the_cheater_gains_nothing_and_harms_nothing(graded_conv_pool):
    layout, results = graded_conv_pool
    eve = results["eve"]
    assert eve["score"] <= results["cy"]["score"] == 0
    assert eve["integrity"]["held"] and eve["notebook"]["held"]
    assert {c["status"] for c in eve["notebook"]["cells"] if not c.get("manual")} == {"held"}
    # What it tried to write landed in its sandbox's private home (gone with it) or nowhere.
    for path in (Path("/tmp/escaped.txt"), REPO_ROOT / "course" / "gradebook.db", layout.gradebook):
        assert not path.exists() or path.read_bytes()[:5] != b"owned"
    assert not (layout.course_dir / "escaped.txt").exists() and not (layout.course_dir.parent / "escaped.txt").exists()
    # The honest students' results are untouched by it.
    assert results["ada"]["score"] == 74


def test_the_gradebook_holds_every_result_and_the_library_part(graded_conv_pool):
    layout, results = graded_conv_pool
    assignment = layout.catalog().get("conv_pool")
    spec = notebook_spec(layout, assignment)
    with open_gradebook(layout.gradebook) as gradebook:
        stored = gradebook_scores(gradebook, "conv_pool")
        submission = gradebook.find_submission("conv_pool", "ada")
        assert submission.score == 74 and submission.max_score == 84
        assert {nb.name for nb in submission.notebooks} == {"ConvPool", LIBRARY_NOTEBOOK}
    assert set(stored) == set(results)
    for student, result in results.items():
        assert stored[student] == scores_of(result, spec), student


def test_grading_again_changes_nothing(graded_conv_pool):
    layout, results = graded_conv_pool
    again = grade_class(layout, "conv_pool", ["ada", "cy"], jobs=2, options=OPTIONS, progress=False)
    for student in ("ada", "cy"):
        assert again.results[student]["graded_at"] == results[student]["graded_at"]   # not graded again
        assert again.results[student] == results[student]


def test_releasing_again_after_grading_keeps_every_grade(graded_conv_pool, tmp_path):
    # nbgrader alone refuses: the gradebook holds submissions and the library's grade notebook,
    # which has no source notebook. The release must go through and leave the grades as they were.
    layout, _ = graded_conv_pool
    course_copy = tmp_path / "course"
    shutil.copytree(layout.course_dir, course_copy)
    kit = layout.with_outputs(course_dir=course_copy, assignments_dir=tmp_path / "assignments")
    with open_gradebook(course_copy / "gradebook.db") as gradebook:
        before = gradebook_scores(gradebook, "conv_pool")
    release(kit, ["conv_pool"], log=lambda line: None)
    assert (tmp_path / "assignments" / "conv_pool" / "ConvPool.ipynb").is_file()
    with open_gradebook(course_copy / "gradebook.db") as gradebook:
        assert gradebook_scores(gradebook, "conv_pool") == before
        assert gradebook.find_submission("conv_pool", "ada").score == 74
        # What nbgrader's own autograde and formgrader read is there: every nbgrader cell of the
        # source notebook as a source cell with its checksum, every grade cell with its points.
        notebook = gradebook.find_notebook("ConvPool", "conv_pool")
        spec = notebook_spec(layout, layout.catalog().get("conv_pool"))
        assert {c.name: c.max_score for c in notebook.grade_cells if c.cell_type == "code"} == \
            {c.grade_id: c.points for c in spec.grade_cells}
        assert {c.name: c.max_score for c in notebook.grade_cells if c.cell_type == "markdown"} == \
            {"convpool-answer-full-connectivity": 2, "convpool-answer-parameter-sharing": 3, "convpool-answer-pooling": 3,
             "convpool-answer-normalization": 2}
        assert {c.name for c in notebook.grade_cells} <= {c.name for c in notebook.source_cells}
        assert all(c.checksum for c in notebook.source_cells)


def test_the_library_part_has_a_graded_copy_for_formgrader(graded_conv_pool):
    """formgrader lists a gradebook notebook only when autograded/<s>/<a>/<notebook>.ipynb exists."""
    import json
    layout, results = graded_conv_pool
    copy = json.loads((layout.autograded_dir("conv_pool", "ben") / f"{LIBRARY_NOTEBOOK}.ipynb").read_text())
    cells = {c["metadata"]["nbgrader"]["grade_id"]: c for c in copy["cells"] if c["cell_type"] == "code"}
    assert sorted(cells) == sorted(f["task"] for f in results["ben"]["library"]["functions"])
    backward = cells["layers.affine_backward"]
    assert backward["metadata"]["nbgrader"]["points"] == 4
    printed = backward["outputs"][0]["text"]
    assert "FAIL  db  (0/1)" in printed and "PASS  dx  (1/1)" in printed
    assert backward["outputs"][1]["data"]["text/plain"] == "2 / 4"
