"""Hostile submissions in one batch with a correct one: each gains nothing and harms nothing."""

import dataclasses
from pathlib import Path

import pytest

from autograder.collect import collect
from autograder.grading.batch import grade_class
from autograder.grading.job import GradingOptions
from autograder.grading.results import read_results

from ...conftest import new_layout
from .students import REFERENCE, TEST_LIMITS, check_entry, lost_checks, make_submission

pytestmark = pytest.mark.slow   # hostile libraries in the sandbox

REPO = REFERENCE.parent
# A run's wall clock: long enough for the honest calls on a loaded machine, short for the loops.
LIMITS = dataclasses.replace(TEST_LIMITS, wall_seconds=8)

FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

CHEATER = """
import json as _json, os as _os, socket as _socket
_seen = []
def _try(name, action):
    try:
        action()
        _seen.append(name)
    except Exception:
        pass
for _path in {targets!r}:
    _try("read " + _path, lambda: open(_path, "rb").read(1) if _os.path.isfile(_path) else _os.listdir(_path))
_try("network", lambda: _socket.create_connection(("1.1.1.1", 80), timeout=1))
for _path in {writes!r}:
    _try("write " + _path, lambda: open(_path, "w").write("pwned"))
SEEN = _seen
"""

# Writes forged answers into every pipe it can find (the answers go over a pipe to the grader),
# claiming each request succeeded: a handle for a function, an array for a call. Then exits.
FORGER = """
import json, os, struct
def frame(number):
    node = {"h": 1, "ty": "builtins.function", "c": True} if number % 2 else {"a": [0, 24], "dt": "<f8", "sh": [3]}
    text = json.dumps({"id": number, "ok": True, "value": node}).encode()
    return b"CSW1" + struct.pack(">IQ", len(text), 24) + text + bytes(24)
forged = b"".join(frame(number) for number in range(1, 400))
for fd in range(3, 64):
    try:
        os.write(fd, forged)
    except OSError:
        pass
os._exit(0)
"""

NUMPY_PATCHER = """
import numpy
numpy.allclose = lambda *a, **k: True
numpy.abs = lambda x: 0 * x
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.savez = lambda *a, **k: None
"""


@pytest.fixture(scope="module")
def batch(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    layout = new_layout(tmp_path_factory.mktemp("course"))
    results = layout.results_dir("conv_pool")
    good_submitted = layout.submitted_dir("conv_pool", "good")
    good = make_submission(root, "good")
    targets = [str(REFERENCE / "layers.py"), str(REPO / "solutions"), str(layout.gradebook), str(layout.secret_file),
               str(good_submitted / "cs231n_lib" / "layers.py"), str(results), str(REPO), "/root/.pyenv/version"]
    writes = [str(REPO / "PWNED-by-cheater"), str(layout.course_dir / "PWNED"), str(results / "good.json")]
    relu = "    out = xp.maximum(x, 0)\n"
    submissions = {
        "good": good,
        "loop_in_relu": make_submission(root, "loop_in_relu", edits={"layers.py": [(relu, "    while True:\n        pass\n")]}),
        "loop_in_conv": make_submission(root, "loop_in_conv", edits={"layers.py": [(
            "    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = xp.empty",
            "    while True:\n        pass\n    out = xp.empty")]}),
        "loop_at_import": make_submission(root, "loop_at_import", stubbed=True, prepend={"layers.py": "while True:\n    pass"}),
        "memory_hog": make_submission(root, "memory_hog", stubbed=True, prepend={"layers.py": "hog = bytearray(8 * 2**30)"}),
        "fork_bomb": make_submission(root, "fork_bomb", stubbed=True, prepend={"layers.py": FORK_BOMB}),
        "cheater": make_submission(root, "cheater", stubbed=True, prepend={"layers.py": CHEATER.format(
            targets=targets, writes=writes)}, edits={"layers.py": [(
                'raise NotImplementedError("layers.relu_forward', 'raise RuntimeError(f"seen: {SEEN}")\n    raise NotImplementedError("layers.relu_forward')]}),
        "garbage": make_submission(root, "garbage", edits={"layers.py": [
            ("    out = x.reshape(N, D) @ w + b\n", "    out = x.reshape(N, D) @ w + b * float('nan')\n"),
            (relu, "    return 'a string', None\n"),
            ("    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = xp.empty",
             "    return xp.zeros(3), None\n    out = xp.empty"),
            ("    dx = dout * (x > 0)\n", "    return __import__('numpy').zeros(2 * 10**6)\n"),   # 16 MB: twice the largest array a check takes
            ("    N, D = x.shape[0], w.shape[0]\n", "    return {'dx': 1}, [], None\n")]}),
        "forger": make_submission(root, "forger", stubbed=True, prepend={"layers.py": FORGER}),
        "numpy_patcher": make_submission(root, "numpy_patcher", stubbed=True, prepend={"layers.py": NUMPY_PATCHER}),
        "sys_exit": make_submission(root, "sys_exit", stubbed=True, prepend={"layers.py": "import sys\nsys.exit(0)"}),
        "os_exit": make_submission(root, "os_exit", stubbed=True, prepend={"layers.py": "import os\nos._exit(0)"}),
    }
    collect(layout, "conv_pool", [root], log=lambda line: None)
    assert sorted(layout.students_with_submissions("conv_pool")) == sorted(submissions)
    report = grade_class(layout, "conv_pool", jobs=2, progress=False,
                         options=GradingOptions(cell_timeout=2, library_limits=LIMITS, library_call_timeout=1.0))
    assert not report.internal_errors
    graded = {student: result["library"] for student, result in report.results.items()}
    return {"results": graded, "layout": layout, "writes": writes, "max": graded["good"]["max_score"]}


def test_the_correct_student_is_unharmed(batch):
    good = batch["results"]["good"]
    assert good["score"] == good["max_score"] and lost_checks(good) == set()
    stored = read_results(batch["layout"], "conv_pool")
    assert stored["good"]["library"] == good and set(stored) == set(batch["results"])


@pytest.mark.parametrize("student", ["loop_at_import", "memory_hog", "fork_bomb", "cheater", "forger",
                                     "numpy_patcher", "sys_exit", "os_exit"])
def test_a_hostile_student_gains_nothing(batch, student):
    result = batch["results"][student]
    assert result["score"] == 0, lost_checks(result)


def test_reasons_are_recorded(batch):
    results = batch["results"]
    assert results["loop_at_import"]["run"]["status"] == "timeout"
    assert "while importing" in results["loop_at_import"]["error"]
    assert results["fork_bomb"]["run"]["status"] == "timeout"
    assert "MemoryError" in results["memory_hog"]["error"]
    assert "SystemExit" in results["sys_exit"]["error"]
    assert "ended while importing" in results["os_exit"]["error"]
    forged = results["forger"]["error"] or check_entry(results["forger"], "layers.affine_forward", "(N, D) input")["diagnosis"]
    # Forged answers are out of turn, or answer with the wrong things: either way, nothing to grade.
    assert any(reason in forged for reason in ("while importing", "protocol", "out of turn", "was not run")), forged


def test_an_infinite_loop_in_one_function_costs_only_that_function(batch):
    result = batch["results"]["loop_in_relu"]
    assert lost_checks(result) == {("layers.relu_forward", "values, negatives and zeros")}
    diagnosis = check_entry(result, "layers.relu_forward", "values, negatives and zeros")["diagnosis"]
    assert "did not finish within its time limit" in diagnosis


def test_a_function_that_loops_on_every_call_does_not_eat_the_later_functions_time(batch):
    # conv_forward_naive is called many times (values, shapes, and the numerical gradients of
    # the backward check); only its first call may spend the time limit, so the run ends well
    # inside the wall clock and max pooling, planned after it, keeps all of its points.
    result = batch["results"]["loop_in_conv"]
    lost = lost_checks(result)
    assert lost and {task for task, _ in lost} <= {"layers.conv_forward_naive", "layers.conv_backward_naive"}
    assert any(task == "layers.conv_forward_naive" for task, _ in lost)
    assert result["run"]["status"] != "timeout"


def test_the_cheater_saw_nothing_and_wrote_nothing(batch):
    diagnosis = check_entry(batch["results"]["cheater"], "layers.relu_forward", "values, negatives and zeros")["diagnosis"]
    assert "seen: []" in diagnosis
    assert not any(Path(path).exists() and Path(path).read_text() == "pwned" for path in batch["writes"])


def test_garbage_outputs_lose_their_checks_with_reasons(batch):
    result = batch["results"]["garbage"]
    lost = {task for task, _ in lost_checks(result)}
    assert lost == {"layers.affine_forward", "layers.relu_forward", "layers.conv_forward_naive",
                    "layers.relu_backward", "layers.affine_backward"}
    def why(task, name):
        return check_entry(result, task, name)["diagnosis"]
    assert "NaN" in why("layers.affine_forward", "(N, D) input")
    assert "returned a str" in why("layers.relu_forward", "values, negatives and zeros")
    assert "shape (3,)" in why("layers.conv_forward_naive", "output shape")
    assert "too large" in why("layers.relu_backward", "dx")
    assert "returned a dict" in why("layers.affine_backward", "dx")
    assert result["functions"][-1]["score"] == result["functions"][-1]["max_score"]   # max pool untouched
