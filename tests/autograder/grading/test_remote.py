"""The grader's side of a student's process: plain values back, objects stay there, misbehaviour costs the student only."""

import os
import signal
import textwrap
import threading
import time

import numpy as np
import pytest

from autograder.course import LIBRARY
from autograder.grading import wire
from autograder.grading.remote import (GRACE_SECONDS, ByValue, Remote, StudentError, StudentProcess, StudentProcessGone,
                                       StudentTimeout)
from autograder.sandbox import SandboxLimits

LIMITS = SandboxLimits(cpu_seconds=20, wall_seconds=20, max_processes=16)

PROBE = textwrap.dedent('''
    import os, signal, struct, time
    import numpy as np

    class Model:
        def __init__(self):
            self.params = {"W": np.ones((2, 2))}

        def loss(self, X):
            return float(np.sum(X * self.params["W"]))

    class Other:
        pass

    def double(x):
        return 2 * x

    def spin(seconds):
        end = time.time() + seconds
        while time.time() < end:
            pass
        return "done"

    def stubborn():
        while True:            # swallows the alarm, as a student's bare except would
            try:
                time.sleep(10)
            except BaseException:
                pass

    def forge():
        text = b'{"id": 999, "ok": true, "value": 1}'
        frame = b"CSW1" + struct.pack(">IQ", len(text), 0) + text
        for fd in range(3, 32):
            try:
                os.write(fd, frame)
            except OSError:
                pass
        return 1

    def flood():
        return np.zeros(2**24)           # 128 MiB of float64

    def mebibyte():
        return np.ones(2**17)            # 1 MiB of float64

    def signal_pid(pid):
        try:
            os.kill(pid, signal.SIGSTOP)
            return "sent"
        except OSError as error:
            return type(error).__name__

    def raise_named():
        raise NotImplementedError("layers.relu_forward: your task")

    def stop_reading():
        import threading
        # Answer this call, then stop the whole process: its requests pipe fills and nobody reads it.
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGSTOP)).start()
        return "stopping"
''')


@pytest.fixture
def home(tmp_path):
    library = tmp_path / "home" / LIBRARY
    library.mkdir(parents=True)
    (library / "__init__.py").write_text("")
    (library / "probe.py").write_text(PROBE)
    for folder in (tmp_path, tmp_path / "home", library):
        folder.chmod(0o755)
    return tmp_path / "home"


@pytest.fixture
def process(requires_sandbox, home):
    with StudentProcess(home, "library", limits=LIMITS, use_sandbox=True) as started:
        yield started


def test_plain_values_come_back_and_objects_stay_in_the_student_process(process):
    double = process.library_attribute("probe", "double")
    assert isinstance(double, Remote) and double(np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]
    model = process.library_attribute("probe", "Model")()
    assert isinstance(model, Remote)
    params = model.params                      # a dict stays there: writes go through
    params["W"] = np.full((2, 2), 3.0)
    assert model.loss(np.ones((2, 2))) == 12.0
    assert sorted(params) == ["W"] and len(params) == 1 and "W" in params
    assert isinstance(model, process.library_attribute("probe", "Model"))       # asked of the student's process
    assert not isinstance(model, process.library_attribute("probe", "Other"))


def test_library_objects_go_by_value_and_grader_functions_not_at_all(process):
    model = process.library_attribute("probe", "Model")
    built = ByValue(f"{LIBRARY}.probe:Model", {"params": {"W": np.eye(2)}})
    loss = process.library_attribute("probe", "Model.loss")
    assert loss(built, np.ones((2, 2))) == 2.0
    with pytest.raises(wire.WireError, match="cannot send a function"):
        model.loss(lambda: None)


def test_a_student_error_is_raised_here_under_its_own_name(process):
    with pytest.raises(StudentError) as raised:
        process.library_attribute("probe", "raise_named")()
    assert type(raised.value).__name__ == "NotImplementedError" and isinstance(raised.value, NotImplementedError)
    assert "probe.py" in raised.value.where


def test_a_call_past_its_time_is_stopped_and_the_process_goes_on(process):
    spin = process.library_attribute("probe", "spin")
    started = time.monotonic()
    with pytest.raises(StudentTimeout):
        process.request("call", ref=spin._handle, args=[30], kwargs={}, timeout=0.5)
    assert time.monotonic() - started < 3
    assert spin(0.01) == "done"


def test_code_that_swallows_the_alarm_is_killed_and_nothing_more_is_asked_of_it(process):
    stubborn = process.library_attribute("probe", "stubborn")
    started = time.monotonic()
    with pytest.raises(StudentProcessGone, match="did not answer"):
        process.request("call", ref=stubborn._handle, args=[], kwargs={}, timeout=0.5)
    assert time.monotonic() - started < 0.5 + GRACE_SECONDS + 5
    with pytest.raises(StudentProcessGone):
        process.library_attribute("probe", "double")


def test_a_process_that_stops_reading_its_requests_is_killed_at_the_deadline(process):
    """The grader's write of a request larger than the pipe's buffer waited forever for a process
    that no longer read (a notebook ran 361 s against its 300 s; a class took 19 minutes)."""
    assert process.library_attribute("probe", "stop_reading")() == "stopping"
    time.sleep(0.5)
    outcome = {}

    def send_a_large_request():
        try:
            process.request("call", ref=0, args=[np.zeros(2**20)], kwargs={}, timeout=0.5)   # 8 MiB
        except StudentError as error:
            outcome["error"] = error

    started = time.monotonic()
    sender = threading.Thread(target=send_a_large_request, daemon=True)
    sender.start()
    sender.join(timeout=0.5 + GRACE_SECONDS + 10)
    if sender.is_alive():               # still blocked in the write: free it before failing
        process._process.finish()
        pytest.fail("the grader's write to a process that stopped reading had no deadline")
    assert time.monotonic() - started < 0.5 + GRACE_SECONDS + 5
    assert isinstance(outcome.get("error"), StudentProcessGone), outcome
    assert "stopped reading" in str(outcome["error"]) and process.unanswered


def test_a_forged_answer_on_the_pipe_ends_the_process(process):
    with pytest.raises(StudentProcessGone, match="out of turn|protocol"):
        process.library_attribute("probe", "forge")()


def test_an_answer_beyond_the_limits_ends_the_process(requires_sandbox, home):
    with StudentProcess(home, "library", limits=LIMITS, use_sandbox=True,
                        limits_of_answers=wire.Limits(payload_bytes=2**20)) as process:
        with pytest.raises(StudentProcessGone, match="larger than the limits"):
            process.library_attribute("probe", "flood")()


def test_answers_beyond_the_students_budget_are_refused_and_the_grader_holds_no_more(requires_sandbox, home):
    """Before: every answer was kept as long as the grade cells kept it, up to 512 MiB each (the
    grader reached 4.4 GiB for one student). The budget, scaled down here: 3 MiB."""
    with StudentProcess(home, "library", limits=LIMITS, use_sandbox=True, held_budget=3 * 2**20) as process:
        mebibyte = process.library_attribute("probe", "mebibyte")
        kept = [mebibyte() for _ in range(3)]
        with pytest.raises(StudentError) as raised:
            mebibyte()
        assert type(raised.value).__name__ == "AnswerTooLarge" and "at most 3 MiB" in str(raised.value)
        assert process.held.peak <= 3 * 2**20
        assert process.library_attribute("probe", "double")(1.5) == 3.0     # the process goes on
        kept.pop()                                                           # judged, then dropped
        assert mebibyte().shape == (2**17,)


def test_the_student_process_cannot_signal_the_grader(process):
    result = process.library_attribute("probe", "signal_pid")(os.getpid())
    assert result in ("ProcessLookupError", "PermissionError")
    assert os.waitpid(-1, os.WNOHANG) is not None   # and this process runs on (it answered this line)
    assert signal.getsignal(signal.SIGINT) is not None
