"""The one result store: ``grading/results/<a>/<student>.json``, written whole, graded once per submission.

A result is a student's grade on one assignment, notebook and library together (format in
docs/autograder-sandbox.md). It is written atomically (:func:`autograder.files.write_json_atomically`),
so a grader killed at any moment leaves the old result, the new one, or none. It carries two
fingerprints: of what grading read of the submission, and of everything else a grade depends
on (the instructor's notebook, the grading code, the reference library, the tasks, the
options); a stored result whose fingerprints both match is not graded again.
"""

import dataclasses
import functools
import hashlib
import json
import re
import sys
from pathlib import Path

from .. import files
from ..course import LIBRARY, REPO_ROOT, Layout
from ..files import LIMITS, UnsafeFileError, read_regular_file
from ..notebook_spec import NotebookSpec, spec_fingerprint

RESULT_FORMAT = "cs231n-grade/2"
STUDENT_ID = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,127}$")


def check_student_id(student_id: str) -> None:
    """A student id names files and folders: refuse anything else, with the rule."""
    if not isinstance(student_id, str) or not STUDENT_ID.match(student_id) or ".." in student_id:
        raise ValueError(f"student id {student_id!r} cannot be a file name: use letters, digits and "
                         f"_.@+- (not starting with a dot), at most 128 characters")


def reached_a_time_limit(result: dict) -> bool:
    """Whether any part of ``result`` ended at a time limit: a notebook cell, a library call,
    either process (its wall clock, or a reply that did not come in time), or the evaluation of
    the submitted model. What another student's load on the machine could cause."""
    notebook = result.get("notebook") or {}
    library = result.get("library") or {}
    runs = [notebook.get("run") or {}, library.get("run") or {}]
    return (any(cell.get("status") == "timeout" for cell in notebook.get("cells", []))
            or any(run.get("timed_out") or run.get("unanswered") for run in runs)
            or bool(library.get("timed_out_functions"))
            or bool((result.get("checkpoint") or {}).get("timed_out")))


# The parts of a result that carry points; a part is None when the assignment has none.
GRADED_PARTS = ("notebook", "library", "checkpoint")


def parts_total(result: dict, key: str = "score") -> float:
    """``key`` (``"score"`` or ``"max_score"``) added up over the parts of ``result`` it has (GRADED_PARTS)."""
    return sum((result.get(part) or {}).get(key) or 0.0 for part in GRADED_PARTS)


def read_result(path: Path) -> dict | None:
    """The stored result, or None when there is none (or it is not a whole result of this format)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == RESULT_FORMAT else None


def read_results(layout: Layout, assignment: str) -> dict[str, dict]:
    """Every complete result of an assignment, by student id."""
    results = {}
    for path in sorted(layout.results_dir(assignment).glob("*.json")):
        data = read_result(path)
        if data is not None:
            results[data["student_id"]] = data
    return results


def write_result(path: Path, result: dict) -> None:
    files.write_json_atomically(path, result)


def submission_fingerprint(submission: Path, notebook: str, own_files, graded_files: dict[str, int] | None = None
                           ) -> str:
    """SHA-256 of what grading reads of a submission: the notebook, the student's library files and
    ``graded_files`` (a model checkpoint the grader evaluates), each read with the limit grading reads it
    with (``graded_files``: {path: its byte limit}): a file grading reads is never fingerprinted as missing."""
    digest = hashlib.sha256()
    limits = {notebook: LIMITS.notebook_bytes}
    limits.update((f"{LIBRARY}/{name}", LIMITS.notebook_bytes) for name in sorted(own_files))
    limits.update(graded_files or {})
    for relative, max_bytes in limits.items():
        try:
            data = read_regular_file(submission, relative, max_bytes)
        except UnsafeFileError:
            data = b"\0missing"
        digest.update(relative.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def grader_fingerprint(spec: NotebookSpec, options, tasks_file: Path, checkpoint: str = "") -> str:
    """SHA-256 of everything but the submission that a grade depends on (``tasks_file``: the kit's
    tasks.toml; ``checkpoint``: the fingerprint of the checkpoint part's settings and held-out set)."""
    digest = hashlib.sha256()
    digest.update(checkpoint.encode())
    digest.update(spec_fingerprint(spec).encode())
    digest.update(_sources_fingerprint().encode())
    digest.update(b"tasks.toml\0" + Path(tasks_file).read_bytes())
    scoring = {name: value for name, value in dataclasses.asdict(options).items() if name != "force"}
    digest.update(json.dumps(scoring, sort_keys=True, default=str).encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _sources_fingerprint() -> str:
    """The grading code, the notebook spec and the reference library (read once per process), named
    relative to the folder that holds the packages: the same in a checkout and in an installed kit."""
    here = Path(__file__).resolve().parent
    sources = sorted(here.rglob("*.py")) + [here.parent / "notebook_spec.py", here.parent / "files.py"]
    sources += sorted((REPO_ROOT / LIBRARY).rglob("*.py"))
    digest = hashlib.sha256()
    for path in sources:
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(sys.version.split()[0].encode())
    return digest.hexdigest()
