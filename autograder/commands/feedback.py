"""``python -m autograder feedback ASSIGNMENT [STUDENT ...]``: one HTML report per student."""

from ..cli_support import add_course_dir, fail, layout_from
from ..errors import ReleaseError
from ..report import write_feedback

NAME = "feedback"
HELP = "write course/feedback/<student>/<assignment>/report.html (no hidden tests, no reference code)"


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("students", nargs="*", metavar="STUDENT", help="only these students (default: all graded)")
    add_course_dir(parser)


def run(args) -> int:
    try:
        written = write_feedback(layout_from(args), args.assignment, args.students or None)
    except ReleaseError as error:
        return fail(NAME, str(error))
    print(f"feedback: {len(written)} report(s) written")
    for path in written:
        print(f"  {path}")
    return 0
