"""What is checked, per task function: named checks with points, their calls and their judges.

A check plans the calls it needs (``Plan.call``) while the trusted parent draws the inputs,
and keeps a judge: a function of the student's answers that returns a Verdict. Judges
compute the reference result here, in the parent, with the reference library; nothing of it
is ever written where the child can see it. A judge may raise ``Lost`` (the answer is
missing, crashed, has the wrong shape, ...); the grader turns that into zero points for the
check with the reason.

The checks of each task live in one module per assignment (``layer_checks``,
``im2col_checks``, ``model_checks``), each function marked with :func:`task_checks`;
``registry`` collects them. Nothing here imports those modules: they import this one.
"""

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

import cs231n_lib

from .answers import Answers
from .diagnosis import Layout, Verdict, compare
from .plan import REFERENCE_ROOT, Plan

if Path(cs231n_lib.__file__).resolve().parent != REFERENCE_ROOT:
    # The parent must compare with the reference, never with whatever cs231n_lib is on the path.
    raise ImportError(f"the grader imported cs231n_lib from {cs231n_lib.__file__}, expected the "
                      f"reference at {REFERENCE_ROOT}")

REFERENCE = "reference"   # kinds of check: against the reference result ...
NUMERICAL = "numerical"   # ... or against the numerical gradient of the student's own forward


@dataclasses.dataclass(frozen=True)
class Check:
    task: str
    name: str
    points: float
    judge: Callable[[Answers], Verdict]
    kind: str = REFERENCE


TaskBuilder = Callable[["Checks"], None]

# Backward task -> its forward: the grader says which of the two is wrong.
FORWARD_OF = {
    "layers.affine_backward": "layers.affine_forward",
    "layers.relu_backward": "layers.relu_forward",
    "layers.conv_backward_naive": "layers.conv_forward_naive",
    "layers.max_pool_backward_naive": "layers.max_pool_forward_naive",
}


def task_checks(task: str):
    """Mark the function that plans ``task``'s checks (``registry`` finds it by this mark)."""
    def mark(builder: TaskBuilder) -> TaskBuilder:
        builder.task = task
        return builder
    return mark


class Checks:
    """The checks of one task as they are planned: shared plan, the task's own random stream."""

    def __init__(self, task: str, plan: Plan, rng: np.random.Generator, call_timeout: float):
        self.task = task
        self.plan = plan
        self.rng = rng
        self.call_timeout = call_timeout
        self.checks: list[Check] = []

    def call(self, case: str, *args, function: str | None = None, **options) -> str:
        options.setdefault("timeout", self.call_timeout)
        return self.plan.call(f"{self.task}/{case}", function or self.task, *args, **options)

    def add(self, name: str, points: float, judge: Callable[[Answers], Verdict], kind: str = REFERENCE):
        self.checks.append(Check(self.task, name, float(points), judge, kind))

    def normal(self, *shape, scale=1.0) -> np.ndarray:
        return scale * self.rng.standard_normal(shape)


def expect(answers: Answers, key: str, path: str, expected: np.ndarray, label: str,
           layout: Layout = Layout()) -> Verdict:
    """The common judge: the part ``path`` of call ``key`` must equal ``expected``."""
    got = answers.returned(key).array(path, expected.shape, label)
    return compare(got, expected, label, layout)
