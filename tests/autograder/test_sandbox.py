"""The sandbox itself: what a student's process can see and do, and the limits that stop it."""

import json
import os
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import (HOME_INSIDE, Bind, SandboxLimits, SandboxUnavailableError, python_executable,
                                run_sandboxed)

REPO = Path(__file__).resolve().parents[2]
LIMITS = SandboxLimits(cpu_seconds=4, memory_bytes=512 * 2**20, max_processes=16, max_file_bytes=2**20,
                       tmp_bytes=4 * 2**20, wall_seconds=3)

PROBE = r"""
import json, os, socket
report = {}
def attempt(name, action):
    try:
        action()
        report[name] = "allowed"
    except Exception as error:
        report[name] = type(error).__name__
attempt("read reference", lambda: open("/work/main/cs231n_lib/layers.py").read())
attempt("read solutions", lambda: os.listdir("/work/main/solutions"))
attempt("read host tmp marker", lambda: open(MARKER).read())
attempt("list /root", lambda: os.listdir("/root/.ssh"))
attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
attempt("write /usr", lambda: open("/usr/evil", "w").write("x"))
attempt("write packages", lambda: open("/opt/python-packages/evil.py", "w").write("x"))
attempt("write root", lambda: open("/evil", "w").write("x"))
attempt("write home", lambda: open("/home/student/ok.txt", "w").write("x"))
attempt("write tmp", lambda: open("/tmp/ok.txt", "w").write("x"))
attempt("tcp to outside", lambda: socket.create_connection(("1.1.1.1", 80), timeout=1))
attempt("dns", lambda: socket.getaddrinfo("pypi.org", 443))
attempt("big file", lambda: open("/home/student/big", "wb").write(b"x" * 4 * 2**20))
report["uid"] = os.getuid()
report["env"] = sorted(os.environ)
report["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(report))
"""


@pytest.fixture
def work(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def run_python(code, work, limits=LIMITS):
    return run_sandboxed([python_executable(), "-I", "-S", "-c", code],
                         binds=[Bind(work, HOME_INSIDE, writable=True)], limits=limits)


def test_the_student_sees_only_its_folder_and_the_system(requires_sandbox, work, tmp_path, monkeypatch):
    marker = tmp_path / "host-marker.txt"
    marker.write_text("host only")
    monkeypatch.setenv("CS231N_GRADING_TOKEN", "must-not-leak")
    result = run_python(f"MARKER = {str(marker)!r}\n" + PROBE, work)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    denied = ["read reference", "read solutions", "read host tmp marker", "list /root", "read /etc/passwd",
              "write /usr", "write packages", "write root", "tcp to outside", "dns"]
    assert {name: report[name] for name in denied if report[name] == "allowed"} == {}
    assert report["write home"] == "allowed" and report["write tmp"] == "allowed"
    assert report["big file"] != "allowed" or (work / "big").stat().st_size <= LIMITS.max_file_bytes
    assert (work / "ok.txt").exists()              # the work folder is the host folder the caller gave
    assert not Path("/tmp/ok.txt").exists() or Path("/tmp/ok.txt").read_text() != "x"  # private /tmp
    assert "CS231N_GRADING_TOKEN" not in report["env"] and "OPENBLAS_NUM_THREADS" in report["env"]
    assert max(report["pids"]) < 10                # a pid namespace of its own
    if os.geteuid() == 0:
        assert report["uid"] != 0                  # root's processes would escape RLIMIT_NPROC


def test_a_folder_under_tmp_bound_at_its_own_path_stays_visible(requires_sandbox, work, tmp_path):
    # A kit checked out under /tmp binds its venv at the same path: the private /tmp must
    # not hide it, while the rest of the host's /tmp stays out of sight.
    shared = tmp_path / "venv-like"
    shared.mkdir()
    (shared / "marker.txt").write_text("bound")
    (tmp_path / "beside.txt").write_text("not bound")
    code = (f"import os\nprint(open({str(shared / 'marker.txt')!r}).read())\n"
            f"print(os.path.exists({str(tmp_path / 'beside.txt')!r}))")
    result = run_sandboxed([python_executable(), "-I", "-S", "-c", code],
                           binds=[Bind(work, HOME_INSIDE, writable=True), Bind(shared, str(shared))], limits=LIMITS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["bound", "False"]


def test_an_infinite_loop_is_killed_by_the_wall_clock(requires_sandbox, work):
    started = time.monotonic()
    result = run_python("while True: pass", work, LIMITS)
    assert result.timed_out and result.returncode is None
    assert time.monotonic() - started < LIMITS.wall_seconds + 2
    assert "wall-clock" in result.describe()


def test_the_cpu_limit_stops_a_busy_process(requires_sandbox, work):
    limits = SandboxLimits(cpu_seconds=1, wall_seconds=10)
    result = run_python("while True: pass", work, limits)
    assert not result.timed_out
    assert "CPU" in result.describe()


def test_a_memory_hog_gets_a_memory_error(requires_sandbox, work):
    result = run_python("x = bytearray(2 * 2**30)", work, LIMITS)
    assert result.returncode != 0 and "MemoryError" in result.stderr


def test_a_fork_bomb_is_contained_and_leaves_nothing_behind(requires_sandbox, work):
    bomb = ("import os, time\n"
            "forks = 0\n"
            "for _ in range(500):\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(60); os._exit(0)\n"
            "        forks += 1\n"
            "    except OSError:\n"
            "        pass\n"
            "print(forks, flush=True)\n"
            "while True: pass\n")
    result = run_python(bomb, work, LIMITS)
    assert result.timed_out
    if os.geteuid() == 0:   # a fresh uid per run: the limit counts only this run's processes
        assert int(result.stdout.split()[0]) < LIMITS.max_processes
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _sleepers():
        time.sleep(0.1)
    assert _sleepers() == []                       # the whole tree went with the sandbox


def _sleepers():
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"time.sleep(60)" in command and str(os.getpid()).encode() not in command:
                found.append(entry.name)
    return found


def test_without_bubblewrap_grading_is_refused_unless_asked(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "_probe", lambda: (False, "bubblewrap is not installed"))
    with pytest.raises(SandboxUnavailableError, match="--unsafe-no-sandbox"):
        sandbox.sandbox_policy(unsafe_no_sandbox=False)
    assert sandbox.sandbox_policy(unsafe_no_sandbox=True) is False
    assert "WITHOUT A SANDBOX" in capsys.readouterr().err


def test_with_bubblewrap_the_policy_sandboxes(requires_sandbox):
    assert sandbox.sandbox_policy(unsafe_no_sandbox=True) is True


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="wall_seconds"):
        SandboxLimits(wall_seconds=0)


def test_binding_a_missing_folder_is_a_clear_error(requires_sandbox, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_sandboxed(["/usr/bin/true"], binds=[Bind(tmp_path / "missing", HOME_INSIDE, True)])

