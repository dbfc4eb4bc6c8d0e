"""``python -m autograder grade ASSIGNMENT [STUDENT ...]``: sandboxed grading into the gradebook."""

import os

from ..cli_support import add_course_dir, fail, layout_from
from ..errors import ReleaseError
from ..grading.batch import grade_class
from ..report import grade_table, graded_results
from ..sandbox import SandboxUnavailableError
from ..grading.job import GradingOptions

NAME = "grade"
HELP = "grade submissions in the sandbox (notebook + library), N at once or on Dask, into gradebook.db"


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("students", nargs="*", metavar="STUDENT", help="only these students (default: all collected)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="students graded at once on this machine (default: the number of cores)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                        help="grade on a Dask distributed cluster instead, one task per student")
    parser.add_argument("--cell-timeout", type=int, default=30, help="seconds per notebook cell (default 30)")
    parser.add_argument("--force", action="store_true", help="grade again even when a matching result exists")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap when it cannot run (student code then runs unconfined)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_course_dir(parser)


def run(args) -> int:
    layout = layout_from(args)
    if args.jobs < 1:
        return fail(NAME, f"--jobs must be at least 1, got {args.jobs}")
    options = GradingOptions(cell_timeout=args.cell_timeout, force=args.force)
    try:
        report = grade_class(layout, args.assignment, args.students or None, jobs=args.jobs,
                             scheduler=args.scheduler, options=options, unsafe_no_sandbox=args.unsafe_no_sandbox,
                             progress=not args.no_progress)
    except SandboxUnavailableError as error:
        return fail(NAME, str(error))
    except (ReleaseError, FileNotFoundError) as error:
        return fail(NAME, str(error))
    results = graded_results(layout, args.assignment)
    print(grade_table({s: r for s, r in results.items() if s in report.results}))
    for student, error in sorted(report.internal_errors.items()):
        print(f"NOT GRADED {student}: {error} (run grade again to retry)")
    return 1 if report.internal_errors else 0
