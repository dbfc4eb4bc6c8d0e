"""Throughput on a Dask cluster: a simulated class graded by 1, 2 and 4 single-threaded workers.

    .venv/bin/python bench/bench_cluster.py [--students 200] [--assignment conv_pool] [--workers 1 2 4]
    .venv/bin/python bench/bench_cluster.py --students 4 --workers 1 2 --no-report     (a smoke run)

The class (reference, partly correct and unfinished students in turn,
:mod:`autograder.class_simulation`) is built once from the committed release and collected into a
fresh course directory for each run; each run is ``grade --scheduler`` logic on a loopback
cluster (``LocalCluster``: one process per worker, one thread each, on this machine), timed from
the first task to the last result written into the gradebook. Cluster start-up and collect are not
timed. The machine's load average is recorded before and after each run: on a shared machine the
other users' load is part of every figure.
"""

import argparse
import os
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

KINDS = ("reference", "partial", "stubs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--assignment", default="conv_pool")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--no-report", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    from distributed import LocalCluster

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        scratch = Path(scratch)
        kit = Layout.of_repo()
        kinds = {f"s{index:03d}": KINDS[index % len(KINDS)] for index in range(args.students)}
        build_class(kit, args.assignment, kinds, scratch / "class")
        for workers in args.workers:
            layout = kit.with_outputs(course_dir=scratch / f"course_{workers}")
            collect(layout, args.assignment, [scratch / "class"], log=lambda line: None)
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                load_before = os.getloadavg()[0]
                started = time.perf_counter()
                outcome = grade_class(layout, args.assignment, scheduler=cluster.scheduler_address,
                                      options=GradingOptions(), progress=False)
                seconds = time.perf_counter() - started
                load_after = os.getloadavg()[0]
            if outcome.internal_errors or len(outcome.results) != args.students:
                raise RuntimeError(f"{workers} worker(s): {len(outcome.results)} of {args.students} graded; "
                                   f"grader errors: {outcome.internal_errors}")
            rows.append([workers, seconds, args.students / seconds * 60, load_before, load_after])
            print(f"{workers} worker(s): {seconds:.0f} s, {rows[-1][2]:.1f} students/min, "
                  f"load {load_before:.1f} -> {load_after:.1f}", flush=True)

    one = rows[0][2]
    table = [[workers, f"{seconds:.0f}", f"{per_minute:.1f}", f"{per_minute / one:.2f}x",
              f"{before:.1f} / {after:.1f}"] for workers, seconds, per_minute, before, after in rows]
    headers = ["workers (1 thread each)", "seconds", "students/min", f"vs {rows[0][0]} worker(s)",
               "load average (1 min) before / after"]
    notes = (f"Class of {args.students} on `{args.assignment}` (reference, partly correct and unfinished in turn), "
             f"graded through a loopback Dask cluster (LocalCluster, one process per worker) with the kit's "
             f"sandbox and clean-room checks; one pass per cluster size, setup not timed. "
             f"{os.cpu_count()} cores.")
    if args.no_report:
        print(headers)
        for line in table:
            print(line)
    else:
        report(f"Grading on a Dask cluster, {args.assignment}, {args.students} students", 1, headers, table, notes)


if __name__ == "__main__":
    main()
