"""``python -m autograder export ASSIGNMENT [--roster FILE]``: nbgrader's CSV, a per-function CSV, Gradescope
JSON, and with a roster the gradebook CSV that Canvas or Moodle imports."""

from pathlib import Path

from ..cli_support import add_course_dir, fail, for_terminal, layout_from
from ..errors import ReleaseError
from ..lms import RosterError, export_lms_gradebook
from ..nbgrader import export_csv
from ..report import export_gradescope, export_per_function_csv

NAME = "export"
HELP = ("write exports/grades.csv (nbgrader export), exports/<a>/per_function.csv, Gradescope results.json, "
        "and with --roster the Canvas or Moodle gradebook CSV")


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("--roster", type=Path, default=None, metavar="FILE",
                        help="the LMS's gradebook export (Canvas or Moodle CSV): also write exports/<a>/canvas_grades.csv "
                             "or moodle_grades.csv for the LMS to import")
    parser.add_argument("--lms-column", default=None, metavar="NAME",
                        help="the roster's column for this assignment (default: the one named after it, else a new one)")
    add_course_dir(parser)


def run(args) -> int:
    layout = layout_from(args)
    try:
        paths = [export_csv(layout), export_per_function_csv(layout, args.assignment)]
        gradescope = export_gradescope(layout, args.assignment)
    except (ReleaseError, RuntimeError) as error:
        return fail(NAME, str(error))
    for path in paths:
        print(f"export: {path}")
    print(f"export: {len(gradescope)} Gradescope results.json under {layout.assignment_exports(args.assignment) / 'gradescope'}")
    if args.roster is None:
        return 0
    try:
        lms = export_lms_gradebook(layout, args.assignment, args.roster, args.lms_column)
    except RosterError as error:
        return fail(NAME, str(error))
    print(f"export: {lms.path} ({lms.lms}, column {for_terminal(lms.column)}): {len(lms.written)} grade(s)")
    for student, why in sorted(lms.not_final.items()):
        print(f"export: EMPTY CELL for {for_terminal(student)}, the grade is not final: {for_terminal(why)}")
    if lms.without_submission:
        print(f"export: {len(lms.without_submission)} roster student(s) without a result, left empty: "
              f"{for_terminal(', '.join(lms.without_submission))}")
    return 0
