"""Feedback, exports and the integrity report of the graded class."""

import csv
import html
import json

from autograder.grading import integrity
from autograder.nbgrader import export_csv
from autograder.report import export_gradescope, export_per_function_csv, integrity_report, write_feedback
from autograder.notebooks import REGION_WORDS, cell_lines, read_notebook

HIDDEN_BEGIN, HIDDEN_END = REGION_WORDS["hidden test"]


def hidden_test_lines(layout) -> set[str]:
    """Every distinctive line inside a hidden-test region of every source notebook."""
    lines = set()
    for path in layout.solutions_dir.glob("*/*.ipynb"):
        for cell in read_notebook(path)["cells"]:
            inside = False
            for line in cell_lines(cell):
                if HIDDEN_BEGIN in line:
                    inside = True
                elif HIDDEN_END in line:
                    inside = False
                elif inside and len(line.strip()) >= 6:
                    lines.add(line.strip())
    return lines


def test_feedback_shows_scores_and_diagnoses_but_no_hidden_test_line(graded_conv_pool):
    layout, results = graded_conv_pool
    reports = write_feedback(layout, "conv_pool")
    assert len(reports) == len(results)
    hidden = hidden_test_lines(layout)
    assert len(hidden) > 20
    for path in reports:
        text = html.unescape(path.read_text(encoding="utf-8"))
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{path}: {leaked[:3]}"
        assert "<script" not in path.read_text(encoding="utf-8")
    ben = (layout.feedback_dir("conv_pool", "ben") / "report.html").read_text(encoding="utf-8")
    assert "67 / 84</b>, with 10 point(s) of written answers not graded yet" in ben and "layers.affine_backward" in ben and "(hidden check)" in ben
    assert "numerical gradient" in ben      # the library diagnosis of the db bug
    eve = (layout.feedback_dir("conv_pool", "eve") / "report.html").read_text(encoding="utf-8")
    assert "held for review" in eve


def test_exports_nbgrader_csv_per_function_csv_and_gradescope(graded_conv_pool):
    layout, results = graded_conv_pool
    with open(export_csv(layout), newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == "conv_pool"}
    assert set(rows) == set(results)
    for student, result in results.items():
        assert float(rows[student]["score"]) == result["score"]
        assert float(rows[student]["max_score"]) == 84   # written answers included, as nbgrader counts them

    with open(export_per_function_csv(layout, "conv_pool"), newline="") as handle:
        per_function = list(csv.DictReader(handle))
    assert list(per_function[0]) == ["student", "assignment", "part", "item", "check", "points", "max"]
    db = [r for r in per_function if r["student"] == "ben" and r["item"] == "layers.affine_backward" and r["check"] == "db"]
    assert db == [{"student": "ben", "assignment": "conv_pool", "part": "library", "item": "layers.affine_backward",
                   "check": "db", "points": "0.0", "max": "1.0"}]

    for path in export_gradescope(layout, "conv_pool"):
        data = json.loads(path.read_text())
        student = path.parent.name
        assert data["score"] == results[student]["score"]
        assert abs(sum(t.get("score", 0) for t in data["tests"]) - data["score"]) < 1e-9 or results[student]["notebook"].get("held")
        for test in data["tests"]:
            # A written answer a TA has not graded has no score: Gradescope shows it as ungraded.
            assert set(test) - {"score"} == {"name", "max_score", "output", "visibility"}
            assert test["visibility"] == "visible" and test.get("score", 0) <= test["max_score"]


def test_integrity_flags_the_cheater_and_not_the_honest_students(graded_conv_pool):
    layout, _ = graded_conv_pool
    report = integrity_report(layout, "conv_pool")
    kinds = {f.kind for f in report["eve"]}
    assert {"patch", "reference", "outside", "dynamic"} <= kinds
    whats = " ".join(f.what for f in report["eve"])
    assert "np.allclose" in whats and "Score.earned" in whats and "sys.path.insert" in whats
    for honest in ("ada", "ben", "cy"):
        assert report[honest] == [], honest
    assert all(f.kind == "limits" for f in report["dan"])   # its loop hit the limits; nothing else
    assert any(f.where == "notebook grading run" for f in report["dan"])      # what the run recorded
    # The cheater aimed at this checkout's own reference, wherever it lives, and was named for it.
    kit_root = str(layout.lib_dir.parent)
    assert any(f.kind == "reference" and f"{kit_root}/cs231n_lib/layers.py" in f.what for f in report["eve"])


def test_a_path_into_the_kit_is_a_reference_wherever_the_kit_is(monkeypatch):
    monkeypatch.setattr(integrity, "KIT_ROOT", "/srv/teaching/kit")
    findings = integrity.scan_code('a = open("/srv/teaching/kit/cs231n_lib/layers.py")\nb = "/srv/teaching/other"\n',
                                   "cell 1", notebook=True)
    assert [(f.kind, f.where) for f in findings] == [("reference", "cell 1 line 1"), ("outside", "cell 1 line 2")]
