"""Dask as instructors deploy it: ``dask scheduler`` and ``dask worker`` started as their own processes,
from a folder outside the kit, with the kit importable only because it is pip-installed (and asking
for ``--kit``); ``grade --kit DIR --scheduler`` gives the grades ``--jobs`` gives, a worker killed mid-task costs no student their grade,
and a worker without bubblewrap refuses, naming itself."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.course import REPO_ROOT
from autograder.grading.batch import grade_class
from autograder.grading.job import GradingOptions
from autograder.notebooks import read_notebook, write_notebook

from ..conftest import OPTIONS, new_layout
from ..installed_kit import clean_environment, install_kit
from .test_resume_and_dask import assert_gradebook_matches_results, student_processes_left

pytestmark = pytest.mark.slow   # a virtualenv, a scheduler, three workers, a class graded twice

ASSIGNMENT = "architectures"   # notebook only: the cheapest real grading
# The slow student: the reference with a first cell that sleeps, so that a worker can be killed while
# it grades them. The sleep stays well within the cell time limit: the grade is full marks.
SLOW_CELL = "import time\ntime.sleep(5)   # simulated slow student\n"


def a_class(root: Path):
    layout = new_layout(root)
    folders = build_class(layout, ASSIGNMENT, {"ada": "reference", "cy": "stubs", "slowpoke": "reference"},
                          root / "class")
    notebook_path = folders["slowpoke"] / layout.catalog().get(ASSIGNMENT).notebook
    notebook = read_notebook(notebook_path)
    notebook["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": "slow-student", "metadata": {},
                                 "outputs": [], "source": SLOW_CELL})
    write_notebook(notebook, notebook_path)
    collect(layout, ASSIGNMENT, [root / "class"], log=lambda line: None)
    return layout


def start(command: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    """A long-running process in its own session (so that it and its children die together), output to ``log``."""
    with open(log, "wb") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def sleeping(pid: str) -> bool:
    """Whether a thread of ``pid`` sleeps in time.sleep: the slow student's first cell is running."""
    try:
        return any((task / "wchan").read_text() == "hrtimer_nanosleep" for task in Path("/proc", pid, "task").iterdir())
    except OSError:
        return False


def grades(results: dict[str, dict]) -> dict[str, tuple]:
    return {student: (result["score"], result["max_score"], result["sandboxed"],
                      [(cell["grade_id"], cell["score"]) for cell in result["notebook"]["cells"]])
            for student, result in results.items()}


def test_a_class_graded_on_a_deployed_cluster_survives_a_killed_worker(requires_sandbox, tmp_path):
    pytest.importorskip("distributed", reason="Dask distributed is not installed")
    python = install_kit(tmp_path / "installed")
    layout = a_class(tmp_path / "course-root")
    cluster = tmp_path / "cluster"   # where the cluster's processes run: no folder of the kit
    cluster.mkdir()
    scheduler_file = cluster / "scheduler.json"
    dask = str(python.parent / "dask")
    processes = {}
    # Without --kit, an installed autograder cannot know where the course's sources are, and says so.
    lost = subprocess.Popen([str(python), "-m", "autograder", "grade", ASSIGNMENT, "--no-progress"], cwd=cluster,
                            env=clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        processes["scheduler"] = start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                        "--scheduler-file", str(scheduler_file)], cluster, clean_environment(),
                                       cluster / "scheduler.log")
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        scratch = {}
        for name in ("a", "b"):
            scratch[name] = cluster / f"tmp-{name}"
            scratch[name].mkdir()
            processes[name] = start([dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", name,
                                     "--local-directory", str(scratch[name])], cluster,
                                    clean_environment(TMPDIR=str(scratch[name])), cluster / f"worker-{name}.log")

        _, told = lost.communicate(timeout=120)
        assert lost.returncode == 1 and "away from the course kit's sources: pass --kit DIR" in told, told

        grade = [str(python), "-m", "autograder", "grade", ASSIGNMENT]
        options = ["--kit", str(REPO_ROOT), "--course-dir", str(layout.course_dir), "--scheduler", address,
                   "--no-progress", "--cell-timeout", str(OPTIONS.cell_timeout)]
        grading = subprocess.Popen(grade + options, cwd=cluster, env=clean_environment(PATH=f"{python.parent}:/usr/bin:/bin"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed, deadline = None, time.monotonic() + 240
        while killed is None and grading.poll() is None and time.monotonic() < deadline:
            for name in ("a", "b"):
                if any(sleeping(pid) for pid in student_processes_left(scratch[name])):
                    stop(processes[name])   # the machine is gone, mid-task
                    killed = name
                    break
            time.sleep(0.05)
        out, err = grading.communicate(timeout=300)
        assert killed, f"the slow student was never seen running on a worker: {out}\n{err}"
        assert grading.returncode == 0 and "NOT GRADED" not in out, f"{out}\n{err}"
        on_dask = assert_gradebook_matches_results(layout, expect_all=True)
        assert sorted(on_dask) == ["ada", "cy", "slowpoke"]
        assert on_dask["slowpoke"]["score"] == on_dask["slowpoke"]["max_score"] - on_dask["slowpoke"]["pending_manual_points"] > 0

        report = grade_class(layout, ASSIGNMENT, jobs=2, options=GradingOptions(cell_timeout=OPTIONS.cell_timeout,
                                                                                  force=True), progress=False)
        assert not report.internal_errors
        assert grades(report.results) == grades(on_dask)

        # A worker that cannot sandbox: bubblewrap is not on its PATH. Its task refuses and says where.
        survivor = "b" if killed == "a" else "a"
        stop(processes[survivor])
        scratch["c"] = cluster / "tmp-c"
        scratch["c"].mkdir()
        processes["c"] = start([dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", "c",
                                "--local-directory", str(scratch["c"])], cluster,
                               clean_environment(TMPDIR=str(scratch["c"]), PATH=str(python.parent)),
                               cluster / "worker-c.log")
        before = layout.result_file(ASSIGNMENT, "cy").read_bytes()
        refused = subprocess.run(grade + ["cy"] + options + ["--force"], cwd=cluster, capture_output=True, text=True, timeout=300,
                                 env=clean_environment(PATH=f"{python.parent}:/usr/bin:/bin"))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "grade failed: on the Dask worker tcp://" in refused.stderr, refused.stderr
        assert "bubblewrap is not installed" in refused.stderr and "--unsafe-no-sandbox" in refused.stderr
        assert layout.result_file(ASSIGNMENT, "cy").read_bytes() == before
    finally:
        for process in processes.values():
            stop(process)
