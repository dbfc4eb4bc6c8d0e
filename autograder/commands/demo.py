"""``python -m autograder demo``: release, simulate a class, grade it in the sandbox, feedback, CSV."""

from pathlib import Path

from ..cli_support import add_kit_dir, fail
from ..demo import run_demo
from ..errors import ReleaseError
from ..sandbox import SandboxUnavailableError

NAME = "demo"
HELP = "grade a simulated class of five (reference, partial, stubs, infinite loop, cheater) end to end"


def configure(parser) -> None:
    parser.add_argument("--assignment", default="conv_pool", help="which assignment (default conv_pool)")
    parser.add_argument("--out", type=Path, default=Path("runs") / "grading-demo",
                        help="where the demo's release, course directory and class go (replaced; default "
                             "runs/grading-demo in the current folder)")
    parser.add_argument("--jobs", type=int, default=2, help="students graded at once (default 2)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run without bubblewrap when it cannot run (not isolated)")
    add_kit_dir(parser)


def run(args) -> int:
    try:
        run_demo(args.out, args.assignment, jobs=args.jobs, unsafe_no_sandbox=args.unsafe_no_sandbox, kit=args.kit)
    except (SandboxUnavailableError, ReleaseError) as error:
        return fail(NAME, str(error))
    return 0
