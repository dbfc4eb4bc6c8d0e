"""The final assignment graded for real: the grader evaluates each submitted checkpoint on a held-out set.

A class of train_cifar10 is graded in the sandbox with a held-out set made here (no CIFAR-10 needed):
images of smooth class templates, as the notebooks' synthetic stand-in, in raw pixels 0..255, and
labels of which a known share is deliberately wrong, so that the best possible accuracy is known.
The model that reaches it is written down, not trained: average-pool each 8 x 8 block and compare
with the templates (a ConvNet ``AVGPOOL8 -> FC``), so the test's expected accuracy is computed here
with plain NumPy. Students:

- ``ada``: the release notebook and that model: held-out accuracy and its tier, in every report;
- ``liar``: the same model, reporting 95% validation accuracy: an integrity finding, no hold;
- ``lookup``: the reference notebook whose ``best_model`` looks the validation labels up by the
  images' bytes (100% in the notebook's own check), with an untrained checkpoint: nothing for accuracy;
- ``pickler``, ``pickled_array``, ``malformed``, ``oversized``, ``nothing``: 0 for the model, each
  with its reason, and the batch finishes.

The leaderboard ranks the three measured models, by id or by pseudonym.
"""

import csv
import dataclasses
import html
import io
import json
import pickle
import re
import shutil

import numpy as np
import pytest

from autograder import nbgrader
from autograder.__main__ import main as autograder_main
from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.course import CHECKPOINT_CELL, CHECKPOINT_PART
from autograder.grading.batch import grade_class
from autograder.grading.job import GradingOptions
from autograder.leaderboard import leaderboard, student_pseudonym, write_leaderboard
from autograder.notebooks import read_notebook, write_notebook
from autograder.report import (export_gradescope, export_per_function_csv, grade_table, integrity_report,
                               write_feedback)
from cs231n_lib.checkpoint import save_checkpoint
from cs231n_lib.classifiers import ConvNet

from ..conftest import new_layout

pytestmark = pytest.mark.slow   # grades a class of train_cifar10 in the sandbox

ASSIGNMENT = "train_cifar10"
HELD_OUT = 300
WRONG_LABELS = 100             # the best possible accuracy is 200/300 = 66.7%: tier 60%, 4 of 6 points
SPEC = "INPUT-32x32x3 -> AVGPOOL8 -> FC-10"
CENTRE, SCALE = 128.0, 40.0

LOOKUP_CELL = '''
# A student who makes the notebook's own check say 100%: scores looked up from the images' bytes.
lookup_table = {np.asarray(x, dtype=np.float32).tobytes(): int(label)
                for x, label in zip(preprocess(notebook_data()["X_val"]), notebook_data()["y_val"])}


def lookup_scores(X, y=None):
    scores = np.zeros((len(X), 10))
    for i, x in enumerate(np.asarray(X, dtype=np.float32)):
        scores[i, lookup_table.get(x.tobytes(), 0)] = 1.0
    return scores


best_model.loss = lookup_scores   # still a ConvNet, whose loss now knows the answers
'''


def templates():
    """(10, 3, 4, 4): one coarse pattern per class, blown up to 8 x 8 blocks in the images."""
    return np.random.default_rng(5).standard_normal((10, 3, 4, 4))


def held_out_set():
    rng = np.random.default_rng(6)
    true_labels = rng.integers(10, size=HELD_OUT)
    images = templates()[true_labels].repeat(8, axis=2).repeat(8, axis=3)   # (N, 3, 32, 32)
    raw = np.clip(CENTRE + SCALE * images + 20.0 * rng.standard_normal(images.shape), 0, 255).round().astype(np.uint8)
    labels = true_labels.copy()
    labels[:WRONG_LABELS] = (labels[:WRONG_LABELS] + 1) % 10
    return raw, labels


def template_model():
    """AVGPOOL8 -> FC: nearest template by ``f . t - |t|^2 / 2`` on the block averages."""
    model = ConvNet(SPEC, seed=0)
    flat = templates().reshape(10, -1)   # (10, 48), in the order FC flattens (C, 4, 4)
    model.params = {"W1": flat.T.astype(np.float32), "b1": (-0.5 * (flat ** 2).sum(axis=1)).astype(np.float32)}
    return model


def expected_accuracy(raw, labels):
    """What the grader must measure, computed here without the library."""
    blocks = ((raw.astype(np.float64) - CENTRE) / SCALE).reshape(len(raw), 3, 4, 8, 4, 8).mean(axis=(3, 5))
    flat = templates().reshape(10, -1)
    scores = blocks.reshape(len(raw), -1) @ flat.T - 0.5 * (flat ** 2).sum(axis=1)
    return float(np.mean(scores.argmax(axis=1) == labels))


def write_model(folder, model, reported=None):
    save_checkpoint(folder / "best_model.npz", model, mean_image=np.full((3, 32, 32), CENTRE), scale=SCALE,
                    reported_accuracy=reported)


def add_lookup(folder):
    notebook = read_notebook(folder / "TrainCIFAR10.ipynb")
    cell = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "train-best-model")
    cell["source"] = "".join(cell["source"]) + "\n" + LOOKUP_CELL
    write_notebook(notebook, folder / "TrainCIFAR10.ipynb")


@pytest.fixture(scope="module")
def graded(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoint_class")
    tasks = root / "tasks.toml"
    text = new_layout(root).tasks_file.read_text(encoding="utf-8")
    tasks.write_text(text.replace('held_out = "cifar10-test"', 'held_out = "heldout/test.npz"'), encoding="utf-8")
    layout = dataclasses.replace(new_layout(root), tasks_file=tasks)
    raw, labels = held_out_set()
    (layout.course_dir / "heldout").mkdir(parents=True)
    np.savez(layout.course_dir / "heldout" / "test.npz", X=raw, y=labels)

    kinds = {"ada": "stubs", "liar": "stubs", "lookup": "reference", "pickler": "stubs", "pickled_array": "stubs",
             "malformed": "stubs", "oversized": "stubs", "nothing": "stubs"}
    folders = build_class(layout, ASSIGNMENT, kinds, root / "class")
    write_model(folders["ada"], template_model(), reported=expected_accuracy(raw, labels) + 0.02)
    write_model(folders["liar"], template_model(), reported=0.95)
    add_lookup(folders["lookup"])
    write_model(folders["lookup"], ConvNet("[CONV3-16 -> RELU -> POOL2]*2 -> FC-64 -> RELU -> FC",
                                           input_dim=(3, 32, 32), seed=0))
    (folders["pickler"] / "best_model.npz").write_bytes(pickle.dumps(template_model()))
    buffer = io.BytesIO()
    np.savez(buffer, W1=np.array([{"weights": 1}], dtype=object))
    (folders["pickled_array"] / "best_model.npz").write_bytes(buffer.getvalue())
    write_model(folders["malformed"], template_model())
    with np.load(folders["malformed"] / "best_model.npz") as archive:
        entries = {name: archive[name] for name in archive.files if name != "param_b1"}
    np.savez(folders["malformed"] / "best_model.npz", **entries)
    write_model(folders["oversized"], ConvNet("INPUT-32x32x3 -> FC-2000 -> RELU -> FC", weight_scale=0.0, seed=0))
    collect(layout, ASSIGNMENT, [root / "class"], log=lambda line: None)
    report = grade_class(layout, ASSIGNMENT, jobs=2, options=GradingOptions(), progress=False)
    write_feedback(layout, ASSIGNMENT)
    yield layout, report, expected_accuracy(raw, labels)
    shutil.rmtree(root, ignore_errors=True)


def test_the_grade_shows_the_held_out_accuracy_and_its_tier(graded):
    layout, report, expected = graded
    assert not report.internal_errors and len(report.results) == 8   # the batch finished
    part = report.results["ada"]["checkpoint"]
    assert 0.6 <= expected < 0.7 and part["accuracy"] == pytest.approx(expected)
    assert (part["status"], part["tier"], part["score"], part["max_score"]) == ("graded", "60%", 4.0, 6.0)
    assert part["spec"] == SPEC and part["examples"] == HELD_OUT
    result = report.results["ada"]
    assert result["score"] == result["notebook"]["score"] + result["library"]["score"] + 4.0
    assert result["max_score"] == result["notebook"]["max_score"] + result["library"]["max_score"] + 6.0

    table = grade_table(report.results)
    assert re.search(r"^ada\s.*\s4/6 \(" + re.escape(f"{expected:.1%}") + r"\)\s", table, re.M), table
    feedback = html.unescape((layout.feedback_dir(ASSIGNMENT, "ada") / "report.html").read_text())
    assert f"held-out accuracy {expected:.1%}" in feedback and "tier 60%, 4 / 6 points" in feedback
    with open(export_per_function_csv(layout, ASSIGNMENT), newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["student"] == "ada" and row["part"] == "checkpoint"]
    assert [(row["check"], row["points"], row["max"]) for row in rows][0] == ("(model)", "4.0", "6.0")
    assert rows[1]["check"] == f"held-out accuracy {expected:.4f} tier 60%"
    export_gradescope(layout, ASSIGNMENT)
    gradescope = json.loads((layout.assignment_exports(ASSIGNMENT) / "gradescope" / "ada" / "results.json").read_text())
    model_test = next(t for t in gradescope["tests"] if t["name"] == "trained model: best_model.npz")
    assert model_test["score"] == 4.0 and model_test["max_score"] == 6.0 and "tier 60%" in model_test["output"]
    assert gradescope["score"] == result["score"]


def test_the_gradebook_and_the_graded_copy_count_the_model(graded):
    layout, report, _ = graded
    with nbgrader.open_gradebook(layout.gradebook) as gradebook:
        scores = nbgrader.gradebook_scores(gradebook, ASSIGNMENT)
        notebook = gradebook.find_notebook(CHECKPOINT_PART, ASSIGNMENT)
        assert [cell.max_score for cell in notebook.grade_cells] == [6.0]
    for student, result in report.results.items():
        assert scores[student][(CHECKPOINT_PART, CHECKPOINT_CELL)] == result["checkpoint"]["score"], student
    copy = read_notebook(layout.autograded_dir(ASSIGNMENT, "ada") / f"{CHECKPOINT_PART}.ipynb")
    cell = copy["cells"][1]
    assert cell["metadata"]["nbgrader"]["grade_id"] == CHECKPOINT_CELL and cell["metadata"]["nbgrader"]["points"] == 6.0
    assert "tier: 60%" in cell["outputs"][0]["text"] and cell["outputs"][1]["data"]["text/plain"] == "4 / 6"


def test_a_lookup_model_scores_nothing_for_accuracy(graded):
    _, report, _ = graded
    result = report.results["lookup"]
    cell = next(c for c in result["notebook"]["cells"] if c["grade_id"] == "train-test-best-model")
    accuracy_check = next(c for c in cell["checks"] if c["name"].startswith("validation accuracy"))
    assert accuracy_check["passed"] and accuracy_check["points"] == 0   # the lookup fools its own process...
    part = result["checkpoint"]
    assert part["status"] == "graded" and part["accuracy"] < 0.3 and part["score"] == 0.0   # ...not the grader
    assert "below the first tier" in part["reason"]


@pytest.mark.parametrize("student, reason", [
    ("pickler", "best_model.npz is not a usable checkpoint: not an .npz file"),
    ("pickled_array", "holds object values (Python objects, stored as a pickle)"),
    ("malformed", "missing ['param_b1']"),
    ("oversized", "the model has 6,166,010 parameters; at most 5,000,000 are allowed"),
    ("nothing", "the submission has no best_model.npz"),
])
def test_a_broken_checkpoint_gets_zero_with_its_reason(graded, student, reason):
    layout, report, _ = graded
    part = report.results[student]["checkpoint"]
    assert (part["status"], part["score"], part["max_score"]) == ("lost", 0.0, 6.0)
    assert reason in part["reason"]
    assert reason in html.unescape((layout.feedback_dir(ASSIGNMENT, student) / "report.html").read_text())


def test_a_reported_accuracy_far_from_the_measurement_is_an_integrity_finding(graded):
    layout, report, expected = graded
    findings = integrity_report(layout, ASSIGNMENT)
    accuracy = {student: [f for f in found if f.kind == "accuracy"] for student, found in findings.items()}
    assert accuracy["ada"] == [] and len(accuracy["liar"]) == 1
    finding = accuracy["liar"][0]
    assert not finding.hold and not report.results["liar"]["integrity"]["held"]
    assert f"reports 95.0% validation accuracy; the grader measured {expected:.1%}" in finding.what
    assert report.results["liar"]["checkpoint"]["score"] == 4.0   # the points come from the measurement alone


def test_the_leaderboard_ranks_the_measured_models_with_ids_or_pseudonyms(graded, capsys):
    layout, report, expected = graded
    assert autograder_main(["leaderboard", ASSIGNMENT, "--course-dir", str(layout.course_dir)]) == 0
    printed = capsys.readouterr().out
    assert f"  1. ada  {expected:.1%}  tier 60%" in printed and f"  1. liar  {expected:.1%}" in printed
    assert "  3. lookup" in printed and "5 submission(s) without a measured model" in printed
    folder = layout.leaderboard_dir(ASSIGNMENT)
    with open(folder / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["rank"], row["student"], row["tier"]) for row in rows] == \
        [("1", "ada", "60%"), ("1", "liar", "60%"), ("3", "lookup", "below 50%")]
    assert float(rows[0]["accuracy"]) == pytest.approx(expected, abs=1e-4)
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert f"<td>ada</td><td class='n'>{expected:.1%}</td>" in page

    board = leaderboard(layout, ASSIGNMENT, pseudonyms=True)
    names = {student: student_pseudonym(layout, student) for student in ("ada", "liar", "lookup")}
    assert sorted(entry.name for entry in board.entries) == sorted(names.values())
    assert len(set(names.values())) == 3 and not set(names.values()) & set(names)
    assert board.entries[-1].name == names["lookup"]
    write_leaderboard(layout, board, "Train a ConvNet on CIFAR-10")
    posted = (folder / "index.html").read_text(encoding="utf-8")
    assert not any(f">{student}<" in posted for student in report.results)   # no id on the posted page
    feedback = (layout.feedback_dir(ASSIGNMENT, "ada") / "report.html").read_text(encoding="utf-8")
    assert f"you are <b>{names['ada']}</b>" in feedback
