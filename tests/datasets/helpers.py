"""Run the CLI in-process and read back what it said."""

import dataclasses
import os

from cs231n_lib.datasets.__main__ import main

from .conftest import SMALL

SMALL_COUNTS = (f"{SMALL.train_rows_per_batch},{SMALL.test_rows},"
                f"{SMALL.train_per_class},{SMALL.test_per_class}")


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def error_lines(self):
        return [line for line in self.err.splitlines() if line.startswith("error:")]


def run_cli(capsys, *argv):
    capsys.readouterr()  # forget earlier output
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def leftovers(folder):
    """Names in ``folder`` other than an installed data set: staging folders, parts, archives."""
    return sorted(n for n in os.listdir(folder) if n != "cifar-10-batches-py")
