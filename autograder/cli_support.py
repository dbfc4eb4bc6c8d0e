"""What the grading commands share: the course directory option and one way to fail."""

import sys
from pathlib import Path

from .course import Layout


def add_course_dir(parser) -> None:
    parser.add_argument("--course-dir", type=Path, default=None,
                        help="nbgrader course directory (default: course/ of the kit)")


def layout_from(args) -> Layout:
    return Layout.of_repo().with_outputs(course_dir=args.course_dir)


def fail(command: str, message: str) -> int:
    print(f"{command} failed: {message}", file=sys.stderr)
    return 1
