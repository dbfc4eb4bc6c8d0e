"""``python -m autograder release [ASSIGNMENT ...]``: regenerate the student release."""

from pathlib import Path

from ..cli_support import add_kit_dir
from ..course import Layout
from ..release import release

NAME = "release"
HELP = "build assignments/<a>/ from cs231n_lib/ and solutions/<a>/ (all assignments by default)"


def configure(parser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help="assignment names from solutions/tasks.toml (default: every one with a notebook)")
    parser.add_argument("--course-dir", type=Path, default=None,
                        help="nbgrader course directory to build in (default: course/)")
    parser.add_argument("--assignments-dir", type=Path, default=None,
                        help="where the release goes (default: assignments/)")
    add_kit_dir(parser)


def run(args) -> int:
    layout = Layout.of_repo(args.kit).with_outputs(course_dir=args.course_dir, assignments_dir=args.assignments_dir)
    release(layout, args.assignments)
    return 0  # skipped assignments (no notebook yet) are reported, not failures; errors raise
