"""``python -m autograder leaderboard ASSIGNMENT [--pseudonyms]``: rank the class by held-out accuracy."""

from ..cli_support import add_course_dir, fail, layout_from
from ..errors import ReleaseError
from ..leaderboard import leaderboard, summary_lines, write_leaderboard

NAME = "leaderboard"
HELP = ("rank the submitted models by the accuracy the grader measured on the held-out set; write "
        "exports/<a>/leaderboard/ (index.html to post, leaderboard.csv)")


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("--pseudonyms", action="store_true",
                        help="show each student's pseudonym (stable, derived from the course secret) instead "
                             "of their id, so that the page can be posted for the class")
    add_course_dir(parser)


def run(args) -> int:
    layout = layout_from(args)
    try:
        board = leaderboard(layout, args.assignment, pseudonyms=args.pseudonyms)
        page = write_leaderboard(layout, board, layout.catalog().get(args.assignment).title)
    except ReleaseError as error:
        return fail(NAME, str(error))
    for line in summary_lines(board, page):
        print(line)
    return 0
