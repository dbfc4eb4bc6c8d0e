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
