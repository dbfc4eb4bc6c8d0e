"""``python -m autograder similarity ASSIGNMENT``: rank pairs of students by how much code they share."""

from pathlib import Path

from ..cli_support import add_course_dir, fail, layout_from
from ..errors import ReleaseError
from ..similarity import default_corpus, similarity_report
from ..similarity.report import summary_lines, write_report

NAME = "similarity"
HELP = ("compare what students wrote, pairwise and with the reference (winnowed fingerprints, weighted by "
        "rarity); write exports/<a>/similarity/ (CSV, HTML side by side); nothing leaves the machine")
SHOWN = 10   # pairs printed; the report has them all


def configure(parser) -> None:
    parser.add_argument("assignment", help="assignment name from solutions/tasks.toml")
    parser.add_argument("--threshold", type=float, default=None,
                        help="flag pairs scoring at least this (0 to 1; default: calibrated on the class, "
                             "see docs/grading.md)")
    parser.add_argument("--independent", type=Path, action="append", default=None, metavar="DIR",
                        help="a folder of known independent implementations (.py) to weigh common code with; "
                             "repeatable (default: the kit's autograder/similarity/independent/<assignment>/)")
    parser.add_argument("--no-independent", action="store_true", help="use no known independent implementations")
    add_course_dir(parser)


def run(args) -> int:
    if args.threshold is not None and not 0 < args.threshold <= 1:
        return fail(NAME, f"--threshold must be in (0, 1], got {args.threshold}")
    layout = layout_from(args)
    corpus = [] if args.no_independent else (args.independent or [default_corpus(args.assignment)])
    missing = [str(folder) for folder in corpus if args.independent and not folder.is_dir()]
    if missing:
        return fail(NAME, f"--independent {', '.join(missing)}: expected a folder of .py files")
    try:
        report = similarity_report(layout, args.assignment, corpus, threshold=args.threshold)
        index = write_report(report, layout.similarity_dir(args.assignment))
    except ReleaseError as error:
        return fail(NAME, str(error))
    for line in summary_lines(report, index, SHOWN):
        print(line)
    return 0
