"""Grade one student on one assignment: notebook in one sandbox, library in another; one result file.

This is the unit of work of a batch (a thread, or one Dask task per student). It runs
nothing of the student's outside a sandbox, computes every score in this (trusted)
process, and writes ``grading/results/<a>/<student>.json`` atomically. A result whose
submission and grader fingerprints match the files on disk is returned as it is, so an
interrupted batch resumes and a repeated one changes nothing. It never touches the
gradebook: the batch's parent process is its only writer.
"""

import dataclasses
import datetime
import functools
import hashlib
import json
import sys
from pathlib import Path

from . import sandbox
from .grading_layout import GradingLayout
from .integrity import scan_submission
from .layout import KitLayout
from .library_grading.results import grade_library_with, grader_hash, write_json_atomically
from .notebook_run import NOTEBOOK_LIMITS, run_notebook_grading, student_library_files
from .notebook_scores import score_notebook
from .notebook_spec import load_catalog_of, notebook_spec, spec_fingerprint
from .notebook_template import ensure_template
from .safe_files import UnsafeFileError, read_regular_file, write_bytes_atomically
from .sandbox import SandboxLimits

RESULT_FORMAT = "cs231n-grade/1"


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

    template = ensure_template(layout, assignment, spec)
    run = run_notebook_grading(student=job.student, assignment=assignment, catalog=catalog,
                               submission_dir=submission, release_dir=layout.release_dir(job.assignment),
                               template_course=template, use_sandbox=use_sandbox,
                               limits=job.options.notebook_limits, cell_timeout=job.options.cell_timeout)
    notebook = score_notebook(run.notebook_bytes, spec, run.missing_reason)
    findings = scan_submission(submission, layout.release_dir(job.assignment), assignment.notebook)
    held = [f for f in findings if f.hold]
    if held:
        hold_notebook(notebook, held)
    notebook.update(name=assignment.notebook, run=_run_record(run), touched_outside=list(run.touched))
    if run.notebook_bytes is not None:
        _keep_autograded_copy(layout, job, assignment.notebook, run.notebook_bytes)

    library = None
    if assignment.tasks:
        library = grade_library_with(job.student, submission, job.assignment, layout.library_results_dir,
                                     secret_file=layout.secret_file, limits=job.options.library_limits,
                                     use_sandbox=use_sandbox, force=job.options.force)
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


def hold_notebook(notebook: dict, held: list) -> None:
    """Code that patches NumPy or the grader could have changed what the grade cells report:
    the notebook part scores 0 until an instructor reviews it (the library part stands)."""
    reason = f"held for review: {held[0].what} ({held[0].where})"
    for cell in notebook["cells"]:
        cell.update(score=0.0, status="held", reason=reason)
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
    for relative in [notebook] + [f"cs231n_lib/{name}" for name in sorted(own_files)]:
        try:
            data = read_regular_file(submission, relative, 50 * 2**20)
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
    for name in ("student_grading.py", "notebook_run.py", "notebook_scores.py", "notebook_spec.py",
                 "notebook_template.py", "integrity.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    digest.update(sys.version.split()[0].encode())
    return digest.hexdigest()


def _run_record(run) -> dict:
    if run.run is None:
        return {"status": "not run", "description": run.missing_reason, "wall_seconds": 0.0, "timed_out": False,
                "returncode": None}
    result = run.run
    status = "timeout" if result.timed_out else ("ok" if result.returncode == 0 else "crashed")
    return {"status": status, "description": result.describe(), "wall_seconds": round(result.wall_seconds, 2),
            "timed_out": result.timed_out, "returncode": result.returncode,
            "stderr_tail": result.stderr[-1500:]}


def _keep_autograded_copy(layout: GradingLayout, job: StudentJob, notebook: str, data: bytes) -> None:
    """nbgrader's place for the graded notebook, for instructors to open (never re-read for scores)."""
    write_bytes_atomically(layout.autograded_dir(job.assignment, job.student) / notebook, data)
