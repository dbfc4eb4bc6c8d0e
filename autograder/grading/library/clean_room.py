"""The trusted parent: plan the checks, call the student's library in the sandbox, judge.

One sandboxed process per student and assignment (``student_process.py`` in library mode,
see :mod:`autograder.grading.remote`): every call of the plan (the checked cases and the
nudged forwards of the numerical gradients) is one request to it, with its own time limit.
Whatever happens there (a crash, a timeout, an OOM, a fork bomb, garbage), this module
returns a complete result with points lost and reasons; it raises only for the grader's
own configuration errors.
"""

import traceback
from pathlib import Path

from ...sandbox import SandboxLimits, SandboxResult
from ..remote import (Remote, StudentError, StudentProcess, StudentProcessGone, StudentProcessNotStarted,
                      StudentTimeout)
from .answers import Answers, CallOutcome, Lost
from .checks import FORWARD_OF, NUMERICAL, Check
from .diagnosis import Verdict
from .plan import Plan, as_sent, split_function_name
from .registry import build_checks


def grade_library(home: Path, tasks: list[str], seed: int, *, limits: SandboxLimits,
                  use_sandbox: bool, call_timeout: float = 2.0, unusable: str | None = None) -> dict:
    """Grade the ``cs231n_lib`` in ``home`` (the release's, with the student's files) on ``tasks``.

    ``seed``: the student's (``seeds.student_seed``), from which every input is drawn.
    ``unusable``: why the submission has nothing to grade (then every check is lost with it).
    Returns the library part of a result: score, max_score, functions, run, error.
    """
    plan, checks = build_checks(tasks, seed, call_timeout=call_timeout)
    if unusable:
        return _result(checks, {}, None, everything_lost=unusable)
    try:
        process = StudentProcess(Path(home), "library", limits=limits, use_sandbox=use_sandbox)
    except StudentError as error:
        result = _result(checks, {}, None, everything_lost=f"the grading process could not start: {error}")
        if isinstance(error, StudentProcessNotStarted) and error.timed_out:   # a time limit: graded again alone
            result["run"] = {"status": "timeout", "description": f"did not start: {error}", "returncode": None,
                             "timed_out": False, "unanswered": True, "wall_seconds": 0.0, "sandboxed": use_sandbox,
                             "stderr_tail": ""}
        return result
    with process:
        try:
            # The modules that hold the tasks, first: a failure here costs everything, with its reason.
            for module in sorted({split_function_name(task)[0] for task in tasks}):
                process.library_attribute(module, timeout=limits.wall_seconds)
        except (StudentProcessGone, StudentTimeout) as error:
            run = process.finish(timed_out=isinstance(error, StudentTimeout))
            result = _result(checks, {}, run, everything_lost=(
                f"the grading process ended while importing your cs231n_lib ({run.describe()})"))
            result["run"]["unanswered"] = process.unanswered
            return result
        except StudentError as error:
            return _result(checks, {}, process.finish(), everything_lost=f"importing your cs231n_lib failed"
                                                                       f"{_at(error)}: {error.kind}: {_message(error)}")
        outcomes = _call_all(process, plan)
        run = process.finish()
    answers = Answers(outcomes, plan.index_of(), {c.key: c.function for c in plan.calls},
                      not_run_reason=_not_run_reason(run))
    verdicts = {id(check): _judge(check, answers) for check in checks}
    result = _result(checks, verdicts, run)
    result["run"]["unanswered"] = process.unanswered
    result["timed_out_functions"] = sorted({plan.calls[index].function for index, outcome in outcomes.items()
                                            if outcome.status == "timeout"})
    return result


def _call_all(process: StudentProcess, plan: Plan) -> dict[int, CallOutcome]:
    """Make every planned call; a function that timed out once is not called again.

    (An infinite loop's other calls would each burn the per-call limit until the run's wall
    clock ended it, and the functions planned after it would lose their checks too.)
    """
    outcomes, timed_out, functions = {}, set(), {}
    for index, call in enumerate(plan.calls):
        if call.function in timed_out:
            outcomes[index] = CallOutcome("timeout", error_type="TimeoutError",
                                          message=f"not called again: an earlier call of it took longer than "
                                                  f"{call.timeout:g} s")
            continue
        try:
            if call.function not in functions:
                functions[call.function] = process.library_attribute(*split_function_name(call.function),
                                                                     timeout=call.timeout)
            function = functions[call.function]
            if not isinstance(function, Remote) or not function._callable:
                outcomes[index] = CallOutcome("error", error_type="TypeError",
                                              message=f"{call.function} is not a function in your library")
                continue
            value = process.request("call", ref=function._handle, args=list(as_sent(call.args)),
                                    kwargs=as_sent(call.kwargs), seed=call.numpy_seed,
                                    then_getattr=call.result_attribute, timeout=call.timeout)
            outcomes[index] = CallOutcome("ok", value=value)
        except StudentProcessGone:
            break   # the rest are "not run", with the run's reason
        except StudentTimeout:
            timed_out.add(call.function)
            outcomes[index] = CallOutcome("timeout", error_type="TimeoutError",
                                          message=f"the call took longer than {call.timeout:g} s")
        except StudentError as error:
            outcomes[index] = CallOutcome("error", error_type=error.kind, message=_message(error), where=error.where)
    return outcomes


def _message(error: StudentError) -> str:
    text = str(error)
    suffix = f" (at {error.where})"
    return text[:-len(suffix)] if error.where and text.endswith(suffix) else text


def _at(error: StudentError) -> str:
    return f" at {error.where}" if error.where else ""


def _judge(check: Check, answers: Answers) -> Verdict:
    try:
        return check.judge(answers)
    except Lost as lost:
        return Verdict(False, str(lost))
    except Exception as error:  # noqa: BLE001  a grader bug must cost a check, not the batch
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        return Verdict(False, f"the grader could not judge this check ({detail}); tell your instructor")


def _not_run_reason(run: SandboxResult) -> str:
    if run.timed_out:
        return f"the grading run was {run.describe()} before it reached this call"
    if "MemoryError" in run.stderr:
        return "the grading run ran out of memory before it reached this call"
    return f"the grading run {run.describe()} before it reached this call"


def _result(checks: list[Check], verdicts: dict, run: SandboxResult | None,
            everything_lost: str | None = None) -> dict:
    functions: dict[str, dict] = {}
    for check in checks:
        verdict = verdicts.get(id(check)) or Verdict(False, everything_lost or "not judged")
        entry = functions.setdefault(check.task, {"task": check.task, "score": 0.0, "max_score": 0.0,
                                                  "checks": [], "notes": []})
        entry["max_score"] += check.points
        entry["score"] += check.points if verdict.passed else 0.0
        entry["checks"].append({"name": check.name, "kind": check.kind, "points": check.points,
                                "score": check.points if verdict.passed else 0.0, "passed": verdict.passed,
                                "diagnosis": verdict.diagnosis,
                                "max_error": None if verdict.max_error is None else float(f"{verdict.max_error:.3g}")})
    _add_forward_backward_notes(functions)
    return {
        "score": sum(f["score"] for f in functions.values()),
        "max_score": sum(f["max_score"] for f in functions.values()),
        "functions": list(functions.values()),
        "run": None if run is None else {
            "status": _run_status(run, everything_lost),
            "description": run.describe(), "returncode": run.returncode, "timed_out": run.timed_out,
            "wall_seconds": round(run.wall_seconds, 3), "sandboxed": run.sandboxed,
            "stderr_tail": run.stderr[-2000:]},
        "error": everything_lost,
    }


def _run_status(run: SandboxResult, everything_lost: str | None) -> str:
    if run.timed_out:
        return "timeout"
    if "MemoryError" in run.stderr:
        return "out of memory"
    if run.returncode != 0:
        return "crashed"
    return "import failed" if everything_lost else "ok"


def _add_forward_backward_notes(functions: dict) -> None:
    """Say which of a forward/backward pair is wrong: one note per backward, from both kinds of check."""
    for backward, forward in FORWARD_OF.items():
        if backward not in functions:
            continue
        checks = functions[backward]["checks"]
        if all(c["passed"] for c in checks if c["kind"] != NUMERICAL):
            continue
        numerical = [c for c in checks if c["kind"] == NUMERICAL]
        consistent = bool(numerical) and all(c["passed"] for c in numerical)
        forward_entry = functions.get(forward)
        forward_ok = forward_entry is not None and all(c["passed"] for c in forward_entry["checks"])
        name_b, name_f = backward.rsplit(".", 1)[-1], forward.rsplit(".", 1)[-1]
        functions[backward]["notes"].append(forward_backward_note(name_f, name_b, forward_ok, consistent))


def forward_backward_note(forward: str, backward: str, forward_ok: bool, consistent: bool) -> str:
    """The one thing to tell a student whose backward disagrees with the expected gradients.

    >>> forward_backward_note("f", "g", forward_ok=True, consistent=False)
    'your f passes its checks, so the error is in g'
    """
    if forward_ok and consistent:
        return (f"{backward} agrees with the numerical gradient of your own {forward}, which passes its own "
                f"checks, but not with the expected gradients: your {forward} is wrong on inputs its checks do "
                f"not cover (those of this check); fix it there, then {backward} will follow")
    if forward_ok:
        return f"your {forward} passes its checks, so the error is in {backward}"
    if consistent:
        return (f"{backward} agrees with the numerical gradient of your own {forward} but not with the expected "
                f"gradients: the two are consistent with each other, so fix {forward} first")
    return f"both {forward} and {backward} are wrong: fix {forward} first, then {backward}"
