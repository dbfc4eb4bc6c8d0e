"""``python -m autograder collect ASSIGNMENT SOURCE ...``: submissions into course/submitted/."""

from pathlib import Path

from ..cli_support import add_course_dir, fail, layout_from
from ..collect import collect
from ..errors import ReleaseError

NAME = "collect"
HELP = "copy submission folders or LMS zips into course/submitted/<student>/<assignment>/"


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("sources", nargs="*", type=Path, metavar="SOURCE",
                        help="a folder of <student>/ folders or of <student>_*.zip files, or a student zip")
    parser.add_argument("--class-download", action="append", type=Path, default=[], metavar="ZIP",
                        help="the LMS's whole-class download (a zip of <student>_*.zip); only a zip given "
                             "here is read as a zip of zips (repeatable)")
    add_course_dir(parser)


def run(args) -> int:
    if not args.sources and not args.class_download:
        return fail(NAME, "expected at least one SOURCE or --class-download ZIP")
    try:
        report = collect(layout_from(args), args.assignment, args.sources, class_downloads=args.class_download)
    except ReleaseError as error:
        return fail(NAME, str(error))
    print(f"collect: {len(report.collected)} submission(s) collected, {len(report.refused)} refused")
    return 0 if report.collected or not report.refused else 1
