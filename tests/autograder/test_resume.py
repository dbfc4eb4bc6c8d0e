"""A grading run killed midway (SIGKILL) resumes: finished results intact, none half-written."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from autograder.library_grading import grade_many, read_result

from .students import REFERENCE, TEST_LIMITS, make_submission

REPO = REFERENCE.parent
STUDENTS = [f"s{i}" for i in range(6)]


def _child_processes_left() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"/grader/student_process.py" in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                pass
    return found


def test_a_killed_batch_resumes_where_it_stopped(requires_sandbox, tmp_path, capfd):
    submissions = {s: make_submission(tmp_path / "class", s, stubbed=(i % 2 == 1)) for i, s in enumerate(STUDENTS)}
    results, secret = tmp_path / "results", tmp_path / ".grading_secret"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from autograder.library_grading import grade_many
        from autograder.sandbox import SandboxLimits
        submissions = {{s: Path(p) for s, p in {dict((s, str(p)) for s, p in submissions.items())!r}.items()}}
        grade_many(submissions, "conv_pool", Path({str(results)!r}), secret_file=Path({str(secret)!r}), jobs=1,
                   limits=SandboxLimits(**{TEST_LIMITS.__dict__!r}), progress=False)
    """)
    grader = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    folder = results / "conv_pool"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < 2:
        time.sleep(0.02)
    os.kill(grader.pid, signal.SIGKILL)       # the grader only, as a crash would: no cleanup runs
    grader.wait()
    finished = {path.stem: path.read_bytes() for path in folder.glob("*.json")}
    assert 2 <= len(finished) < len(STUDENTS), "the run was not stopped midway"
    for student, raw in finished.items():       # what exists is whole
        assert read_result(folder / f"{student}.json") is not None

    deadline = time.monotonic() + 5             # the sandboxes died with their parent
    while time.monotonic() < deadline and _child_processes_left():
        time.sleep(0.1)
    assert _child_processes_left() == []

    resumed = grade_many(submissions, "conv_pool", results, secret_file=secret, jobs=2, limits=TEST_LIMITS,
                         progress=True)
    assert set(resumed) == set(STUDENTS)
    bar = capfd.readouterr().err
    assert "grading conv_pool" in bar and "6/6" in bar and "<" in bar   # tqdm: count, elapsed<remaining
    for student, raw in finished.items():       # finished work is kept, not redone
        assert (folder / f"{student}.json").read_bytes() == raw
    full = resumed["s0"]["max_score"]
    assert [resumed[s]["score"] for s in STUDENTS] == [full, 0, full, 0, full, 0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.json" for s in STUDENTS)
