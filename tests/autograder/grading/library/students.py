"""Real submissions for the autograder tests, built from the reference library.

A correct student is a copy of the reference (its solution markers are only comments); an
unfinished one is the release's stubs (``autograder.stubs``); a partly correct or hostile
one is either of these with a few lines changed or added.
"""

import shutil
import tempfile
from pathlib import Path

import cs231n_lib
from autograder import files
from autograder.course import LIBRARY, Layout
from autograder.grading.job import GradingOptions, grade_library_part
from autograder.sandbox import SandboxLimits
from autograder.stubs import write_stubs

REFERENCE = Path(cs231n_lib.__file__).resolve().parent

# Small limits keep hostile submissions cheap; a correct run takes about a second.
TEST_LIMITS = SandboxLimits(cpu_seconds=8, memory_bytes=1536 * 2**20, max_processes=16,
                            max_file_bytes=16 * 2**20, tmp_bytes=16 * 2**20, wall_seconds=8)


def make_submission(root: Path, name: str, *, stubbed: bool = False, edits: dict | None = None,
                    prepend: dict | None = None) -> Path:
    """A submission folder ``root/name`` holding ``cs231n_lib/`` (and a notebook placeholder).

    ``edits``: {file: [(old, new), ...]} exact replacements (each ``old`` must occur);
    ``prepend``: {file: code} put at the top of a module (runs when it is imported).
    """
    folder = Path(root) / name
    library = folder / "cs231n_lib"
    shutil.copytree(REFERENCE, library, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (folder / "ConvPool.ipynb").write_text("{}", encoding="utf-8")
    if stubbed:
        write_stubs(library, Layout.of_repo().catalog())
    for file, pairs in (edits or {}).items():
        path = library / file
        text = path.read_text(encoding="utf-8")
        for old, new in pairs:
            assert old in text, f"{file}: cannot find {old!r} to edit"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    for file, code in (prepend or {}).items():
        path = library / file
        path.write_text(code + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def grade_library_of(folder: Path, assignment: str, seed: int, limits: SandboxLimits = TEST_LIMITS,
                     call_timeout: float = 2.0) -> dict:
    """The library part of a grade, as a job computes it: the release's library with the student's files."""
    layout = Layout.of_repo()
    home = Path(tempfile.mkdtemp(prefix="cs231n-test-library-"))
    try:
        home.chmod(0o755)
        files.assemble_library(layout.student_release_dir(assignment) / LIBRARY, folder,
                               layout.catalog().student_files(), home, LIBRARY)
        tasks = [task.name for task in layout.catalog().get(assignment).tasks]
        options = GradingOptions(library_limits=limits, library_call_timeout=call_timeout)
        return grade_library_part(Path(folder), home, tasks, seed, options, use_sandbox=True)
    finally:
        files.remove_tree(home)


def scores_by_check(result: dict) -> dict:
    """{(task, check name): (score, points)} of a result."""
    return {(f["task"], c["name"]): (c["score"], c["points"]) for f in result["functions"] for c in f["checks"]}


def lost_checks(result: dict) -> set:
    return {key for key, (score, points) in scores_by_check(result).items() if score < points}


def check_entry(result: dict, task: str, name: str) -> dict:
    function = next(f for f in result["functions"] if f["task"] == task)
    return next(c for c in function["checks"] if c["name"] == name)


def function_entry(result: dict, task: str) -> dict:
    return next(f for f in result["functions"] if f["task"] == task)
