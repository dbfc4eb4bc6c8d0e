"""One student's library grade as a JSON file: written atomically, graded once per submission.

``results_dir/<assignment>/<student_id>.json``; the format is documented in
``docs/autograder-sandbox.md``. A result is written to a temporary file in the same folder
and renamed over the final name (``os.replace`` is atomic on POSIX), so a grader killed at
any moment leaves either the old result, the new one, or none: never half of one. A result
whose submission hash and grader hash match what is on disk now is not graded again.
"""

import datetime
import functools
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

from .. import files, sandbox
from ..sandbox import SandboxLimits
from ..tasks import load_catalog
from .grader import grade_submission
from .plan import REFERENCE_ROOT
from .seeds import load_or_create_secret, student_seed
from .submission import submission_hash

RESULT_FORMAT = "cs231n-library-grading/1"
TASKS_FILE = REFERENCE_ROOT.parent / "solutions" / "tasks.toml"
STUDENT_ID = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,127}$")
# A correct library answers every call of an assignment in about a second; an infinite loop in
# one function is stopped by the per-call timeout, one at import time by this wall clock.
LIBRARY_LIMITS = SandboxLimits(cpu_seconds=30, wall_seconds=30, memory_bytes=2 * 2**30, max_processes=16)


def grade_library(student_id: str, submission_dir: Path, assignment: str, results_dir: Path, *,
                  secret_file: Path, limits: SandboxLimits | None = None, unsafe_no_sandbox: bool = False,
                  call_timeout: float = 2.0, force: bool = False) -> dict:
    """Grade one student's ``cs231n_lib`` on ``assignment``'s tasks and store the result.

    Idempotent: when ``results_dir`` already holds this student's result for the same
    submission and the same grader, it is returned as it is (``force`` grades again).
    Refuses to run student code outside the sandbox unless ``unsafe_no_sandbox``.
    """
    use_sandbox = sandbox.sandbox_policy(unsafe_no_sandbox)
    return grade_library_with(student_id, submission_dir, assignment, results_dir, secret_file=secret_file,
                              limits=limits, use_sandbox=use_sandbox, call_timeout=call_timeout, force=force)


def grade_library_with(student_id, submission_dir, assignment, results_dir, *, secret_file, limits,
                       use_sandbox: bool, call_timeout: float = 2.0, force: bool = False,
                       home: Path | None = None) -> dict:
    """:func:`grade_library` once the sandbox policy has been applied (by the caller, once per batch).

    ``home``: the library to call, already assembled (the release's with the student's files);
    by default it is assembled here from the kit's release of ``assignment``.
    """
    check_student_id(student_id)
    path = result_path(results_dir, assignment, student_id)
    fingerprint = submission_hash(Path(submission_dir))
    existing = read_result(path)
    if (not force and existing is not None and existing.get("submission_sha256") == fingerprint
            and existing.get("grader_sha256") == grader_hash()):
        return existing
    tasks = assignment_tasks(assignment)
    seed = student_seed(load_or_create_secret(Path(secret_file)), student_id, assignment)
    scratch = None
    if home is None:
        scratch = Path(tempfile.mkdtemp(prefix="cs231n-library-"))
        scratch.chmod(0o755)
        home = scratch
        catalog = load_catalog(TASKS_FILE, REFERENCE_ROOT)
        files.assemble_library(REFERENCE_ROOT.parent / "assignments" / assignment / "cs231n_lib",
                               Path(submission_dir), {p.as_posix() for p in catalog.tasks_by_file()}, home,
                               "cs231n_lib")
    try:
        library = Path(submission_dir) / "cs231n_lib"
        unusable = None if library.is_dir() and not library.is_symlink() else \
            "the submission has no cs231n_lib/ folder (expected cs231n_lib/layers.py and the rest)"
        body = grade_submission(home, tasks, seed, limits=limits or LIBRARY_LIMITS, use_sandbox=use_sandbox,
                                call_timeout=call_timeout, unusable=unusable)
    finally:
        if scratch is not None:
            files.remove_tree(scratch)
    result = {"format": RESULT_FORMAT, "student_id": student_id, "assignment": assignment,
              "submission_sha256": fingerprint, "grader_sha256": grader_hash(),
              "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "sandboxed": use_sandbox, **body}
    files.write_json_atomically(path, result)
    return result


def assignment_tasks(assignment: str) -> list[str]:
    catalog = load_catalog(TASKS_FILE, REFERENCE_ROOT)
    return [task.name for task in catalog.get(assignment).tasks]


def check_student_id(student_id: str) -> None:
    if not isinstance(student_id, str) or not STUDENT_ID.match(student_id) or ".." in student_id:
        raise ValueError(f"student id {student_id!r} cannot be a file name: use letters, digits and "
                         f"_.@+- (not starting with a dot), at most 128 characters")


def result_path(results_dir: Path, assignment: str, student_id: str) -> Path:
    return Path(results_dir) / assignment / f"{student_id}.json"


def read_result(path: Path) -> dict | None:
    """The stored result, or None when there is none (or it is not a complete result)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == RESULT_FORMAT else None


def read_results(results_dir: Path, assignment: str) -> dict[str, dict]:
    """Every complete result of ``assignment``, by student id."""
    folder = Path(results_dir) / assignment
    results = {}
    for path in sorted(folder.glob("*.json")):
        data = read_result(path)
        if data is not None:
            results[data["student_id"]] = data
    return results


@functools.lru_cache(maxsize=1)
def grader_hash() -> str:
    """SHA-256 of what a grade depends on besides the submission: checks, reference, tasks."""
    digest = hashlib.sha256()
    sources = sorted(Path(__file__).parent.glob("*.py")) + sorted(REFERENCE_ROOT.rglob("*.py")) + [TASKS_FILE]
    for path in sources:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(sys.version.split()[0].encode())
    return digest.hexdigest()
