"""Grading throughput: the kit's sandboxed parallel grading against plain sequential ``nbgrader autograde``.

    .venv/bin/python bench/bench_grading.py [--students 40] [--assignment conv_pool] [--jobs 2]
    .venv/bin/python bench/bench_grading.py --students 6 --no-report     (a smoke run)

One simulated class (reference, partly correct and unfinished students in turn, built from
the release) is graded, in the same run and on the same machine, by:

1. ``nbgrader autograde <a>`` in one process over the whole class (nbgrader's own way: no
   sandbox, no library checks, one student after the other);
2. ``python -m autograder grade`` logic with ``--jobs`` (the notebook's cells in one sandboxed
   process with every grade cell run by the grader, and the clean-room library checks in a
   second one);
3. the same on a Dask LocalCluster with 1 and with 2 single-threaded workers.

Setup (release, class, collect) is not timed; each figure is one full pass over
the class (a pass takes minutes; medians over repeats would take hours on 2 cores).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, report

sys.path.insert(0, str(ROOT))
from autograder.class_simulation import build_class  # noqa: E402
from autograder.collect import collect  # noqa: E402
from autograder.course import Layout  # noqa: E402
from autograder.grading.batch import grade_class  # noqa: E402
from autograder.grading.job import GradingOptions  # noqa: E402
from autograder.nbgrader import nbgrader_environment  # noqa: E402
from autograder.release import release  # noqa: E402

KINDS = ("reference", "partial", "stubs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--assignment", default="conv_pool")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask scaling runs")
    parser.add_argument("--no-report", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        scratch = Path(scratch)
        kit = Layout.of_repo().with_outputs(course_dir=scratch / "nbgrader_course",
                                               assignments_dir=scratch / "assignments")
        release(kit, [args.assignment], log=lambda line: None)    # also builds nbgrader's course for (1)
        layout = kit
        kinds = {f"s{index:03d}": KINDS[index % len(KINDS)] for index in range(args.students)}
        folders = build_class(layout, args.assignment, kinds, scratch / "class")

        rows = []
        seconds = plain_nbgrader(kit.course_dir, args.assignment, folders)
        rows.append(row("plain `nbgrader autograde`, sequential, no sandbox, no library checks", 1, seconds,
                        args.students, seconds))

        seconds = kit_grading(kit, scratch / "kit_course", args.assignment, folders, jobs=args.jobs)
        rows.append(row(f"kit `grade --jobs {args.jobs}`: sandbox + library checks", args.jobs, seconds,
                        args.students, rows[0][-1]))

        if not args.no_dask:
            from distributed import LocalCluster
            for workers in (1, 2):
                with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
                    seconds = kit_grading(kit, scratch / f"dask_course_{workers}", args.assignment, folders,
                                          scheduler=cluster.scheduler_address)
                rows.append(row(f"kit on Dask LocalCluster, {workers} worker(s)", workers, seconds,
                                args.students, rows[0][-1]))

    table = [r[:-1] for r in rows]
    headers = ["grader", "workers", "seconds", "submissions/min", "vs plain nbgrader"]
    notes = (f"Class of {args.students} built from the release of `{args.assignment}` (reference, partly correct "
             f"and unfinished in turn); one pass each, setup not timed. The kit does more per student than plain "
             f"nbgrader: the student's notebook in bubblewrap with every grade cell run by the grader, a second "
             f"sandboxed process for the clean-room library checks, the integrity scan, atomic results, the "
             f"gradebook in one transaction.")
    if args.no_report:
        print(headers)
        for line in table:
            print(line)
    else:
        report(f"Grading throughput, {args.assignment}, {args.students} submissions", args.jobs, headers, table, notes)


def row(name, workers, seconds, students, baseline_seconds):
    per_minute = students / seconds * 60
    speedup = baseline_seconds / seconds
    return [name, workers, f"{seconds:.0f}", f"{per_minute:.1f}", f"{speedup:.2f}x", seconds]


def plain_nbgrader(course_dir: Path, assignment: str, folders: dict[str, Path]) -> float:
    """nbgrader's own autograde over the class, in the course directory ``release`` built."""
    for student, folder in folders.items():
        shutil.copytree(folder, course_dir / "submitted" / student / assignment)
    command = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"]
    started = time.perf_counter()
    subprocess.run(command, cwd=course_dir, env=dict(nbgrader_environment(), CS231N_QUICK="1"),
                   check=True, capture_output=True)
    return time.perf_counter() - started


def kit_grading(kit: Layout, course_dir: Path, assignment: str, folders: dict[str, Path], *, jobs=None,
                scheduler=None) -> float:
    layout = kit.with_outputs(course_dir=course_dir)
    collect(layout, assignment, [next(iter(folders.values())).parent], log=lambda line: None)
    started = time.perf_counter()
    outcome = grade_class(layout, assignment, jobs=jobs, scheduler=scheduler, options=GradingOptions(),
                          progress=False)
    seconds = time.perf_counter() - started
    if outcome.internal_errors:
        raise RuntimeError(f"grader errors: {outcome.internal_errors}")
    return seconds


if __name__ == "__main__":
    main()
