"""``python -m autograder collect ASSIGNMENT SOURCE ...``: submissions into course/submitted/."""

from pathlib import Path

from ..cli_support import add_course_dir, fail, layout_from
from ..collect import collect
from ..errors import ReleaseError

NAME = "collect"
HELP = "copy submission folders or LMS zips into course/submitted/<student>/<assignment>/"


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("sources", nargs="+", type=Path, metavar="SOURCE",
                        help="a folder of <student>/ folders or of <student>_*.zip files, a student zip, "
                             "or one zip of zips")
    add_course_dir(parser)


def run(args) -> int:
    try:
        report = collect(layout_from(args), args.assignment, args.sources)
    except ReleaseError as error:
        return fail(NAME, str(error))
    print(f"collect: {len(report.collected)} submission(s) collected, {len(report.refused)} refused")
    return 0 if report.collected or not report.refused else 1
