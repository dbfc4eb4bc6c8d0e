"""notebook_utils: quick mode, partial credit that never writes to stderr, the data fallback."""

import warnings

import pytest

from cs231n_lib import notebook_utils
from cs231n_lib.backend import np
from cs231n_lib.notebook_utils import Score, assert_close, load_cifar10, quick_mode


@pytest.mark.parametrize("env, expected", [
    ({}, False), ({"CS231N_QUICK": "1"}, True), ({"CS231N_QUICK": "0"}, False),
    ({"NBGRADER_EXECUTION": "autograde"}, True), ({"NBGRADER_EXECUTION": "validate"}, True)])
def test_quick_mode(monkeypatch, env, expected):
    for key in ("CS231N_QUICK", "NBGRADER_EXECUTION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert quick_mode() is expected


def test_score_gives_partial_credit_and_reports_failures(capsys):
    score = Score()
    with score.check("right", points=2):
        pass
    with score.check("wrong", points=3):
        raise ValueError("bad shape")
    with score.check("returns None", points=1):
        assert_close("out", None, np.zeros(2))
    assert (score.earned, score.possible, score.failures) == (2.0, 6.0, ["wrong", "returns None"])
    captured = capsys.readouterr()
    assert "PASS  right" in captured.out and "FAIL  wrong" in captured.out and "bad shape" in captured.out
    assert "did not set it" in captured.out
    assert captured.err == ""


def test_score_lets_not_implemented_through():
    score = Score()
    with pytest.raises(NotImplementedError, match="layers.conv_forward_naive"):
        with score.check("stub", points=1):
            raise NotImplementedError("layers.conv_forward_naive: your task")
    assert score.earned == 0


def test_score_silences_warnings(capsys):
    score = Score()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the check would raise here
        with score.check("noisy", points=1):
            warnings.warn("harmless", RuntimeWarning)
            np.log(np.zeros(1))  # a NumPy divide-by-zero warning
    assert score.earned == 1
    assert capsys.readouterr().err == ""


def test_assert_close_names_the_worst_entry():
    with pytest.raises(AssertionError, match=r"index \(1,\)"):
        assert_close("dx", np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    with pytest.raises(AssertionError, match="shape"):
        assert_close("dx", np.zeros(3), np.zeros(2))
    assert assert_close("dx", np.ones(3), np.ones(3)) == 0.0


def test_load_cifar10_falls_back_to_synthetic_in_quick_mode(monkeypatch, capsys):
    from cs231n_lib import data_utils

    def missing(**kwargs):
        raise FileNotFoundError("CIFAR-10 not found; run: python -m cs231n_lib.datasets fetch cifar10")

    monkeypatch.setattr(data_utils, "get_CIFAR10_data", missing)
    monkeypatch.setenv("CS231N_QUICK", "1")
    data = load_cifar10(num_training=30, num_validation=10, num_test=10)
    assert data["X_train"].shape == (30, 3, 32, 32) and data["y_val"].shape == (10,)
    assert "SYNTHETIC" in capsys.readouterr().out

    monkeypatch.delenv("CS231N_QUICK")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with pytest.raises(FileNotFoundError, match="fetch cifar10"):
        load_cifar10(num_training=30, num_validation=10, num_test=10)


def test_synthetic_data_is_learnable_by_a_nearest_template():
    """The classes differ in a smooth template, so the class means separate the validation set."""
    data = notebook_utils.synthetic_cifar10(num_training=500, num_validation=200, num_test=10)
    means = np.stack([data["X_train"][data["y_train"] == k].mean(axis=0) for k in range(10)])
    distances = ((data["X_val"][:, None] - means[None]) ** 2).sum(axis=(2, 3, 4))
    assert (distances.argmin(axis=1) == data["y_val"]).mean() > 0.5


def run_checks(score, outcomes):
    for name, points, passes in outcomes:
        with score.check(name, points=points):
            assert passes, "wrong"
    return score.earned


@pytest.fixture
def students_view(monkeypatch):
    """Neither the autograder nor nbgrader's autograde: the student's notebook, or validate."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_a_cell_whose_public_checks_pass_shows_its_hidden_points_and_validates(students_view):
    earned = run_checks(Score(points=3), [("a", 1, True), ("b", 1, True)])   # the hidden 1 point is not here
    assert float(earned) == 3.0   # what nbgrader reads: nothing is known to be wrong
    assert earned.text() == ("2 / 3 points so far: every public check passed; 1 point of hidden checks "
                             "runs when your notebook is graded")
    assert earned._repr_markdown_() == f"**{earned.text()}**"


def test_a_failed_public_check_costs_its_points_and_is_named(students_view):
    earned = run_checks(Score(points=3), [("a", 1, True), ("b", 1, False)])
    assert float(earned) == 1.0 and earned.text() == "1 / 3 points; failed: b"
    zero_point = run_checks(Score(points=3), [("types", 0, False), ("a", 1, True)])
    assert float(zero_point) == 1.0, "a failed 0-point check still fails validation"


@pytest.mark.parametrize("grading", ["autograder", "nbgrader autograde"])
def test_while_grading_the_cell_scores_exactly_what_its_checks_earned(monkeypatch, grading):
    if grading == "autograder":
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
        token = notebook_utils.AUTOGRADING.set(True)
    else:
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    try:
        earned = run_checks(Score(points=3), [("a", 1, True), ("b", 1, True)])   # a hidden check did not run
    finally:
        if grading == "autograder":
            notebook_utils.AUTOGRADING.reset(token)
    assert float(earned) == 2.0 and earned.text().startswith("2 / 3 points")


def test_a_padding_mistake_is_explained_from_the_students_line(capsys):
    def conv_forward(x, w, pad):   # a student's bug: np.pad pads every axis
        x_pad = np.pad(x, pad)
        window = x_pad[:, :, :3, :3]
        return np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))

    score = Score(points=1)
    with score.check("conv forward", points=1):
        conv_forward(np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), 1)
    printed = capsys.readouterr().out
    assert "FAIL  conv forward" in printed and "in conv_forward: return np.tensordot(" in printed
    assert "raised inside NumPy's tensordot" in printed
    assert "x_pad (4, 5, 7, 7)" in printed and "x (2, 3, 5, 5)" in printed
    assert "hint: x_pad is x padded on every axis" in printed and "((0, 0), (0, 0), (pad, pad), (pad, pad))" in printed


def test_gradient_errors_print_as_cs231n_prints_them(capsys):
    notebook_utils.report_gradient_errors({"x": 8.05e-09, "w": 3.1e-10}, "conv_backward_naive")
    assert capsys.readouterr().out.splitlines() == [
        "Testing conv_backward_naive:", "dx error: 8.05e-09", "dw error: 3.10e-10",
        "(each should be about 1e-8 or smaller; 1e-3 or larger means that gradient is wrong)",
        "(here your backward is compared with the numerical gradient of your own forward, which proves it right only "
        "if the forward is; when graded, it is compared with the reference gradient)"]


def test_while_grading_gradient_errors_do_not_speak_of_the_students_own_forward(capsys):
    token = notebook_utils.AUTOGRADING.set(True)
    try:
        notebook_utils.report_gradient_errors({"x": 8.05e-09})
    finally:
        notebook_utils.AUTOGRADING.reset(token)
    assert "your own forward" not in capsys.readouterr().out


def test_earlier_work_is_found_or_named_with_the_files_to_bring(tmp_path, monkeypatch, capsys):
    notebook_utils.check_earlier_work(["layers.affine_forward", "im2col.im2col"])   # the reference: all there
    assert "all here" in capsys.readouterr().out

    def stub():
        raise NotImplementedError("im2col.im2col: your task in im2col/Im2col.ipynb; see the notebook's instructions")

    from cs231n_lib import im2col
    monkeypatch.setattr(im2col, "im2col", stub)
    with pytest.raises(NotImplementedError) as raised:
        notebook_utils.check_earlier_work(["layers.affine_forward", "im2col.im2col"])
    message = str(raised.value)
    assert "  im2col.im2col: bring cs231n_lib/im2col.py from your im2col folder" in message
    assert "python bring_earlier_work.py ../im2col" in message and "affine_forward" not in message
