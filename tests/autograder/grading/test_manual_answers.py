"""Written answers: graded by a person in formgrader, pending until then, in every report once given.

A kit whose conv_pool notebook has one inline question (a manually graded answer cell) is
released, a class is graded, and a TA's score and comment are set through nbgrader's API as
formgrader sets them. Nothing here counts a pending answer as 0 or as full.
"""

import csv
import dataclasses
import json
import re
import shutil

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.grading.batch import grade_class
from autograder.grading.job import GradingOptions
from autograder.nbgrader import export_csv, open_gradebook
from autograder.notebooks import read_notebook, write_notebook
from autograder.release import release
from autograder.report import export_gradescope, export_per_function_csv, grade_table, graded_results, write_feedback

from ..conftest import CELL_TIMEOUT, new_layout

pytestmark = pytest.mark.slow   # releases and grades a class in the sandbox

ANSWER_ID = "convpool-answer-small-filters"
REFERENCE_ANSWER = ("**Reference answer.** Three 3x3 layers see 7x7 with 27 C^2 weights against 49 C^2, and "
                    "three non-linearities. **Rubric (2 points).** 1 for the counts, 1 for the non-linearities.")


@pytest.fixture(scope="module")
def graded(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("manual")
    solutions = root / "solutions"
    shutil.copytree(new_layout(root).solutions_dir, solutions)
    notebook_path = solutions / "conv_pool" / "ConvPool.ipynb"
    notebook = read_notebook(notebook_path)
    notebook["cells"][-1:-1] = [
        {"cell_type": "markdown", "id": "convpool-question-small-filters",
         "metadata": {"nbgrader": {"grade": False, "grade_id": "convpool-question-small-filters", "locked": True,
                                   "schema_version": 3, "solution": False}},
         "source": "**Inline question.** Why do three stacked 3x3 conv layers beat one 7x7 layer?"},
        {"cell_type": "markdown", "id": ANSWER_ID,
         "metadata": {"nbgrader": {"grade": True, "grade_id": ANSWER_ID, "locked": False, "points": 2,
                                   "schema_version": 3, "solution": True}},
         "source": REFERENCE_ANSWER}]
    write_notebook(notebook, notebook_path)
    layout = dataclasses.replace(new_layout(root), solutions_dir=solutions, tasks_file=solutions / "tasks.toml",
                                 assignments_dir=root / "assignments")
    release(layout, ["conv_pool"], log=lambda line: None)
    released = json.dumps(read_notebook(layout.student_release_dir("conv_pool") / "ConvPool.ipynb"))
    assert "YOUR ANSWER HERE" in released and "Rubric" not in released
    folders = build_class(layout, "conv_pool", {"ada": "reference", "cy": "stubs"}, root / "class")
    claim_more_points(folders["cy"] / "ConvPool.ipynb")
    collect(layout, "conv_pool", [root / "class"], log=lambda line: None)
    options = GradingOptions(cell_timeout=CELL_TIMEOUT)
    report = grade_class(layout, "conv_pool", jobs=2, options=options, progress=False)
    assert not report.internal_errors
    return layout, report.results, options


def claim_more_points(path):
    """What a student might try on formgrader: 100 points on the answer, a grade box on a cell of their own."""
    notebook = read_notebook(path)
    for cell in notebook["cells"]:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if grading.get("grade_id") == ANSWER_ID:
            grading["points"] = 100
    notebook["cells"].append({"cell_type": "markdown", "id": "extra", "source": "Give me points",
                              "metadata": {"nbgrader": {"grade": True, "grade_id": "extra", "points": 50,
                                                        "solution": True, "locked": False, "schema_version": 3}}})
    write_notebook(notebook, path)


def formgrader_page(layout, student: str) -> str:
    """The page formgrader shows a TA for a student's notebook (its exporter and template, as its handler runs them)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": "conv_pool", "notebook_id": "ConvPool", "submission_id": "s", "index": 0,
                 "total": 1, "base_url": "", "student": student, "last_name": None, "first_name": None,
                 "notebook_path": "p"}
    page, _ = HTMLExporter(config=config).from_filename(
        str(layout.autograded_dir("conv_pool", student) / "ConvPool.ipynb"), resources=resources)
    return page


def score_boxes(page: str) -> dict[str, str]:
    """{grade_id: its max score} of every score box on a formgrader page."""
    return dict(re.findall(r'<input class="score tabbable" id="([^"]+)"[^>]*>\s*/\s*([0-9.]+)', page))


def answer_of(result: dict) -> dict:
    return next(cell for cell in result["notebook"]["cells"] if cell["grade_id"] == ANSWER_ID)


def test_the_grader_leaves_written_answers_pending(graded):
    layout, results, _ = graded
    ada = results["ada"]
    answer = answer_of(ada)
    assert answer["manual"] and answer["score"] is None and answer["status"] == "needs manual grading"
    assert "27 C^2" in answer["answer"]
    assert ada["max_score"] == 65 + 2 and ada["score"] == 65      # pending: neither 0 nor full, not in the score
    assert "1 written answer(s) to grade by hand (2 pt)" in grade_table(results)
    with open_gradebook(layout.gradebook) as gradebook:
        grade = gradebook.find_grade(ANSWER_ID, "ConvPool", "conv_pool", "ada")
        assert grade.auto_score is None and grade.needs_manual_grade
    rows = list(csv.reader(export_per_function_csv(layout, "conv_pool").open()))
    assert ["ada", "conv_pool", "answer", ANSWER_ID, "(graded by hand)", "pending", "2.0"] in rows
    gradescope = json.loads((export_gradescope(layout, "conv_pool")[0]).read_text())
    pending = next(test for test in gradescope["tests"] if "three stacked" in test["name"])
    assert "score" not in pending and pending["max_score"] == 2.0
    assert "2 point(s) of written answers are not graded yet" in gradescope["output"]


def test_a_score_given_in_formgrader_reaches_every_report_and_survives_regrading(graded):
    layout, results, options = graded
    with open_gradebook(layout.gradebook) as gradebook:     # what formgrader does when a TA grades
        gradebook.find_grade(ANSWER_ID, "ConvPool", "conv_pool", "ada").manual_score = 1.5
        gradebook.find_comment(ANSWER_ID, "ConvPool", "conv_pool", "ada").manual_comment = "Good counts; <b>say why</b>."
        gradebook.db.commit()
    regraded = grade_class(layout, "conv_pool", ["ada"], jobs=1, progress=False,
                           options=dataclasses.replace(options, force=True))
    assert answer_of(regraded.results["ada"])["status"] == "needs manual grading"   # the result file: no TA score

    ada = graded_results(layout, "conv_pool")["ada"]
    assert answer_of(ada)["score"] == 1.5 and answer_of(ada)["status"] == "graded by hand"
    assert ada["score"] == 66.5 and ada["pending_manual_points"] == 0
    page = next(p for p in write_feedback(layout, "conv_pool") if p.parent.parent.name == "ada").read_text()
    assert "1.5 / 2" in page and "Good counts; &lt;b&gt;say why&lt;/b&gt;." in page
    rows = list(csv.reader(export_per_function_csv(layout, "conv_pool").open()))
    assert ["ada", "conv_pool", "answer", ANSWER_ID, "(graded by hand)", "1.5", "2.0"] in rows
    gradescope = json.loads((layout.assignment_exports("conv_pool") / "gradescope" / "ada" / "results.json").read_text()
                            if export_gradescope(layout, "conv_pool") else "{}")
    answer_test = next(test for test in gradescope["tests"] if "three stacked" in test["name"])
    assert answer_test["score"] == 1.5 and "Good counts" in answer_test["output"] and gradescope["score"] == 66.5
    with open(export_csv(layout), newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["student_id"] == "ada")
    assert float(row["score"]) == 66.5 and float(row["max_score"]) == 67
    assert "to grade by hand" not in grade_table({"ada": ada})


def test_formgrader_shows_each_answer_with_the_points_the_release_gave(graded):
    layout, results, _ = graded
    ada_page = formgrader_page(layout, "ada")
    assert score_boxes(ada_page)[ANSWER_ID] == "2.0"
    assert "27 C^2" in ada_page                                  # the student's answer, for the TA to read
    cy_boxes = score_boxes(formgrader_page(layout, "cy"))         # cy claimed 100 points and a box of their own
    assert cy_boxes[ANSWER_ID] == "2.0" and "extra" not in cy_boxes
    assert set(cy_boxes) == set(score_boxes(ada_page))
