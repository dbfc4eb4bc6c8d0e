"""Grade one student on one assignment: the unit of work of a batch (a thread, or one Dask task).

The batch resolves, once, everything that is the same for every student (:class:`GradingPlan`:
the instructor's notebook spec, the tasks, the release's library, the options) and each
student's own part (:class:`StudentJob`: the submission, where the result goes, the seed of
their hidden inputs; never the course secret itself). A worker then only grades:

1. assemble the library the student's code will see: the release's, with the student's own
   copies of the files that hold tasks put in (never the reference, never the instructor's
   notebook, never another student);
2. the notebook (:mod:`autograder.grading.notebook_run`): the student's cells in one sandboxed
   process, the grade cells here;
3. the library (:mod:`autograder.grading.library`): the clean-room checks, another process;
   and the submitted model checkpoint, evaluated here on a held-out set
   (:mod:`autograder.grading.checkpoint_part`), when the assignment has one;
4. the integrity scan (:mod:`autograder.grading.integrity`), which may hold the notebook part;
5. one result file, written atomically; and the graded copy of the notebook for instructors.

A stored result whose fingerprints match is returned as it is, so an interrupted batch
resumes and a repeated one changes nothing. A job never touches the gradebook: the batch's
parent process is its only writer.
"""

import dataclasses
import datetime
import tempfile
from pathlib import Path

from .. import files, sandbox
from ..course import CHECKPOINT_PART, LIBRARY, Layout
from ..files import LIMITS, UnsafeFileError, read_regular_file
from ..notebook_spec import NotebookSpec, notebook_spec
from ..notebooks import parse_submitted_notebook
from ..sandbox import SandboxLimits
from .checkpoint_part import CheckpointPlan, checkpoint_plan, grade_checkpoint, lost_checkpoint
from .graded_copy import checkpoint_copy, graded_copy, library_copy
from .integrity import scan_submission
from .library import grade_library
from .library.seeds import load_or_create_secret, student_seed
from .notebook_run import NotebookOutcome, answers_of, lost, pending_manual_points, run_notebook
from .remote import StudentError, StudentProcess, StudentProcessNotStarted
from .results import (RESULT_FORMAT, grader_fingerprint, parts_total, read_result, submission_fingerprint,
                      write_result)

# The notebook's process: IPython, NumPy and matplotlib start many threads.
NOTEBOOK_LIMITS = SandboxLimits(cpu_seconds=300, wall_seconds=300, memory_bytes=2 * 2**30, max_processes=256)
# A correct library answers every call of an assignment in about a second; an infinite loop in
# one function is stopped by the per-call timeout, one at import time by this wall clock.
LIBRARY_LIMITS = SandboxLimits(cpu_seconds=30, wall_seconds=30, memory_bytes=2 * 2**30, max_processes=16)


@dataclasses.dataclass(frozen=True)
class GradingOptions:
    """How hard to look and how long to wait; the same for every student of a batch."""
    cell_timeout: int = 30                       # seconds per notebook cell (grade cells included)
    notebook_limits: SandboxLimits = NOTEBOOK_LIMITS
    library_limits: SandboxLimits = LIBRARY_LIMITS
    library_call_timeout: float = 2.0            # seconds per call of a library check
    force: bool = False                          # grade again even when a matching result exists


@dataclasses.dataclass(frozen=True)
class GradingPlan:
    """What is the same for every student of a batch, resolved once (it travels to Dask workers by pickle)."""
    assignment: str
    spec: NotebookSpec
    tasks: tuple[str, ...]
    own_files: frozenset[str]          # library files (relative) that hold a task of any assignment
    release_dir: str                   # assignments/<a>/: the public release
    grader_sha256: str
    options: GradingOptions
    unsafe_no_sandbox: bool = False
    checkpoint: CheckpointPlan | None = None   # the submitted model, evaluated by the grader

    @property
    def student_modules(self) -> frozenset[str]:
        """The student's files as dotted module names relative to the library (``classifiers.cnn``)."""
        return frozenset(".".join(Path(name).with_suffix("").parts) for name in self.own_files)


@dataclasses.dataclass(frozen=True)
class StudentJob:
    plan: GradingPlan
    student: str
    submission: str          # course/submitted/<s>/<a>/
    result_file: str
    graded_copy: str         # where the graded notebook goes, for instructors
    seed: int                # the student's hidden inputs are drawn from it
    alone: bool = False      # no other student is graded on this machine meanwhile (recorded in the result)


def plan_for(layout: Layout, assignment_name: str, options: GradingOptions,
             unsafe_no_sandbox: bool = False) -> GradingPlan:
    catalog = layout.catalog()
    assignment = catalog.get(assignment_name)
    spec = notebook_spec(layout, assignment)
    checkpoint = checkpoint_plan(layout, assignment.checkpoint) if assignment.checkpoint else None
    return GradingPlan(assignment=assignment_name, spec=spec, tasks=tuple(t.name for t in assignment.tasks),
                       own_files=catalog.student_files(),
                       release_dir=str(layout.student_release_dir(assignment_name)),
                       grader_sha256=grader_fingerprint(spec, options, layout.tasks_file,
                                                         checkpoint.fingerprint() if checkpoint else ""),
                       options=options, unsafe_no_sandbox=unsafe_no_sandbox, checkpoint=checkpoint)


def job_for(layout: Layout, plan: GradingPlan, student: str, alone: bool = False) -> StudentJob:
    secret = load_or_create_secret(layout.secret_file)
    return StudentJob(plan=plan, student=student, submission=str(layout.submitted_dir(plan.assignment, student)),
                      result_file=str(layout.result_file(plan.assignment, student)),
                      graded_copy=str(layout.autograded_dir(plan.assignment, student) / plan.spec.notebook),
                      seed=student_seed(secret, student, plan.assignment), alone=alone)


def graded_alone(job: StudentJob) -> StudentJob:
    """``job`` again, graded even when a stored result matches, with the machine to itself."""
    forced = dataclasses.replace(job.plan, options=dataclasses.replace(job.plan.options, force=True))
    return dataclasses.replace(job, plan=forced, alone=True)


def grade_student(job: StudentJob, use_sandbox: bool | None = None) -> dict:
    """Grade ``job`` (or return its stored result when nothing changed); returns the result.

    ``use_sandbox`` is the batch's policy; a Dask worker passes None and applies the policy
    itself, since it is the machine that runs the student's code.
    """
    plan, submission = job.plan, Path(job.submission)
    if use_sandbox is None:
        use_sandbox = sandbox.sandbox_policy(plan.unsafe_no_sandbox)
    fingerprint = submission_fingerprint(submission, plan.spec.notebook, plan.own_files,
                                         {plan.checkpoint.config.file: plan.checkpoint.config.max_file_bytes}
                                         if plan.checkpoint else None)
    existing = read_result(Path(job.result_file))
    if (not plan.options.force and existing and existing.get("submission_sha256") == fingerprint
            and existing.get("grader_sha256") == plan.grader_sha256):
        return existing

    try:
        result = _grade(job, use_sandbox, fingerprint)
    except sandbox.SandboxUnavailableError:
        raise   # a machine without bubblewrap: configuration, not this student's doing
    except Exception as error:  # noqa: BLE001  a grader bug for one student: a result that says so, no crash loop
        result = _could_not_grade(job, use_sandbox, fingerprint, error)
    write_result(Path(job.result_file), result)
    return result


def _grade(job: StudentJob, use_sandbox: bool, fingerprint: str) -> dict:
    plan, submission = job.plan, Path(job.submission)
    scratch = Path(tempfile.mkdtemp(prefix="cs231n-grade-"))
    try:
        home = scratch / "home"
        home.mkdir()
        for folder in (scratch, home):
            folder.chmod(0o755)   # the sandbox's own uid reads the library from here
        files.assemble_library(Path(plan.release_dir) / LIBRARY, submission, plan.own_files, home, LIBRARY)
        notebook, graded = grade_notebook(submission, plan, home, use_sandbox)
        library = grade_library_part(submission, home, plan.tasks, job.seed, plan.options, use_sandbox) \
            if plan.tasks else None
    finally:
        files.remove_tree(scratch)
    checkpoint = grade_checkpoint(submission, plan.checkpoint) if plan.checkpoint else None
    findings = scan_submission(submission, Path(plan.release_dir), plan.spec.notebook)
    held = [f for f in findings if f.hold]
    if held:
        hold_notebook(notebook, held)
    if graded is not None:
        files.write_json_atomically(Path(job.graded_copy), graded)
    if library is not None:
        # formgrader lists a gradebook notebook only when its graded copy exists on disk.
        files.write_json_atomically(Path(job.graded_copy).with_name(f"{LIBRARY}.ipynb"), library_copy(library))
    if checkpoint is not None and checkpoint["status"] != "not graded":
        files.write_json_atomically(Path(job.graded_copy).with_name(f"{CHECKPOINT_PART}.ipynb"), checkpoint_copy(checkpoint))
    return _result(job, use_sandbox, fingerprint, notebook, library, checkpoint=checkpoint,
                   integrity={"held": bool(held), "findings": [f.as_dict() for f in findings[:100]]})


def _result(job: StudentJob, use_sandbox: bool, fingerprint: str, notebook: dict, library: dict | None, *,
            integrity: dict, checkpoint: dict | None = None, score: float | None = None, **extra) -> dict:
    """A result file's content (docs/autograder-sandbox.md, "The result file"); ``score`` None: the parts' scores."""
    parts = {"notebook": notebook, "library": library, "checkpoint": checkpoint}
    return {"format": RESULT_FORMAT, "student_id": job.student, "assignment": job.plan.assignment,
            "submission_sha256": fingerprint, "grader_sha256": job.plan.grader_sha256,
            "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "sandboxed": use_sandbox, "graded_alone": job.alone,
            "score": parts_total(parts) if score is None else score, "max_score": parts_total(parts, "max_score"),
            "pending_manual_points": pending_manual_points(notebook["cells"]), **parts, **extra, "integrity": integrity}


def _could_not_grade(job: StudentJob, use_sandbox: bool, fingerprint: str, error: Exception) -> dict:
    """The result of a student the grader failed on: zero, the reason, and a flag for the instructor.

    Stored like any result, so the batch goes on and the next run does not fail again the same
    way; a new grader (or a new submission) changes a fingerprint and grades it again.
    """
    plan = job.plan
    why = f"could not be graded: the grader failed ({type(error).__name__}: {str(error)[:300]}); " \
          f"tell your instructor"
    notebook = _not_run(plan.spec, why)
    library = None
    if plan.tasks:
        try:   # every check, lost with the reason (no process is started for that)
            library = grade_library(Path(job.submission), list(plan.tasks), job.seed,
                                    limits=plan.options.library_limits, use_sandbox=use_sandbox, unusable=why)
        except Exception:  # noqa: BLE001  the checks themselves failed to plan
            library = {"score": 0.0, "max_score": 0.0, "functions": [], "run": None, "error": why}
    checkpoint = lost_checkpoint(plan.checkpoint, why) if plan.checkpoint else None
    return _result(job, use_sandbox, fingerprint, notebook, library, checkpoint=checkpoint, score=0.0,
                   integrity={"held": False, "findings": []}, grader_error=why)


def grade_library_part(submission: Path, home: Path, tasks, seed: int, options: GradingOptions,
                       use_sandbox: bool) -> dict:
    """The library part of a result: the clean-room checks of ``tasks`` on the library assembled in ``home``."""
    student_library = submission / LIBRARY
    unusable = None if student_library.is_dir() and not student_library.is_symlink() else \
        f"the submission has no {LIBRARY}/ folder (expected {LIBRARY}/layers.py and the rest)"
    return grade_library(home, list(tasks), seed, limits=options.library_limits, use_sandbox=use_sandbox,
                         call_timeout=options.library_call_timeout, unusable=unusable)


def grade_notebook(submission: Path, plan: GradingPlan, home: Path, use_sandbox: bool) -> tuple[dict, dict | None]:
    """The notebook part of a result, and the graded copy of the notebook for instructors (or None)."""
    spec = plan.spec
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
        with StudentProcess(home, "notebook", limits=plan.options.notebook_limits, use_sandbox=use_sandbox,
                            env={"CS231N_QUICK": "1"}) as process:
            outcome = run_notebook(spec, student_notebook, process, plan.student_modules, plan.options.cell_timeout)
            run = process.finish()
            unanswered = process.unanswered
    except StudentError as error:   # the process did not even start
        notebook = _not_run(spec, f"the notebook could not start: {error}", student_notebook)
        notebook["run"]["unanswered"] = isinstance(error, StudentProcessNotStarted) and error.timed_out
        return notebook, None
    cells = outcome.cells + answers_of(spec, student_notebook)
    notebook = {"name": spec.notebook, "score": sum(c["score"] or 0.0 for c in cells), "max_score": spec.max_score,
                "cells": cells, "run": {**_run_record(run, outcome), "unanswered": unanswered}}
    return notebook, graded_copy(student_notebook, outcome, spec)


def _not_run(spec: NotebookSpec, reason: str, notebook: dict | None = None) -> dict:
    cells = [lost(cell, "missing", reason) for cell in spec.grade_cells] + answers_of(spec, notebook)
    return {"name": spec.notebook, "score": 0.0, "max_score": spec.max_score, "cells": cells,
            "run": {"status": "not run", "description": reason, "wall_seconds": 0.0, "timed_out": False,
                    "returncode": None}}


def _run_record(run, outcome: NotebookOutcome) -> dict:
    status = "timeout" if run.timed_out else ("stopped" if outcome.stopped else "ok")
    return {"status": status, "description": outcome.stopped or run.describe(),
            "wall_seconds": round(run.wall_seconds, 2), "timed_out": run.timed_out, "returncode": run.returncode,
            "stderr_tail": run.stderr[-1500:]}


def hold_notebook(notebook: dict, held: list) -> None:
    """The submission tried what a cheat would (see :mod:`autograder.grading.integrity`): the notebook
    part scores 0 until an instructor has looked; what it would have scored is kept (``held_score``,
    and each cell's ``held_score``). The library part stands."""
    reason = f"held for review: {held[0].what} ({held[0].where})"
    for cell in notebook["cells"]:
        if not cell.get("manual"):   # a person grades the written answers anyway
            cell.update(held_score=cell["score"], score=0.0, status="held", reason=reason)
    notebook["held_score"] = notebook["score"]
    notebook["score"] = 0.0
    notebook["held"] = reason
