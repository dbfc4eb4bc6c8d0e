"""Grade one student on one assignment: notebook and library, each in its own sandbox; one result file.

This is the unit of work of a batch (a thread, or one Dask task per student). It runs
nothing of the student's outside a sandbox, computes every score in this (trusted)
process, and writes ``grading/results/<a>/<student>.json`` atomically. A result whose
submission and grader fingerprints match the files on disk is returned as it is, so an
interrupted batch resumes and a repeated one changes nothing. It never touches the
gradebook: the batch's parent process is its only writer.

The student's code sees, in its sandbox, a library assembled here from the public release
with the student's own copies of the files that hold tasks put in; never the reference, the
instructor's notebook, another student or the course directory. The notebook's grade
cells run here (:mod:`autograder.grading.notebook_run`), the library's checks too
(:mod:`autograder.library_grading`).
"""

import copy
import dataclasses
import datetime
import functools
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from . import files, sandbox
from .files import LIMITS, UnsafeFileError, read_regular_file, write_bytes_atomically, write_json_atomically
from .grading.notebook_run import NotebookOutcome, lost, run_notebook
from .grading.remote import LIBRARY, StudentError, StudentProcess
from .grading_layout import GradingLayout
from .integrity import scan_submission
from .layout import KitLayout
from .library_grading.results import grade_library_with, grader_hash
from .notebook_spec import NotebookSpec, load_catalog_of, notebook_spec, spec_fingerprint
from .notebooks import parse_submitted_notebook
from .sandbox import SandboxLimits
from .tasks import Catalog

RESULT_FORMAT = "cs231n-grade/1"
# The notebook's process: IPython, NumPy and matplotlib start many threads.
NOTEBOOK_LIMITS = SandboxLimits(cpu_seconds=300, wall_seconds=300, memory_bytes=2 * 2**30, max_processes=256)


@dataclasses.dataclass(frozen=True)
class GradingOptions:
    """How hard to look and how long to wait; the same for every student of a batch."""
    cell_timeout: int = 30                       # seconds per notebook cell (nbgrader's Execute.timeout)
    notebook_limits: SandboxLimits = NOTEBOOK_LIMITS
    library_limits: SandboxLimits | None = None  # None: the library grading's own defaults
    force: bool = False                          # grade again even when a matching result exists


@dataclasses.dataclass(frozen=True)
class StudentJob:
    """Everything a worker needs, as plain values (it travels to Dask workers by pickle)."""
    student: str
    assignment: str
    course_dir: str
    repo_root: str
    options: GradingOptions
    unsafe_no_sandbox: bool = False


def grade_student(job: StudentJob, use_sandbox: bool | None = None) -> dict:
    """Grade ``job`` (or return its stored result when nothing changed); returns the result.

    ``use_sandbox`` is the batch's policy; a Dask worker passes None and applies the policy
    itself, since it is the machine that runs the student's code.
    """
    if use_sandbox is None:
        use_sandbox = sandbox.sandbox_policy(job.unsafe_no_sandbox)
    layout = GradingLayout.of(KitLayout.of_repo(Path(job.repo_root)), Path(job.course_dir))
    catalog = load_catalog_of(layout.kit)
    assignment = catalog.get(job.assignment)
    spec = notebook_spec(layout.kit, assignment)
    submission = layout.submitted_dir(job.assignment, job.student)
    path = layout.result_file(job.assignment, job.student)
    fingerprint = submission_fingerprint(submission, assignment.notebook, student_library_files(catalog))
    grader = grading_fingerprint(spec_fingerprint(spec), job.options)
    existing = read_result(path, RESULT_FORMAT)
    if (not job.options.force and existing and existing.get("submission_sha256") == fingerprint
            and existing.get("grader_sha256") == grader):
        return existing

    scratch = Path(tempfile.mkdtemp(prefix="cs231n-grade-"))
    try:
        home = scratch / "home"
        home.mkdir()
        for folder in (scratch, home):
            folder.chmod(0o755)   # the sandbox's own uid reads the library from here
        files.assemble_library(layout.release_dir(job.assignment) / LIBRARY, submission,
                               student_library_files(catalog), home, LIBRARY)
        notebook, graded_copy = grade_notebook(submission, spec, catalog, home, use_sandbox, job.options)
        library = None
        if assignment.tasks:
            library = grade_library_with(job.student, submission, job.assignment, layout.library_results_dir,
                                         secret_file=layout.secret_file, limits=job.options.library_limits,
                                         use_sandbox=use_sandbox, force=job.options.force, home=home)
    finally:
        files.remove_tree(scratch)
    findings = scan_submission(submission, layout.release_dir(job.assignment), assignment.notebook)
    held = [f for f in findings if f.hold]
    if held:
        hold_notebook(notebook, held)
    if graded_copy is not None:
        write_bytes_atomically(layout.autograded_dir(job.assignment, job.student) / assignment.notebook,
                               (json.dumps(graded_copy, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))

    result = {
        "format": RESULT_FORMAT, "student_id": job.student, "assignment": job.assignment,
        "submission_sha256": fingerprint, "grader_sha256": grader,
        "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sandboxed": use_sandbox,
        "score": notebook["score"] + (library["score"] if library else 0.0),
        "max_score": notebook["max_score"] + (library["max_score"] if library else 0.0),
        "notebook": notebook, "library": library,
        "integrity": {"held": bool(held), "findings": [f.as_dict() for f in findings[:100]]},
    }
    write_json_atomically(path, result)
    return result


def grade_notebook(submission: Path, spec: NotebookSpec, catalog: Catalog, home: Path, use_sandbox: bool,
                   options: GradingOptions) -> tuple[dict, dict | None]:
    """The notebook part of a result, and the graded copy of the notebook for instructors (or None)."""
    try:
        student_notebook = parse_submitted_notebook(read_regular_file(submission, spec.notebook,
                                                                      LIMITS.notebook_bytes))
    except UnsafeFileError as error:
        missing = not (submission / spec.notebook).exists() and not (submission / spec.notebook).is_symlink()
        return _not_run(spec, f"the submission has no {spec.notebook}" if missing
                        else f"your notebook could not be read: {error}"), None
    except ValueError as error:
        return _not_run(spec, f"your notebook is {error}"), None
    try:
        with StudentProcess(home, "notebook", limits=options.notebook_limits, use_sandbox=use_sandbox,
                            env={"CS231N_QUICK": "1"}) as process:
            outcome = run_notebook(spec, student_notebook, process, student_modules(catalog), options.cell_timeout)
            run = process.finish()
    except StudentError as error:   # the process did not even start
        return _not_run(spec, f"the notebook could not start: {error}"), None
    notebook = {"name": spec.notebook, "score": sum(c["score"] for c in outcome.cells),
                "max_score": spec.max_score, "cells": outcome.cells, "run": _run_record(run, outcome)}
    return notebook, graded_copy(student_notebook, outcome)


def _not_run(spec: NotebookSpec, reason: str) -> dict:
    return {"name": spec.notebook, "score": 0.0, "max_score": spec.max_score,
            "cells": [lost(cell, "missing", reason) for cell in spec.grade_cells],
            "run": {"status": "not run", "description": reason, "wall_seconds": 0.0, "timed_out": False,
                    "returncode": None}}


def graded_copy(notebook: dict, outcome: NotebookOutcome) -> dict:
    """The student's notebook as it was graded: locked and grade cells restored, every output from the run."""
    graded = copy.deepcopy(notebook)
    cells = graded.get("cells") if isinstance(graded.get("cells"), list) else []
    for index, cell in enumerate(cells):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            if index in outcome.sources:
                cell["source"] = outcome.sources[index]
            cell["outputs"] = outcome.outputs.get(index, [])
            cell["execution_count"] = None
    return graded


def student_library_files(catalog: Catalog) -> set[str]:
    """Library files (relative to cs231n_lib/) that hold a task of any assignment: the student's own."""
    return {path.as_posix() for path in catalog.tasks_by_file()}


def student_modules(catalog: Catalog) -> frozenset[str]:
    """The same files as dotted module names relative to the library (``classifiers.cnn``)."""
    return frozenset(".".join(path.with_suffix("").parts) for path in catalog.tasks_by_file())


def hold_notebook(notebook: dict, held: list) -> None:
    """The submission tried what a cheat would (see :mod:`autograder.integrity`): the notebook part
    scores 0 until an instructor has looked; what it would have scored is kept (``held_score``,
    and each cell's ``held_score``). The library part stands."""
    reason = f"held for review: {held[0].what} ({held[0].where})"
    for cell in notebook["cells"]:
        cell.update(held_score=cell["score"], score=0.0, status="held", reason=reason)
    notebook["held_score"] = notebook["score"]
    notebook["score"] = 0.0
    notebook["held"] = reason


def read_result(path: Path, expected_format: str = RESULT_FORMAT) -> dict | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == expected_format else None


def read_results(layout: GradingLayout, assignment: str) -> dict[str, dict]:
    """Every complete result of an assignment, by student id."""
    results = {}
    for path in sorted(layout.results_dir(assignment).glob("*.json")):
        data = read_result(path)
        if data is not None:
            results[data["student_id"]] = data
    return results


def submission_fingerprint(submission: Path, notebook: str, own_files: set[str]) -> str:
    """SHA-256 of what grading reads of a submission: the notebook and the student's library files."""
    digest = hashlib.sha256()
    for relative in [notebook] + [f"{LIBRARY}/{name}" for name in sorted(own_files)]:
        try:
            data = read_regular_file(submission, relative, LIMITS.notebook_bytes)
        except UnsafeFileError:
            data = b"\0missing"
        digest.update(relative.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def grading_fingerprint(spec_sha: str, options: GradingOptions) -> str:
    digest = hashlib.sha256()
    digest.update(spec_sha.encode())
    digest.update(grader_hash().encode())   # the library checks and the reference
    digest.update(_own_sources_hash().encode())
    digest.update(release_independent_options(options).encode())
    return digest.hexdigest()


def release_independent_options(options: GradingOptions) -> str:
    """The options that change a score (limits and timeouts), not ``force``."""
    return json.dumps({"cell_timeout": options.cell_timeout,
                       "notebook_limits": dataclasses.asdict(options.notebook_limits),
                       "library_limits": options.library_limits and dataclasses.asdict(options.library_limits)},
                      sort_keys=True)


@functools.lru_cache(maxsize=1)
def _own_sources_hash() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in [here / "student_grading.py", here / "notebook_spec.py", here / "integrity.py",
                 *sorted((here / "grading").glob("*.py"))]:
        digest.update(path.read_bytes())
    digest.update(sys.version.split()[0].encode())
    return digest.hexdigest()


def _run_record(run, outcome: NotebookOutcome) -> dict:
    status = "timeout" if run.timed_out else ("stopped" if outcome.stopped else "ok")
    return {"status": status, "description": outcome.stopped or run.describe(),
            "wall_seconds": round(run.wall_seconds, 2), "timed_out": run.timed_out, "returncode": run.returncode,
            "stderr_tail": run.stderr[-1500:]}
