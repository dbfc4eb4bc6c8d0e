"""Wrong layers that are consistent with themselves, or return NaN or inf, earn no backward point (issue 16).

Each student is the reference with every layer of ``layers.py`` wrapped at the end of the file:
the forward returns zeros of the right shape, a constant, or twice the right output, and the
backward returns what would differentiate that forward (zeros, twice the gradient); or the
forward is right and the backward returns NaN (what a 0/0 gives) or an infinity. Before issue 16
a backward was judged only against the numerical gradient of the student's OWN forward, and a NaN
error was never "too large": zeros earned 9 notebook points, NaN 11, and the clean room's
numerical checks passed three functions by self-consistency. Now every backward check, in the
notebook's grade cells and in the clean room, is judged against the reference gradient.
"""

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.grading.batch import grade_class
from autograder.grading.library.seeds import student_seed

from ..conftest import OPTIONS, new_layout
from .library.students import grade_library_of, make_submission

pytestmark = pytest.mark.slow   # grades a class in the sandbox

ASSIGNMENT = "conv_pool"
FORWARDS = ("affine_forward", "relu_forward", "conv_forward_naive", "max_pool_forward_naive")
BACKWARDS = ("affine_backward", "relu_backward", "conv_backward_naive", "max_pool_backward_naive")
# What each hostile student's forward returns in place of the right ``out``, and backward in place of each gradient.
KINDS = {
    "zeros": ("_np.zeros_like(out)", "_np.zeros_like(grad)"),
    "constant": ("_np.full_like(out, 0.5)", "_np.zeros_like(grad)"),
    "doubled": ("2 * out", "2 * grad"),
    "nan": ("out", "_np.full_like(grad, _np.nan)"),
    "inf": ("out", "_np.full_like(grad, _np.inf)"),
}
WRAPPER = """

# ---- a hostile student: every layer below is wrapped
import numpy as _np


def _wrap_forward(forward):
    def wrapped(*args):
        out, cache = forward(*args)
        return {forward_value}, cache
    return wrapped


def _wrap_backward(backward):
    def wrapped(dout, cache):
        grads = backward(dout, cache)
        if isinstance(grads, tuple):
            return tuple({backward_value} for grad in grads)
        grad = grads
        return {backward_value}
    return wrapped


for _name in {forwards!r}:
    globals()[_name] = _wrap_forward(globals()[_name])
for _name in {backwards!r}:
    globals()[_name] = _wrap_backward(globals()[_name])
"""
# The notebook's grade cells that judge a backward, whole; and the backward checks of cells that judge a forward too.
BACKWARD_CELLS = ("convpool-test-affine-backward", "convpool-test-conv-backward", "convpool-test-max-pool-backward")
BACKWARD_CHECKS = {"convpool-test-relu": ("relu_backward against numerical gradients",
                                          "hidden: relu_backward on a random 4D input"),
                   "convpool-test-sandwich": ("backward against numerical gradients",
                                              "hidden: stride 2 convolution, 3 x 3 pooling")}


@pytest.fixture(scope="module")
def graded(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("wrong_gradients")
    layout = new_layout(root)
    folders = build_class(layout, ASSIGNMENT, {"honest": "reference", **{kind: "reference" for kind in KINDS}},
                          root / "class")
    for kind, (forward_value, backward_value) in KINDS.items():
        layers = folders[kind] / "cs231n_lib" / "layers.py"
        layers.write_text(layers.read_text() + WRAPPER.format(forward_value=forward_value, backward_value=backward_value,
                                                              forwards=FORWARDS, backwards=BACKWARDS))
    collect(layout, ASSIGNMENT, [root / "class"], log=lambda line: None)
    report = grade_class(layout, ASSIGNMENT, jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors
    return report.results


def cell_of(result: dict, grade_id: str) -> dict:
    return next(cell for cell in result["notebook"]["cells"] if cell["grade_id"] == grade_id)


def earned(cell: dict) -> float:
    return cell.get("held_score", cell["score"])


def test_the_honest_student_keeps_every_backward_point(graded):
    honest = graded["honest"]
    assert all(earned(cell_of(honest, grade_id)) == cell_of(honest, grade_id)["points"] for grade_id in BACKWARD_CELLS)
    for grade_id, names in BACKWARD_CHECKS.items():
        checks = {check["name"]: check["passed"] for check in cell_of(honest, grade_id)["checks"]}
        assert all(checks[name] for name in names), (grade_id, checks)
    assert honest["library"]["score"] == honest["library"]["max_score"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_backward_point_in_the_notebook(graded, kind):
    result = graded[kind]
    assert {grade_id: earned(cell_of(result, grade_id)) for grade_id in BACKWARD_CELLS} == \
        {grade_id: 0.0 for grade_id in BACKWARD_CELLS}
    for grade_id, names in BACKWARD_CHECKS.items():
        checks = {check["name"]: check["passed"] for check in cell_of(result, grade_id)["checks"]}
        assert not any(checks[name] for name in names), (grade_id, checks)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_backward_point_in_the_clean_room(graded, kind):
    functions = {f["task"]: f for f in graded[kind]["library"]["functions"]}
    earned_by_backward = {f"layers.{name}": functions[f"layers.{name}"]["score"] for name in BACKWARDS}
    assert earned_by_backward == {task: 0.0 for task in earned_by_backward}


@pytest.mark.parametrize("kind", ["nan", "inf"])
def test_the_wrapped_layers_are_live_functions_a_right_forward_keeps_its_points(graded, kind):
    functions = {f["task"]: f for f in graded[kind]["library"]["functions"]}
    assert all(functions[f"layers.{name}"]["score"] == functions[f"layers.{name}"]["max_score"] for name in FORWARDS)
    assert earned(cell_of(graded[kind], "convpool-test-affine-forward")) == 2


@pytest.mark.parametrize("kind", ["nan", "inf"])
def test_a_non_finite_backward_is_told_so(graded, kind):
    functions = {f["task"]: f for f in graded[kind]["library"]["functions"]}
    diagnosis = functions["layers.affine_backward"]["checks"][0]["diagnosis"]
    assert f"holds 24 {'NaN' if kind == 'nan' else 'infinite'} values" in diagnosis
    detail = next(check["detail"] for check in cell_of(graded[kind], "convpool-test-affine-backward")["checks"]
                  if not check["hidden"])
    assert f"holds 30 {'NaN' if kind == 'nan' else 'infinite'} values" in detail


# ----------------------------------------------------------------------------- the model's loss, in the clean room

MODEL_WRAPPER = """

# ---- a hostile student: the loss and its gradients are {scale} times the right ones (0: a constant loss)
_right_loss = ThreeLayerConvNet.loss


def _scaled_loss(self, X, y=None):
    result = _right_loss(self, X, y)
    if y is None:
        return result
    loss, grads = result
    return {scale} * loss, {{name: {scale} * grad for name, grad in grads.items()}}


ThreeLayerConvNet.loss = _scaled_loss
"""


@pytest.mark.parametrize("scale", [0, 2])
def test_a_self_consistent_wrong_loss_earns_no_gradient_point(requires_sandbox, tmp_path, scale):
    folder = make_submission(tmp_path, f"scaled_{scale}", edits={})
    cnn = folder / "cs231n_lib" / "classifiers" / "cnn.py"
    cnn.write_text(cnn.read_text() + MODEL_WRAPPER.format(scale=scale))
    result = grade_library_of(folder, "train_cifar10", student_seed(b"a test secret", f"scaled_{scale}", "train_cifar10"))
    loss = next(f for f in result["functions"] if f["task"] == "classifiers.cnn.ThreeLayerConvNet.loss")
    scores = {check["name"]: check["score"] for check in loss["checks"]}
    assert scores["scores when y is None"] == 2   # the wrapper is live: what it leaves alone keeps its points
    assert {name: score for name, score in scores.items() if "gradient" in name} == \
        {name: 0.0 for name in scores if "gradient" in name}


# ----------------------------------------------------------------------------- the model, in the training notebook

CONSTANT_MODEL = """

# ---- a hostile student: scores of zeros, a loss of log(C) and zero gradients (a right model at initialization, nearly)
def _constant_loss(self, X, y=None):
    scores = np.zeros((X.shape[0], self.params["W3"].shape[1]))
    if y is None:
        return scores
    return float(np.log(scores.shape[1])), {name: np.zeros_like(value) for name, value in self.params.items()}


ThreeLayerConvNet.loss = _constant_loss
"""
MODEL_CELLS = ("train-test-initial-loss", "train-test-gradients")


@pytest.fixture(scope="module")
def graded_models(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("wrong_models")
    layout = new_layout(root)
    hostile = {"zero_loss": MODEL_WRAPPER.format(scale=0), "doubled_loss": MODEL_WRAPPER.format(scale=2),
               "constant_loss": CONSTANT_MODEL}
    folders = build_class(layout, "train_cifar10", {"honest": "reference", **{name: "reference" for name in hostile}},
                          root / "class")
    for name, code in hostile.items():
        cnn = folders[name] / "cs231n_lib" / "classifiers" / "cnn.py"
        cnn.write_text(cnn.read_text() + code)
    collect(layout, "train_cifar10", [root / "class"], log=lambda line: None)
    report = grade_class(layout, "train_cifar10", jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors
    return report.results


def test_the_honest_model_keeps_its_loss_and_gradient_points(graded_models):
    honest = graded_models["honest"]
    assert {grade_id: earned(cell_of(honest, grade_id)) for grade_id in MODEL_CELLS} == \
        {grade_id: cell_of(honest, grade_id)["points"] for grade_id in MODEL_CELLS}


@pytest.mark.parametrize("student", ["zero_loss", "doubled_loss", "constant_loss"])
def test_a_self_consistent_wrong_model_earns_no_gradient_point_in_the_notebook(graded_models, student):
    assert earned(cell_of(graded_models[student], "train-test-gradients")) == 0


def test_a_constant_log_c_loss_earns_nothing_for_the_loss_at_initialization(graded_models):
    cell = cell_of(graded_models["constant_loss"], "train-test-initial-loss")
    assert earned(cell) == 0
    detail = next(check["detail"] for check in cell["checks"] if check["name"].startswith("loss is about log(10)"))
    assert "compared with the reference model on your parameters" in detail


# ----------------------------------------------------------------------------- im2col and col2im, a pair of zeros

ZERO_WINDOWS = """

# ---- a hostile student: im2col and col2im return zeros of the right shape (they are adjoint to each other)
_right_im2col, _right_col2im = im2col, col2im


def im2col(x, filter_height, filter_width, stride, pad, dilation=1):
    return _right_im2col(x, filter_height, filter_width, stride, pad, dilation) * 0


def col2im(cols, x_shape, filter_height, filter_width, stride, pad, dilation=1):
    return _right_col2im(cols, x_shape, filter_height, filter_width, stride, pad, dilation) * 0
"""


def test_zero_im2col_and_col2im_earn_nothing_for_col2im_and_the_fast_backward(requires_sandbox, tmp_path):
    layout = new_layout(tmp_path)
    folders = build_class(layout, "im2col", {"honest": "reference", "zeros": "reference"}, tmp_path / "class")
    module = folders["zeros"] / "cs231n_lib" / "im2col.py"
    module.write_text(module.read_text() + ZERO_WINDOWS)
    collect(layout, "im2col", [tmp_path / "class"], log=lambda line: None)
    report = grade_class(layout, "im2col", jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors
    cells = ("im2col-test-col2im", "im2col-test-conv-backward")
    honest, zeros = report.results["honest"], report.results["zeros"]
    assert {c: earned(cell_of(honest, c)) for c in cells} == {c: cell_of(honest, c)["points"] for c in cells}
    assert {c: earned(cell_of(zeros, c)) for c in cells} == {c: 0.0 for c in cells}
