"""Run ``nbgrader autograde`` for one student inside the sandbox, on a throwaway mini course.

The sandbox sees (``/home/student``, writable, deleted afterwards):

    course/nbgrader_config.py, course/gradebook.db   copies of the template (cells, no students)
    course/source/<a>/<Notebook>.ipynb               the instructor's notebook (hidden tests run)
    course/submitted/<s>/<a>/<Notebook>.ipynb        the student's notebook
    course/submitted/<s>/<a>/cs231n_lib/             the student's copies of the library files
                                                     that hold tasks; the public release's
                                                     copies of every other file

and, read-only, the Python environment. Not the reference library, not the real course
directory, not other students. The library files without tasks (``notebook_utils.py`` with
``Score``, ``gradient_check.py``) come from the release, so a student cannot grade
themselves by editing them. This module only runs and collects; the scores are computed by
:mod:`autograder.notebook_scores` from what comes back, treated as untrusted data.
"""

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import sandbox
from .safe_files import UnsafeFileError, copy_regular_file, read_regular_file, regular_files
from .sandbox import Bind, SandboxLimits, SandboxResult
from .tasks import Assignment, Catalog

LIBRARY = "cs231n_lib"
MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_LIBRARY_FILES, MAX_LIBRARY_BYTES = 500, 20 * 2**20
# Where nbgrader and Jupyter legitimately write during autograde; anything else is reported.
EXPECTED_WRITES = ("course/autograded/", "course/gradebook.db", ".local/", ".ipython/", ".cache/", ".config/",
                   ".jupyter/", "course/.nbgrader.log")
NOTEBOOK_LIMITS = SandboxLimits(cpu_seconds=300, wall_seconds=300, memory_bytes=2 * 2**30,
                                max_processes=256)   # nbgrader and the kernel run many threads


@dataclasses.dataclass(frozen=True)
class NotebookRun:
    """What came back from one sandboxed autograde."""
    notebook_bytes: bytes | None       # the autograded notebook, None when there is none
    missing_reason: str | None         # why there is none
    run: SandboxResult | None
    touched: tuple[str, ...]           # files written outside the expected places
    submitted_notebook: bool           # whether the submission had the notebook at all


def run_notebook_grading(*, student: str, assignment: Assignment, catalog: Catalog, submission_dir: Path,
                         release_dir: Path, template_course: Path, use_sandbox: bool,
                         limits: SandboxLimits = NOTEBOOK_LIMITS, cell_timeout: int = 30) -> NotebookRun:
    """Autograde one submission's notebook in a throwaway course; returns the untrusted outcome."""
    with tempfile.TemporaryDirectory(prefix="cs231n-notebook-") as scratch:
        home = Path(scratch) / "home"
        course = home / "course"
        shutil.copytree(template_course, course)
        submitted = course / "submitted" / student / assignment.name
        submitted.mkdir(parents=True)
        try:
            has_notebook = _copy_notebook(submission_dir, submitted, assignment.notebook)
        except UnsafeFileError as error:
            return NotebookRun(None, f"your notebook could not be read: {error}", None, (), False)
        if not has_notebook:
            return NotebookRun(None, f"the submission has no {assignment.notebook}", None, (), False)
        _assemble_library(submission_dir, release_dir, submitted / LIBRARY, catalog)
        before = _snapshot(home)
        run = _run(home, student, assignment.name, use_sandbox, limits, cell_timeout)
        touched = tuple(_unexpected_writes(before, _snapshot(home)))
        try:
            data = read_regular_file(home, f"course/autograded/{student}/{assignment.name}/{assignment.notebook}",
                                     MAX_NOTEBOOK_BYTES)
            return NotebookRun(data, None, run, touched, True)
        except UnsafeFileError as error:
            return NotebookRun(None, f"autograding produced no notebook ({run.describe()}; {error})", run, touched, True)


def _copy_notebook(submission_dir: Path, submitted: Path, notebook: str) -> bool:
    try:
        data = read_regular_file(Path(submission_dir), notebook, MAX_NOTEBOOK_BYTES)
    except UnsafeFileError as error:
        if not (Path(submission_dir) / notebook).exists() and not (Path(submission_dir) / notebook).is_symlink():
            return False
        raise error
    (submitted / notebook).write_bytes(data)
    return True


def student_library_files(catalog: Catalog) -> set[str]:
    """Library files (relative to cs231n_lib/) that hold a task of any assignment: the student's own."""
    return {path.as_posix() for path in catalog.tasks_by_file()}


def _assemble_library(submission_dir: Path, release_dir: Path, target: Path, catalog: Catalog) -> None:
    """The release's library with the student's copies of the files that hold tasks put in."""
    own = student_library_files(catalog)
    for relative, path in regular_files(Path(release_dir) / LIBRARY, MAX_LIBRARY_FILES, MAX_LIBRARY_BYTES):
        copy_regular_file(path, target / relative)
    student_library = Path(submission_dir) / LIBRARY
    if student_library.is_dir() and not student_library.is_symlink():
        for relative in sorted(own):
            try:
                data = read_regular_file(student_library, relative, MAX_LIBRARY_BYTES)
            except UnsafeFileError:
                continue   # missing or a link: the release's stub stands in
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(data)


def _run(home: Path, student: str, assignment: str, use_sandbox: bool, limits: SandboxLimits,
         cell_timeout: int) -> SandboxResult:
    venv = Path(sys.prefix)
    python = str(venv / "bin" / "python") if (venv / "bin" / "python").exists() else sys.executable
    arguments = ["-m", "nbgrader", "autograde", assignment, "--student", student, "--force",
                 f"--Execute.timeout={int(cell_timeout)}"]
    environment = {"CS231N_QUICK": "1"}
    if use_sandbox:
        binds = [Bind(home, sandbox.HOME_INSIDE, writable=True)]
        if venv != Path(sys.base_prefix):
            binds.append(Bind(venv, str(venv)))   # same path: the venv's python finds its pyvenv.cfg
        environment["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
        return sandbox.run_sandboxed([python, *arguments], binds=binds, limits=limits, env=environment,
                                     cwd=f"{sandbox.HOME_INSIDE}/course", use_sandbox=True)
    environment.update(HOME=str(home), PATH=f"{venv / 'bin'}:/usr/bin:/bin")
    return sandbox.run_sandboxed([python, *arguments], binds=[Bind(home / "course", str(home / "course"), True)],
                                 limits=limits, env=environment, use_sandbox=False)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for folder, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found


def _unexpected_writes(before: dict, after: dict) -> list[str]:
    changed = [path for path, state in after.items() if before.get(path) != state]
    return sorted(path for path in changed if not path.startswith(EXPECTED_WRITES))[:50]
