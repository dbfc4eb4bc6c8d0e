"""Written answers: graded by a person in formgrader, pending until then, in every report once given.

ConvPool's inline questions (manually graded answer cells) on a class of two: ada answers
them all (the reference answers), cy hands in the untouched release after claiming more
points in its metadata. A TA's score and comment are set through nbgrader's API as formgrader
sets them. A pending answer never counts as 0 or as full; an unanswered one is 0 at once.
"""

import csv
import dataclasses
import json
import re

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.grading.batch import grade_class
from autograder.nbgrader import export_csv, open_gradebook
from autograder.notebook_spec import notebook_spec
from autograder.notebooks import read_notebook, write_notebook
from autograder.report import export_gradescope, export_per_function_csv, grade_table, graded_results, write_feedback

from ..conftest import OPTIONS, new_layout

pytestmark = pytest.mark.slow   # grades a class in the sandbox

ANSWER_ID = "convpool-answer-pooling"   # the one a TA grades here


@pytest.fixture(scope="module")
def graded(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("manual")
    layout = new_layout(root)
    spec = notebook_spec(layout, layout.catalog().get("conv_pool"))
    assert ANSWER_ID in {cell.grade_id for cell in spec.manual_cells}
    folders = build_class(layout, "conv_pool", {"ada": "reference", "cy": "stubs"}, root / "class")
    claim_more_points(folders["cy"] / spec.notebook)
    collect(layout, "conv_pool", [root / "class"], log=lambda line: None)
    report = grade_class(layout, "conv_pool", jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors
    return layout, spec, report.results


def claim_more_points(path):
    """What a student might try on formgrader: 100 points on an answer, a grade box on a cell of their own."""
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


def answers(result: dict) -> dict[str, dict]:
    return {cell["grade_id"]: cell for cell in result["notebook"]["cells"] if cell.get("manual")}


def gradescope_of(layout, student: str) -> dict:
    export_gradescope(layout, "conv_pool")
    return json.loads((layout.assignment_exports("conv_pool") / "gradescope" / student / "results.json").read_text())


def test_answers_wait_for_a_ta_and_unanswered_ones_score_zero(graded):
    layout, spec, results = graded
    ada, cy = results["ada"], results["cy"]
    assert set(answers(ada)) == {cell.grade_id for cell in spec.manual_cells} and spec.manual_max_score > 0
    assert all(a["score"] is None and a["status"] == "needs manual grading" and a["answer"].strip()
               for a in answers(ada).values())
    # Pending: neither 0 nor full, so not in the score, and every point still in the maximum.
    assert ada["score"] == spec.auto_max_score + ada["library"]["max_score"]
    assert ada["max_score"] == ada["score"] + spec.manual_max_score
    assert all(a["score"] == 0 and a["status"] == "not answered" for a in answers(cy).values())
    table = grade_table(results)
    ada_line = next(line for line in table.splitlines() if line.startswith("ada"))
    cy_line = next(line for line in table.splitlines() if line.startswith("cy"))
    assert f"{len(spec.manual_cells)} written answer(s) to grade by hand ({spec.manual_max_score:g} pt)" in ada_line
    assert "by hand" not in cy_line
    with open_gradebook(layout.gradebook) as gradebook:
        pending = gradebook.find_grade(ANSWER_ID, "ConvPool", "conv_pool", "ada")
        unanswered = gradebook.find_grade(ANSWER_ID, "ConvPool", "conv_pool", "cy")
        assert pending.auto_score is None and pending.needs_manual_grade
        assert unanswered.auto_score == 0 and not unanswered.needs_manual_grade
    rows = list(csv.reader(export_per_function_csv(layout, "conv_pool").open()))
    assert ["ada", "conv_pool", "answer", ANSWER_ID, "(graded by hand)", "pending", "3.0"] in rows
    assert ["cy", "conv_pool", "answer", ANSWER_ID, "(graded by hand)", "0.0", "3.0"] in rows
    gradescope = gradescope_of(layout, "ada")
    waiting = [test for test in gradescope["tests"] if "graded by hand" in test["output"]]
    assert len(waiting) == len(spec.manual_cells) and all("score" not in test for test in waiting)
    assert f"{spec.manual_max_score:g} point(s) of written answers are not graded yet" in gradescope["output"]


def test_a_score_given_in_formgrader_reaches_every_report_and_survives_regrading(graded):
    layout, spec, results = graded
    with open_gradebook(layout.gradebook) as gradebook:     # what formgrader does when a TA grades
        gradebook.find_grade(ANSWER_ID, "ConvPool", "conv_pool", "ada").manual_score = 2.5
        gradebook.find_comment(ANSWER_ID, "ConvPool", "conv_pool", "ada").manual_comment = "Good; <b>say why</b>."
        gradebook.db.commit()
    regraded = grade_class(layout, "conv_pool", ["ada"], jobs=1, progress=False,
                           options=dataclasses.replace(OPTIONS, force=True))
    assert answers(regraded.results["ada"])[ANSWER_ID]["status"] == "needs manual grading"   # the result file
    with open_gradebook(layout.gradebook) as gradebook:
        grade = gradebook.find_grade(ANSWER_ID, "ConvPool", "conv_pool", "ada")
        assert grade.manual_score == 2.5 and not grade.needs_manual_grade

    ada = graded_results(layout, "conv_pool")["ada"]
    autograded = results["ada"]["score"]
    assert answers(ada)[ANSWER_ID]["score"] == 2.5 and answers(ada)[ANSWER_ID]["status"] == "graded by hand"
    assert ada["score"] == autograded + 2.5 and ada["pending_manual_points"] == spec.manual_max_score - 3
    page = next(p for p in write_feedback(layout, "conv_pool") if p.parent.parent.name == "ada").read_text()
    assert "2.5 / 3" in page and "Good; &lt;b&gt;say why&lt;/b&gt;." in page
    rows = list(csv.reader(export_per_function_csv(layout, "conv_pool").open()))
    assert ["ada", "conv_pool", "answer", ANSWER_ID, "(graded by hand)", "2.5", "3.0"] in rows
    gradescope = gradescope_of(layout, "ada")
    graded_test = next(test for test in gradescope["tests"] if "TA: Good" in test["output"])
    assert graded_test["score"] == 2.5 and gradescope["score"] == autograded + 2.5
    with open(export_csv(layout), newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["student_id"] == "ada")
    assert float(row["score"]) == autograded + 2.5 and float(row["max_score"]) == ada["max_score"]
    still = f"{len(spec.manual_cells) - 1} written answer(s) to grade by hand ({spec.manual_max_score - 3:g} pt)"
    assert still in grade_table({"ada": ada})


def test_formgrader_shows_each_answer_with_the_points_the_release_gave(graded):
    layout, spec, _ = graded
    ada_page = formgrader_page(layout, "ada")
    boxes = score_boxes(ada_page)
    assert {grade_id: float(points) for grade_id, points in boxes.items() if "-answer-" in grade_id} == \
        {cell.grade_id: cell.points for cell in spec.manual_cells}
    answer = answers(graded[2]["ada"])[ANSWER_ID]["answer"]
    plain_words = max(re.findall(r"[A-Za-z0-9 ,]+", answer), key=len)   # a run of it that Markdown leaves as is
    assert len(plain_words) > 30 and plain_words in ada_page     # the student's answer, for the TA to read
    cy_boxes = score_boxes(formgrader_page(layout, "cy"))         # cy claimed 100 points and a box of their own
    assert cy_boxes == boxes
