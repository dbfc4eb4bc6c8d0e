"""``python -m autograder integrity ASSIGNMENT``: flag patching, reference access, edited locked cells."""

from ..cli_support import add_course_dir, fail, layout_from
from ..errors import ReleaseError
from ..report import integrity_report, integrity_text, write_integrity_csv

NAME = "integrity"
HELP = "report submissions that patch NumPy or the grader, reach for the reference or outside files, or edit locked cells"


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    add_course_dir(parser)


def run(args) -> int:
    layout = layout_from(args)
    try:
        report = integrity_report(layout, args.assignment)
    except ReleaseError as error:
        return fail(NAME, str(error))
    print(integrity_text(report))
    print(f"integrity: {write_integrity_csv(layout, args.assignment, report)}")
    return 0
