"""Grade a whole class: N students at once on this machine, or one task per student on Dask.

Each student's grading is one sandboxed child process, so a thread pool is enough to keep
N cores busy (the threads only wait). With ``scheduler="tcp://HOST:PORT"`` every student is
one task on a Dask distributed cluster; workers need this kit installed, bubblewrap, and
the same paths for submissions, results and the secret file (a shared filesystem): only
paths travel in the task graph, never the secret. Results are written by whoever grades,
atomically, so an interrupted batch resumes where it stopped.
"""

import concurrent.futures
import os
import sys
import traceback
from pathlib import Path
from typing import Iterable, Mapping

from tqdm import tqdm

from .. import sandbox
from ..sandbox import SandboxLimits
from ..files import remove_stale_partials
from .results import check_student_id, grade_library, grade_library_with


def grade_many(submissions: Mapping[str, Path] | Iterable[tuple[str, Path]], assignment: str,
               results_dir: Path, *, secret_file: Path, jobs: int | None = None, scheduler: str | None = None,
               limits: SandboxLimits | None = None, unsafe_no_sandbox: bool = False, call_timeout: float = 2.0,
               force: bool = False, progress: bool = True) -> dict[str, dict]:
    """Grade every (student id, submission folder); returns {student id: result}.

    A student's crash, timeout or garbage is inside their result. An error of the grader
    itself for one student (a full disk, say) is reported as ``{"internal_error": ...}`` for
    that student, with no result written, so the next run retries it; the batch goes on.
    """
    pairs = list(submissions.items() if isinstance(submissions, Mapping) else submissions)
    for student_id, _ in pairs:
        check_student_id(student_id)
    if len({s for s, _ in pairs}) != len(pairs):
        raise ValueError("a student id appears twice in the batch")
    use_sandbox = sandbox.sandbox_policy(unsafe_no_sandbox)   # once, before any student code runs
    remove_stale_partials(Path(results_dir) / assignment)
    options = dict(secret_file=Path(secret_file).resolve(), limits=limits, call_timeout=call_timeout, force=force)
    bar = tqdm(total=len(pairs), desc=f"grading {assignment}", unit="student", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    try:
        if scheduler:
            return _on_dask(pairs, assignment, Path(results_dir).resolve(), scheduler, options,
                            unsafe_no_sandbox, bar)
        return _on_threads(pairs, assignment, Path(results_dir), jobs or os.cpu_count() or 1, options,
                           use_sandbox, bar)
    finally:
        bar.close()


def _on_threads(pairs, assignment, results_dir, jobs, options, use_sandbox, bar) -> dict:
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade") as pool:
        futures = {pool.submit(grade_library_with, student_id, Path(folder), assignment, results_dir,
                               use_sandbox=use_sandbox, **options): student_id
                   for student_id, folder in pairs}
        for future in concurrent.futures.as_completed(futures):
            student_id = futures[future]
            results[student_id] = _outcome(student_id, future)
            bar.set_postfix_str(student_id, refresh=False)
            bar.update(1)
    return {student_id: results[student_id] for student_id, _ in pairs}


def _on_dask(pairs, assignment, results_dir, scheduler, options, unsafe_no_sandbox, bar) -> dict:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--scheduler needs Dask distributed: pip install 'distributed'") from None
    results = {}
    with Client(scheduler, set_as_default=False) as client:
        futures = {}
        for student_id, folder in pairs:
            # Each worker applies the sandbox policy itself: it is the one that runs student code.
            future = client.submit(grade_library, student_id, str(Path(folder).resolve()), assignment,
                                   str(results_dir), unsafe_no_sandbox=unsafe_no_sandbox, pure=False,
                                   key=f"grade-{assignment}-{student_id}-{os.getpid()}", **options)
            futures[future] = student_id
        for future in as_completed(list(futures), loop=client.loop):
            student_id = futures[future]
            results[student_id] = _outcome(student_id, future)
            bar.set_postfix_str(student_id, refresh=False)
            bar.update(1)
    return {student_id: results[student_id] for student_id, _ in pairs}


def _outcome(student_id, future) -> dict:
    try:
        return future.result()
    except sandbox.SandboxUnavailableError:
        raise   # a worker without bubblewrap: configuration, not the student's doing
    except Exception as error:  # noqa: BLE001  the batch goes on; this student is retried next run
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        print(f"grading {student_id} failed inside the grader: {detail}", file=sys.stderr)
        return {"student_id": student_id, "internal_error": detail}
