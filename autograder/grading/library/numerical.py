"""Numerical gradients of the STUDENT'S OWN forward, for checking their backward against it.

The parent plans, for a few sampled entries of each input, two extra forward calls with
that entry nudged by +h and -h (same single child run as every other call). From the
outputs it forms the objective ``L = sum(out * dout)`` (or the scalar output itself, for a
loss) and the central difference ``(L+ - L-) / 2h``, which must match the student's
backward at that entry. This tells a student whose forward is wrong whether their backward
at least differentiates it correctly, and tells one whose forward is right whether the
backward is the culprit. It is a hint, never the only judge: a backward earns the check only
when the numerical gradient of the student's forward is the reference gradient too.
"""

import dataclasses
from typing import Callable

import numpy as np

from cs231n_lib.gradient_check import non_finite_problem

from .answers import Answers, Lost
from .diagnosis import Verdict, compare
from .plan import Perturbed, Plan

STEP = 1e-5        # float64 central differences: truncation ~h^2, rounding ~1e-16 / h
RTOL = 1e-5


@dataclasses.dataclass(frozen=True)
class NumericProbe:
    function: str                          # the forward, task-style name
    samples: dict[str, np.ndarray]         # input name -> sampled flat indices
    keys: dict[tuple[str, int, int], str]  # (input name, flat index, +1/-1) -> call key
    output_path: str
    output_shape: tuple


def plan_probe(plan: Plan, key_prefix: str, function: str, args_for: Callable[[dict], tuple],
               wrt: dict[str, np.ndarray], rng: np.random.Generator, samples: int,
               output_path: str, output_shape: tuple, timeout: float = 2.0,
               expected: dict[str, np.ndarray] | None = None) -> NumericProbe:
    """Add the nudged forward calls; ``args_for({name: Perturbed})`` builds one call's arguments.

    ``expected``: the reference gradients, when known now: entries are then sampled where they are
    not zero (max pooling's gradient is zero at 3 of 4 entries, where a backward of zeros is right).
    """
    sampled, keys = {}, {}
    for name, base in wrt.items():
        candidates = np.arange(base.size)
        if expected is not None and np.count_nonzero(expected[name]) >= samples:
            candidates = np.flatnonzero(expected[name])
        indices = np.sort(rng.choice(candidates, size=min(samples, candidates.size), replace=False))
        sampled[name] = indices
        for index in indices:
            for sign in (1, -1):
                key = f"{key_prefix}/{name}[{int(index)}]{'+' if sign > 0 else '-'}"
                nudged = Perturbed(base, ((int(index), sign * STEP),))
                keys[(name, int(index), sign)] = plan.call(key, function, *args_for({name: nudged}),
                                                           timeout=timeout)
    return NumericProbe(function=function, samples=sampled, keys=keys,
                        output_path=output_path, output_shape=tuple(output_shape))


def numerical_gradient(probe: NumericProbe, answers: Answers, upstream: np.ndarray | None) -> dict:
    """{input name: numerical gradient at the sampled indices}; Lost if a nudged forward failed."""
    forward = probe.function.rsplit(".", 1)[-1]
    gradients = {}
    for name, indices in probe.samples.items():
        values = []
        for index in indices:
            objective = []
            for sign in (1, -1):
                try:
                    returned = answers.returned(probe.keys[(name, int(index), sign)])
                    out = returned.array(probe.output_path, probe.output_shape, "its output")
                except Lost as lost:
                    raise Lost(f"cannot form the numerical gradient of your {forward}: {lost}") from None
                objective.append(float(out.sum()) if upstream is None else float((out * upstream).sum()))
            values.append((objective[0] - objective[1]) / (2 * STEP))
        gradients[name] = np.array(values)
    return gradients


def compare_with_numerical(probe: NumericProbe, answers: Answers, upstream: np.ndarray | None,
                           analytic: dict[str, np.ndarray], backward: str, expected: dict[str, np.ndarray],
                           allowed_misses: int = 0) -> Verdict:
    """Is the student's backward (``analytic``: full gradients by input name) right where it was probed?

    A backward that equals the reference (``expected``) passes whatever the forward does: a
    wrong forward is the forward's loss, not the backward's. Otherwise the backward passes
    only when, at the sampled entries, it agrees with the numerical gradient of the student's
    own forward AND that numerical gradient agrees with the reference gradient (the forward is
    right where it was probed). Agreeing with one's own forward alone proves nothing: a forward
    and a backward that both return zeros, or both twice the right values, are consistent.
    The numerical gradient then only says which of the two to fix.
    ``allowed_misses`` tolerates entries where a kink (relu, max) sits within h of the input.
    """
    if all(compare(analytic[name], expected[name], name).passed for name in probe.samples):
        return Verdict(True, None, 0.0)
    numerical = numerical_gradient(probe, answers, upstream)
    forward = probe.function.rsplit(".", 1)[-1]
    inconsistent, forward_wrong, worst = [], [], 0.0
    for name, indices in probe.samples.items():
        problem = non_finite_problem(f"the numerical gradient of your {forward} in {name}", numerical[name])
        if problem:
            return Verdict(False, f"{problem}: your {forward} overflows or returns NaN near these inputs")
        got, want = analytic[name].reshape(-1)[indices], numerical[name]
        misses, difference = _misses(got, want)
        worst = max(worst, difference)
        if misses > allowed_misses:
            inconsistent.append(f"d{name} at {misses} of {len(indices)} sampled entries")
        if _misses(want, expected[name].reshape(-1)[indices])[0] > allowed_misses:
            forward_wrong.append(f"d{name}")
    if not inconsistent and not forward_wrong:
        return Verdict(True, None, worst)
    if not inconsistent:
        return Verdict(False, (f"{backward} agrees with the numerical gradient of your own {forward}, but that "
                               f"gradient is not the expected one ({', '.join(forward_wrong)}): the two are "
                               f"consistent with each other and both wrong, so fix {forward} first"), worst)
    return Verdict(False, (f"{backward} disagrees with the numerical gradient of your own {forward}: "
                           f"{', '.join(inconsistent)} (largest difference {worst:.2g} of the gradient's "
                           f"magnitude); the backward pass does not differentiate your forward pass"), worst)


def _misses(got: np.ndarray, want: np.ndarray) -> tuple[int, float]:
    """How many entries of ``got`` differ from ``want`` by more than RTOL of the larger magnitude, and the largest."""
    scale = max(float(np.abs(want).max(initial=0.0)), float(np.abs(got).max(initial=0.0)), 1e-8)
    difference = np.abs(got - want) / scale
    return int((difference > RTOL).sum()), float(difference.max(initial=0.0))
