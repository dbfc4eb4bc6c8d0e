"""Clean-room grading of real submissions: full marks, zero, and exactly the points of what broke."""

import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from autograder.course import Layout
from autograder.grading.library.plan import as_sent
from autograder.grading.library.registry import build_checks, graded_tasks
from autograder.grading.library.seeds import load_or_create_secret, student_seed

from .students import REFERENCE, check_entry, function_entry, grade_library_of, lost_checks, make_submission

ASSIGNMENTS = ("conv_pool", "im2col", "train_cifar10")


def grade(tmp_path, student, folder, assignment="conv_pool"):
    """The library part of ``student``'s grade, with inputs drawn from a test secret."""
    return grade_library_of(folder, assignment, student_seed(b"the test course's secret", student, assignment))


# ----------------------------------------------------------------------------- inputs

def test_every_task_of_tasks_toml_has_checks():
    catalog = Layout.of_repo().catalog()
    listed = {task.name for assignment in catalog.assignments for task in assignment.tasks}
    assert listed == set(graded_tasks())


def test_graders_starting_together_agree_on_one_whole_secret(tmp_path):
    # grade --jobs N makes the secret from N threads at once: none may read it half-written.
    for attempt in range(30):
        path = tmp_path / f"secret-{attempt}"
        start = threading.Barrier(6)

        def grader(_):
            start.wait()
            return load_or_create_secret(path)

        with ThreadPoolExecutor(max_workers=6) as pool:
            found = list(pool.map(grader, range(6)))   # a grader's exception is raised here
        assert len(set(found)) == 1 and len(found[0]) == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"secret-{a}" for a in range(30))


def test_each_student_gets_their_own_inputs_and_always_the_same(tmp_path):
    secret = load_or_create_secret(tmp_path / "secret")
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "secret") == secret

    def inputs(student):
        plan, _ = build_checks([task.name for task in Layout.of_repo().catalog().get("conv_pool").tasks], student_seed(secret, student, "conv_pool"))
        # The checked cases (the nudged calls of numerical gradients sample entries at random too).
        return {f"{call.key}/{index}": array for call in plan.calls if "/numerical/" not in call.key
                for index, array in enumerate(arrays_sent(call.args))}

    alice, alice_again, bob = inputs("alice"), inputs("alice"), inputs("bob")
    assert alice.keys() == alice_again.keys() == bob.keys()
    assert all(np.array_equal(alice[k], alice_again[k]) for k in alice)
    assert not any(np.array_equal(alice[k], bob[k]) for k in alice if alice[k].size > 4)
    other_secret = student_seed(b"another course secret!!", "alice", "conv_pool")
    assert other_secret != student_seed(secret, "alice", "conv_pool")


def arrays_sent(value) -> list:
    """Every array a planned call sends to the student's process."""
    sent = as_sent(value)
    if isinstance(sent, np.ndarray):
        return [sent]
    if isinstance(sent, (tuple, list)):
        return [array for item in sent for array in arrays_sent(item)]
    if isinstance(sent, dict):
        return [array for item in sent.values() for array in arrays_sent(item)]
    return []


def test_the_student_process_gets_inputs_and_never_a_reference_result():
    from cs231n_lib import layers
    plan, _ = build_checks(["layers.relu_forward"], 7)
    assert [call.function for call in plan.calls] == ["layers.relu_forward"]
    arrays = arrays_sent(plan.calls[0].args) + arrays_sent(plan.calls[0].kwargs)
    assert len(arrays) == 1
    expected, _ = layers.relu_forward(arrays[0])
    assert not np.array_equal(arrays[0], expected)


# ----------------------------------------------------------------------------- real submissions

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_reference_gets_full_marks(requires_sandbox, tmp_path, assignment):
    result = grade(tmp_path, "ref", make_submission(tmp_path, "ref"), assignment)
    assert result["error"] is None and result["run"]["status"] == "ok", result["run"]
    assert lost_checks(result) == set()
    assert result["score"] == result["max_score"] > 0
    assert result["run"]["sandboxed"] is True


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_stubs_get_zero_and_say_not_implemented(requires_sandbox, tmp_path, assignment):
    result = grade(tmp_path, "stubs", make_submission(tmp_path, "stubs", stubbed=True), assignment)
    assert result["score"] == 0 and result["max_score"] > 0
    diagnoses = [c["diagnosis"] for f in result["functions"] for c in f["checks"]]
    assert all("NotImplementedError" in d for d in diagnoses), diagnoses


def test_a_wrong_dw_costs_exactly_its_checks_and_is_explained(requires_sandbox, tmp_path):
    folder = make_submission(tmp_path, "half_dw", edits={"layers.py": [
        ("dw += xp.tensordot(dout_ij, x_pad[:, :, rows, cols], axes=([0], [0]))",
         "dw += 0.5 * xp.tensordot(dout_ij, x_pad[:, :, rows, cols], axes=([0], [0]))")]})
    result = grade(tmp_path, "half_dw", folder)
    task = "layers.conv_backward_naive"
    assert lost_checks(result) == {(task, "dw"), (task, "agrees with the numerical gradient of your forward")}
    assert result["score"] == result["max_score"] - 3
    assert "0.5 times the expected values" in check_entry(result, task, "dw")["diagnosis"]
    assert "dw at 3 of 3 sampled entries" in check_entry(
        result, task, "agrees with the numerical gradient of your forward")["diagnosis"]
    assert any("conv_forward_naive passes its checks" in n for n in function_entry(result, task)["notes"])


def test_a_conv_that_ignores_the_stride_is_told_so(requires_sandbox, tmp_path):
    folder = make_submission(tmp_path, "no_stride", edits={"layers.py": [
        ("            top, left = i * stride, j * stride\n", "            top, left = i, j\n")]})
    result = grade(tmp_path, "no_stride", folder)
    forward = "layers.conv_forward_naive"
    # The backward is right, so it keeps its points although it disagrees with the broken forward.
    assert lost_checks(result) == {(forward, "stride 2, pad 0")}
    diagnosis = check_entry(result, forward, "stride 2, pad 0")["diagnosis"]
    assert "row 0, column 0) is right" in diagnosis and "i * 2" in diagnosis


def test_a_consistently_wrong_forward_and_backward_are_told_which_one(requires_sandbox, tmp_path):
    """A backward that differentiates the student's (wrong) forward earns nothing, and is told to fix the forward.

    (Before issue 16 it kept the numerical check's point: consistency was the only judge.)
    """
    folder = make_submission(tmp_path, "no_stride_both", edits={"layers.py": [
        ("            top, left = i * stride, j * stride\n", "            top, left = i, j\n"),
        ("            rows = slice(i * stride, i * stride + (HH - 1) * dilation + 1, dilation)\n"
         "            cols = slice(j * stride, j * stride + (WW - 1) * dilation + 1, dilation)\n",
         "            rows = slice(i, i + (HH - 1) * dilation + 1, dilation)\n"
         "            cols = slice(j, j + (WW - 1) * dilation + 1, dilation)\n")]})
    result = grade(tmp_path, "no_stride_both", folder)
    backward = "layers.conv_backward_naive"
    numerical = check_entry(result, backward, "agrees with the numerical gradient of your forward")
    assert not numerical["passed"]
    assert "consistent with each other and both wrong, so fix conv_forward_naive first" in numerical["diagnosis"]
    assert not check_entry(result, backward, "dx")["passed"] and not check_entry(result, backward, "dw")["passed"]
    assert any("fix conv_forward_naive first" in n for n in function_entry(result, backward)["notes"])


def test_missing_bias_and_ties_are_diagnosed(requires_sandbox, tmp_path):
    folder = make_submission(tmp_path, "sloppy", edits={"layers.py": [
        ("out[:, :, i, j] = xp.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b",
         "out[:, :, i, j] = xp.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))"),
        ("            switch = window.argmax(axis=2)  # first maximum on ties\n"
         "            onehot = xp.arange(pool_height * pool_width) == switch[:, :, None]\n",
         "            onehot = window == window.max(axis=2, keepdims=True)\n")]})
    result = grade(tmp_path, "sloppy", folder)
    assert "bias is not added" in check_entry(result, "layers.conv_forward_naive", "stride 1, pad 1")["diagnosis"]
    # Every tied maximum gets the whole gradient: together more than the window's gradient.
    ties = check_entry(result, "layers.max_pool_backward_naive", TIES)
    assert not ties["passed"] and "does not add up to the window's gradient" in ties["diagnosis"]
    assert check_entry(result, "layers.max_pool_backward_naive", "dx")["passed"]   # no ties, no difference


TIES = "ties: each window's gradient split among its maxima"
# The window's gradient split equally among its tied maxima: a valid subgradient (the notes fix no rule).
EQUAL_SPLIT = ("            switch = window.argmax(axis=2)  # first maximum on ties\n"
               "            onehot = xp.arange(pool_height * pool_width) == switch[:, :, None]\n",
               "            onehot = window == window.max(axis=2, keepdims=True)\n"
               "            onehot = onehot / onehot.sum(axis=2, keepdims=True)\n")
# Writes each window's gradient over what an overlapping window put there, instead of adding.
OVERWRITES = ("            dx[:, :, rows, cols] += (onehot * dout[:, :, i, j, None]).reshape(\n"
              "                N, C, pool_height, pool_width)\n",
              "            here = (onehot * dout[:, :, i, j, None]).reshape(N, C, pool_height, pool_width)\n"
              "            dx[:, :, rows, cols] = xp.where(here != 0, here, dx[:, :, rows, cols])\n")


def test_an_equal_split_of_tied_maxima_gets_full_marks(requires_sandbox, tmp_path):
    result = grade(tmp_path, "splitter", make_submission(tmp_path, "splitter",
                                                                      edits={"layers.py": [EQUAL_SPLIT]}))
    assert lost_checks(result) == set()
    assert result["score"] == result["max_score"]


def test_a_backward_that_overwrites_instead_of_adding_loses_the_overlapping_check(requires_sandbox, tmp_path):
    result = grade(tmp_path, "overwriter", make_submission(tmp_path, "overwriter",
                                                                        edits={"layers.py": [OVERWRITES]}))
    task = "layers.max_pool_backward_naive"
    overlapping = "overlapping 3x3 windows: gradients of shared maxima add up"
    assert (task, overlapping) in lost_checks(result)
    assert "add them up (+=) instead of writing over (=)" in check_entry(result, task, overlapping)["diagnosis"]
    assert check_entry(result, task, "dx")["passed"]     # windows that do not overlap cannot tell


def test_a_conv_that_ignores_dilation_loses_the_dilation_checks(requires_sandbox, tmp_path):
    folder = make_submission(tmp_path, "no_dilation")
    layers = folder / "cs231n_lib" / "layers.py"
    text = layers.read_text()
    start = text.index("def conv_forward_naive(")
    text = text[:start] + text[start:].replace("stride, pad, dilation = conv_params(conv_param)",
                                               "stride, pad, dilation = conv_params(conv_param)\n    dilation = 1", 2)
    layers.write_text(text)
    result = grade(tmp_path, "no_dilation", folder)
    lost = lost_checks(result)
    assert ("layers.conv_forward_naive", "dilation 2, pad 1") in lost
    assert any(task == "layers.conv_backward_naive" for task, _ in lost)


def test_a_missing_library_costs_everything_with_the_reason(requires_sandbox, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    result = grade(tmp_path, "empty", folder)
    assert result["score"] == 0 and "no cs231n_lib/ folder" in result["error"]


def test_a_symlink_to_the_reference_is_not_followed(requires_sandbox, tmp_path):
    folder = make_submission(tmp_path, "linker", stubbed=True)
    layers = folder / "cs231n_lib" / "layers.py"
    layers.unlink()
    layers.symlink_to(REFERENCE / "layers.py")
    result = grade(tmp_path, "linker", folder)
    assert result["score"] == 0   # the link was dropped, not followed: the release's stub stands in
    diagnosis = check_entry(result, "layers.relu_forward", "values, negatives and zeros")["diagnosis"]
    assert "NotImplementedError" in diagnosis and "your task in conv_pool" in diagnosis
