"""Diagnoses of typical mistakes, on arrays made here: each names what to fix, never the inputs."""

import numpy as np
import pytest

from autograder.grading.library.answers import Answers, CallOutcome, Lost
from autograder.grading.library.diagnosis import Layout, compare
from cs231n_lib import layers

MAP = Layout(axis_names=("image", "filter", "row", "column"), channel_axis=1, channel_word="filter", spatial=True)


@pytest.fixture
def conv(rng):
    x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    return x, w, b


def test_right_within_float32_rounding_passes(conv):
    x, w, b = conv
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    single, _ = layers.conv_forward_naive(*(a.astype(np.float32) for a in conv), {"stride": 1, "pad": 1})
    assert compare(single.astype(np.float64), out, "out", MAP).passed


def test_missing_padding_shows_on_the_border(conv):
    x, w, b = conv
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    wrong = out.copy()
    wrong[:, :, 0, :] = wrong[:, :, -1, :] = wrong[:, :, :, 0] = wrong[:, :, :, -1] = 0.0
    verdict = compare(wrong, out, "out", MAP)
    assert not verdict.passed and "border of the map is wrong: check the zero padding" in verdict.diagnosis


def test_a_wrong_stride_shows_after_the_first_window(conv):
    x, w, b = conv
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 2, "pad": 0})
    no_stride, _ = layers.conv_forward_naive(x[:, :, :5, :5], w, b, {"stride": 1, "pad": 0})
    layout = Layout(MAP.axis_names, 1, "filter", True, stride=2)
    diagnosis = compare(no_stride[:, :, :3, :3], out, "out", layout).diagnosis
    assert "row 0, column 0) is right" in diagnosis and "(i * 2, j * 2)" in diagnosis


def test_bias_scale_sign_transpose_and_one_filter(conv):
    x, w, b = conv
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    with_bias = Layout(MAP.axis_names, 1, "filter", True, bias=b)
    assert "bias is not added" in compare(out - b[None, :, None, None], out, "out", with_bias).diagnosis
    assert "bias is added twice" in compare(out + b[None, :, None, None], out, "out", with_bias).diagnosis
    assert "constant per filter" in compare(out + np.arange(4.0)[None, :, None, None], out, "out", MAP).diagnosis
    assert "2 times the expected values" in compare(2 * out, out, "out", MAP).diagnosis
    assert "opposite sign" in compare(-out, out, "out", MAP).diagnosis
    assert "row and column axes in a different order" in compare(out.transpose(0, 1, 3, 2), out, "out", MAP).diagnosis
    one_filter = out.copy()
    one_filter[:, 2] += np.linspace(0, 1, 49).reshape(7, 7)
    diagnosis = compare(one_filter, out, "out", MAP).diagnosis
    assert "only filter(s) [2] are wrong" in diagnosis and "out[" in diagnosis


def test_all_zeros_says_the_output_was_never_filled(conv):
    out, _ = layers.conv_forward_naive(*conv, {"stride": 1, "pad": 1})
    assert "all zeros" in compare(np.zeros_like(out), out, "out", MAP).diagnosis


def test_untrusted_answers_become_reasons():
    """Objects, None, NaN, huge arrays and calls that never ran are lost points, never crashes."""
    functions = {key: "layers.relu_forward" for key in "abcdef"}
    outcomes = {0: CallOutcome("ok", value=(None, 1)), 1: CallOutcome("ok", value=np.full(3, np.nan)),
                2: CallOutcome("ok", value=np.zeros(3 * 10**7)), 3: CallOutcome("ok", value="a string"),
                4: CallOutcome("error", error_type="ValueError", message="no", where="layers.py:3 in relu_forward")}
    answers = Answers(outcomes, {key: index for index, key in enumerate("abcdef")}, functions,
                      not_run_reason="it crashed")
    with pytest.raises(Lost, match="returned None for out"):
        answers.returned("a").array("r.0", (1,), "out")
    with pytest.raises(Lost, match="NaN"):
        answers.returned("b").array("r", (3,), "out")
    with pytest.raises(Lost, match="more than any check needs"):
        answers.returned("c").array("r", (3 * 10**7,), "out")
    with pytest.raises(Lost, match="returned a str"):
        answers.returned("d").array("r", (3,), "out")
    with pytest.raises(Lost, match="raised ValueError at layers.py:3 in relu_forward: no"):
        answers.returned("e")
    with pytest.raises(Lost, match="was not run: it crashed"):
        answers.returned("f")


@pytest.mark.parametrize("forward_ok, consistent", [(True, True), (True, False), (False, True), (False, False)])
def test_a_wrong_backward_gets_exactly_one_coherent_note(forward_ok, consistent):
    from autograder.grading.library.clean_room import _add_forward_backward_notes

    def entry(task, reference_passed, numerical_passed=None):
        checks = [{"name": "dx", "kind": "reference", "passed": reference_passed}]
        if numerical_passed is not None:
            checks.append({"name": "numerical", "kind": "numerical", "passed": numerical_passed})
        return {"task": task, "checks": checks, "notes": []}

    functions = {"layers.max_pool_forward_naive": entry("layers.max_pool_forward_naive", forward_ok),
                 "layers.max_pool_backward_naive": entry("layers.max_pool_backward_naive", False, consistent)}
    _add_forward_backward_notes(functions)
    notes = functions["layers.max_pool_backward_naive"]["notes"]
    assert len(notes) == 1
    blames_backward = "so the error is in max_pool_backward_naive" in notes[0]
    blames_forward_first = "fix max_pool_forward_naive first" in notes[0]
    assert not (blames_backward and blames_forward_first)
    assert blames_backward == (forward_ok and not consistent)
