"""``python -m autograder export ASSIGNMENT``: nbgrader's CSV, a per-function CSV, Gradescope JSON."""

from ..cli_support import add_course_dir, fail, layout_from
from ..errors import ReleaseError
from ..nbgrader import export_csv
from ..report import export_gradescope, export_per_function_csv

NAME = "export"
HELP = "write exports/grades.csv (nbgrader export), exports/<a>/per_function.csv, Gradescope results.json"


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
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
    return 0
