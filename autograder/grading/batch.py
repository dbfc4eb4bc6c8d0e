"""Grade a class: one student per worker (threads here, or Dask tasks), the gradebook written here.

Order of work, and why:

1. apply the sandbox policy once (refuse, or warn loudly with ``unsafe_no_sandbox``);
2. resolve the plan once (:func:`~autograder.grading.job.plan_for`) and each student's job;
3. grade students in parallel; each worker writes its student's result file atomically;
4. as each result arrives, this process writes it into ``gradebook.db`` in one
   transaction: the gradebook has a single writer, so no locking between workers;
5. a student who reached a time limit while others were graded beside them is graded again,
   alone. A sandbox's processes can leave its share of the CPU (each new session is scheduled
   as its own group), so another student's code can starve theirs; a time limit counts only
   when reached with the machine to itself
   (``tests/autograder/grading/test_fair_share.py``).

Killed at any moment, the batch leaves whole result files and whole gradebook entries;
run again, it skips the students whose result still matches and rewrites every result
into the gradebook (which also completes an entry the kill cut short).
"""

import concurrent.futures
import dataclasses
import os
import socket
import sys
import traceback
from pathlib import Path

from tqdm import tqdm

from .. import files, nbgrader, sandbox
from ..cli_support import for_terminal
from ..course import Layout
from .job import GradingOptions, StudentJob, grade_student, graded_alone, job_for, plan_for
from .results import check_student_id, reached_a_time_limit, write_result


@dataclasses.dataclass
class BatchReport:
    assignment: str
    results: dict[str, dict] = dataclasses.field(default_factory=dict)        # student -> result
    internal_errors: dict[str, str] = dataclasses.field(default_factory=dict)  # student -> grader failure


def grade_class(layout: Layout, assignment_name: str, students: list[str] | None = None, *,
                jobs: int | None = None, scheduler: str | None = None, options: GradingOptions = GradingOptions(),
                unsafe_no_sandbox: bool = False, progress: bool = True) -> BatchReport:
    layout.catalog().get(assignment_name)   # an unknown assignment fails here, with the known ones
    students = sorted(students) if students else layout.students_with_submissions(assignment_name)
    for student in students:
        check_student_id(student)
        if not layout.submitted_dir(assignment_name, student).is_dir():
            raise FileNotFoundError(f"no submission of {student} for {assignment_name}: expected "
                                    f"{layout.submitted_dir(assignment_name, student)} (run collect first)")
    if not layout.student_release_dir(assignment_name).is_dir():
        raise FileNotFoundError(f"{layout.student_release_dir(assignment_name)}: the public release of {assignment_name} "
                                f"is missing; run `python -m autograder release` first")
    use_sandbox = sandbox.sandbox_policy(unsafe_no_sandbox)
    plan = plan_for(layout, assignment_name, options, unsafe_no_sandbox)
    spec = plan.spec
    files.remove_stale_partials(layout.results_dir(assignment_name))
    report = BatchReport(assignment_name)
    workers = jobs or os.cpu_count() or 1
    alone = not scheduler and workers == 1
    jobs_list = [job_for(layout, plan, student, alone=alone) for student in students]
    bar = tqdm(total=len(jobs_list), desc=f"grading {assignment_name}", unit="student", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    with nbgrader.open_gradebook(layout.gradebook) as gradebook:
        nbgrader.ensure_structure(gradebook, spec, {})
        outcomes = (_on_dask(jobs_list, scheduler) if scheduler else _on_threads(jobs_list, workers, use_sandbox))
        try:
            for student, result, error in outcomes:
                if error is not None:
                    report.internal_errors[student] = error
                    print(f"grading {student} failed inside the grader (retried next run): {error}", file=sys.stderr)
                else:
                    _record(gradebook, layout, spec, result)
                    report.results[student] = result
                bar.set_postfix_str(student, refresh=False)
                bar.update(1)
        finally:
            outcomes.close()
            bar.close()
        _confirm_time_limits_alone(report, jobs_list, gradebook, layout, spec, use_sandbox, progress)
    return report


def _confirm_time_limits_alone(report: BatchReport, jobs_list: list[StudentJob], gradebook, layout: Layout, spec,
                               use_sandbox: bool, progress: bool) -> None:
    """Grade again, one at a time here (every worker is idle now), each student whose result
    reached a time limit while other students were graded; the new result replaces the first,
    unless grading again failed inside the grader: then the first stands, in the result file too.

    Each run is bounded like the first: every request to the student's processes has a deadline
    within the processes' wall clocks."""
    again = [job for job in jobs_list if job.student in report.results
             and not report.results[job.student].get("graded_alone")
             and reached_a_time_limit(report.results[job.student])]
    for job in tqdm(again, desc="time limits, graded again alone", unit="student", disable=not progress or not again,
                    file=sys.stderr, dynamic_ncols=True):
        first = report.results[job.student]
        try:
            result = grade_student(graded_alone(job), use_sandbox)
            failure = result.get("grader_error")
        except sandbox.SandboxUnavailableError:
            raise
        except Exception as error:  # noqa: BLE001  the first result stands; the batch goes on
            failure = f"{type(error).__name__}: {error}"
        if failure:
            # grade_student stored its "could not be graded" result: put the valid first one back.
            first = dict(first, regraded_alone_failed=str(failure)[:500])
            write_result(Path(job.result_file), first)
            report.results[job.student] = first
            print(f"grading {for_terminal(job.student)} again alone failed inside the grader; the first result "
                  f"stands: {for_terminal(str(failure)[:500])}", file=sys.stderr)
            continue
        _record(gradebook, layout, spec, result)
        report.results[job.student] = result


def _record(gradebook, layout: Layout, spec, result: dict) -> None:
    nbgrader.ensure_structure(gradebook, spec, nbgrader.library_max_scores(result))
    nbgrader.ensure_checkpoint_cell(gradebook, spec, result)
    timestamp = _timestamp(layout.submitted_dir(spec.assignment, result["student_id"]))
    nbgrader.write_student(gradebook, result, spec, timestamp)


def _timestamp(submission: Path) -> str | None:
    try:
        text = (submission / "timestamp.txt").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text[:64] or None


def _on_threads(jobs_list: list[StudentJob], jobs: int, use_sandbox: bool):
    """Yields (student, result, internal error) as students finish. Threads only wait on sandboxes."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade")
    try:
        futures = {pool.submit(grade_student, job, use_sandbox): job.student for job in jobs_list}
        for future in concurrent.futures.as_completed(futures):
            yield _outcome(futures[future], future)
    finally:
        # On an interrupt, do not start the students still waiting; running sandboxes end with their run.
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(jobs_list: list[StudentJob], scheduler: str):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--scheduler needs Dask distributed: pip install distributed") from None
    with Client(scheduler, set_as_default=False) as client:
        futures = {client.submit(_grade_on_worker, job, pure=False,
                                 key=f"grade-{job.plan.assignment}-{job.student}-{os.getpid()}"): job.student
                   for job in jobs_list}
        for future in as_completed(list(futures), loop=client.loop):
            yield _outcome(futures[future], future)


def _grade_on_worker(job: StudentJob) -> dict:
    """One Dask task: grade ``job`` on this worker, which applies the sandbox policy itself (it is the
    machine that runs the student's code); a worker without bubblewrap refuses, naming itself.

    A worker killed mid-task loses nothing: the scheduler gives the task to another worker, and
    after Dask's allowed failures the student is reported NOT GRADED, to be graded by the next run."""
    try:
        return grade_student(job, None)
    except sandbox.SandboxUnavailableError as error:
        from distributed import get_worker
        raise sandbox.SandboxUnavailableError(
            f"on the Dask worker {get_worker().address} ({socket.gethostname()}): {error}") from None


def _outcome(student: str, future):
    try:
        return student, future.result(), None
    except sandbox.SandboxUnavailableError:
        raise   # a worker without bubblewrap: configuration, not the student's doing
    except Exception as error:  # noqa: BLE001  the batch goes on; this student is retried next run
        return student, None, "".join(traceback.format_exception_only(type(error), error)).strip()
