"""``python -m autograder <command>``: a thin CLI over the pipelines; each command is one module."""

import argparse
import sys

from .commands import collect, demo, export, feedback, grade, integrity, leaderboard, release, similarity
from .errors import ReleaseError

# Add a command: write autograder/commands/<name>.py (NAME, HELP, configure, run) and list it here.
COMMANDS = (release, collect, grade, feedback, export, integrity, similarity, leaderboard, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Course tools of the ConvNet kit (nbgrader underneath).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ReleaseError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
