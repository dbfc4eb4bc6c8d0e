"""Every task's checks, collected from the check modules, and one student's plan built from them."""

import hashlib

import numpy as np

from . import im2col_checks, layer_checks, model_checks
from .checks import Check, Checks
from .plan import Plan

BUILDERS = {builder.task: builder
            for module in (layer_checks, im2col_checks, model_checks)
            for builder in vars(module).values() if callable(builder) and hasattr(builder, "task")}


def graded_tasks() -> list[str]:
    return sorted(BUILDERS)


def build_checks(tasks: list[str], seed: int, call_timeout: float = 2.0) -> tuple[Plan, list[Check]]:
    """Plan every check of ``tasks`` for one student (``seed`` from ``seeds.student_seed``)."""
    plan, checks = Plan(), []
    for task in tasks:
        if task not in BUILDERS:
            raise KeyError(f"no checks are defined for task {task!r}; add them in "
                           f"autograder/grading/library/*_checks.py")
        # Each task its own stream, so adding a task never changes another task's inputs.
        task_salt = int.from_bytes(hashlib.sha256(task.encode()).digest()[:4], "big")
        planner = Checks(task, plan, np.random.default_rng([seed, task_salt]), call_timeout)
        BUILDERS[task](planner)
        checks.extend(planner.checks)
    return plan, checks
