"""Every assignment, graded as the course grades it: the reference gets every point, the release none.

The reference is the release with the instructor's library files and notebook solutions put
in (autograder.class_simulation); it must score full marks on every grade cell and every
library function, in grading mode, in the sandbox. The untouched release must score zero. A
student whose correct max-pool backward splits a tied window's gradient equally among its
maxima (a valid subgradient) must get full marks too.
"""

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.course import Layout
from autograder.grading.batch import grade_class
from autograder.grading.job import GradingOptions

from ..conftest import new_layout

pytestmark = pytest.mark.slow   # grades every assignment in the sandbox

ASSIGNMENTS = [assignment.name for assignment in Layout.of_repo().catalog().assignments]
EQUAL_SPLIT = ("            switch = window.argmax(axis=2)  # first maximum on ties\n"
               "            onehot = xp.arange(pool_height * pool_width) == switch[:, :, None]\n",
               "            onehot = window == window.max(axis=2, keepdims=True)\n"
               "            onehot = onehot / onehot.sum(axis=2, keepdims=True)\n")


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, requires_sandbox, tmp_path_factory):
    assignment = request.param
    root = tmp_path_factory.mktemp(assignment)
    layout = new_layout(root)
    folders = build_class(layout, assignment, {"reference": "reference", "release": "stubs",
                                               "splitter": "reference"}, root / "class")
    layers = folders["splitter"] / "cs231n_lib" / "layers.py"
    text = layers.read_text()
    assert EQUAL_SPLIT[0] in text
    layers.write_text(text.replace(*EQUAL_SPLIT))
    collect(layout, assignment, [root / "class"], log=lambda line: None)
    # The course's own cell time limit: nothing here loops, and the gradient-check cells make about
    # 3,000 calls into the student's process, which a loaded machine can stretch past the short
    # limit other tests use to keep their infinite loops cheap.
    # No held-out set, even where CIFAR-10 is installed: the simulated reference submits no trained
    # model (quick mode trains briefly and saves nothing), so train_cifar10's checkpoint part is
    # "not graded" here; test_checkpoint_grading.py grades checkpoints.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CS231N_DATA", str(root / "no-cifar10-here"))
        report = grade_class(layout, assignment, jobs=2, options=GradingOptions(), progress=False)
    assert not report.internal_errors
    return assignment, report.results


def not_full(result: dict) -> list[str]:
    """Every grade cell and library function of a result that did not get all its points (written
    answers wait for a TA and are checked apart)."""
    lost = [f"{cell['grade_id']}: {cell['score']:g}/{cell['points']:g} {cell['status']} {cell['reason']}; failed: "
            + ", ".join(f"{check['name']} ({check['detail']})" for check in cell["checks"] if not check["passed"])
            for cell in result["notebook"]["cells"] if not cell.get("manual") and cell["score"] != cell["points"]]
    for function in (result["library"] or {}).get("functions", []):
        lost += [f"{function['task']}: {check['name']}: {check['diagnosis']}"
                 for check in function["checks"] if not check["passed"]]
    return lost


def test_the_reference_solution_gets_every_point_in_grading_mode(graded):
    assignment, results = graded
    result = results["reference"]
    assert (result["checkpoint"] or {}).get("status") in (None, "not graded"), assignment
    assert not_full(result) == [], assignment
    written = [cell for cell in result["notebook"]["cells"] if cell.get("manual")]
    assert written and all(cell["status"] == "needs manual grading" for cell in written), assignment
    assert result["score"] == result["max_score"] - sum(cell["points"] for cell in written) > 0
    assert not result["integrity"]["held"] and result["sandboxed"]


def test_the_untouched_release_scores_zero(graded):
    assignment, results = graded
    result = results["release"]
    assert result["score"] == 0 < result["max_score"], assignment
    assert all(cell["score"] == 0 for cell in result["notebook"]["cells"])   # unanswered questions too


def test_splitting_tied_maxima_equally_loses_nothing(graded):
    assignment, results = graded
    assert not_full(results["splitter"]) == [], assignment
