"""What the grading commands share: the kit and course directory options, one way to fail, and
text from submissions made safe to print."""

import sys
import unicodedata
from pathlib import Path

from .course import Layout


def add_kit_dir(parser) -> None:
    parser.add_argument("--kit", type=Path, default=None, metavar="DIR",
                        help="the course kit's folder, with solutions/tasks.toml (default: the checkout this "
                             "autograder runs from; required when the kit is pip-installed)")


def add_course_dir(parser) -> None:
    """``--kit`` and ``--course-dir``: every command that reads the course takes both."""
    add_kit_dir(parser)
    parser.add_argument("--course-dir", type=Path, default=None,
                        help="nbgrader course directory (default: course/ of the kit)")


def layout_from(args) -> Layout:
    return Layout.of_repo(args.kit).with_outputs(course_dir=args.course_dir)


# Unicode categories of characters that steer a terminal instead of showing: controls (escape
# sequences, carriage return, backspace), format characters (bidirectional overrides) and
# private or unpaired code points.
_STEERING = frozenset({"Cc", "Cf", "Co", "Cs"})


def for_terminal(text: str) -> str:
    r"""``text`` (a file name, path or message from a submission) with every character that
    would steer the instructor's terminal shown as its escape (``\x1b``, ``\u202e``), so
    that it cannot move the cursor, erase a line of the grade table or reorder what is read.

    >>> print(for_terminal("/tmp/\x1b[1A\x1b[2Kok\u202e é"))
    /tmp/\x1b[1A\x1b[2Kok\u202e é
    """
    return "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _STEERING else ch
                   for ch in str(text))


def fail(command: str, message: str) -> int:
    print(f"{command} failed: {for_terminal(message)}", file=sys.stderr)
    return 1
