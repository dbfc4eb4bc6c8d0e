"""The trusted parent: plan the checks, run the student's library once in the sandbox, judge.

One sandbox run per student and assignment: every call (the checked cases and the nudged
forwards of the numerical gradients) goes into one plan. Whatever happens in the child (a
crash, a timeout, an OOM, a fork bomb, garbage), this module returns a complete result with
points lost and reasons; it raises only for the grader's own configuration errors.
"""

import tempfile
import traceback
from pathlib import Path

from .. import sandbox
from ..sandbox import Bind, SandboxLimits, SandboxResult
from .answers import Answers, Lost
from .checks import FORWARD_OF, NUMERICAL, Check, build_checks
from .diagnosis import Verdict
from .submission import SubmissionError, copy_library

CHILD = Path(__file__).with_name("child.py")
CHILD_INSIDE = "/grader/child.py"
IN_INSIDE, OUT_INSIDE = "/exchange/in", "/exchange/out"


def grade_submission(submission_dir: Path, tasks: list[str], seed: int, *, limits: SandboxLimits,
                     use_sandbox: bool, call_timeout: float = 2.0) -> dict:
    """Grade the ``cs231n_lib`` of one submission on ``tasks``; returns the result's body."""
    plan, checks = build_checks(tasks, seed, call_timeout=call_timeout)
    with tempfile.TemporaryDirectory(prefix="cs231n-grade-") as run_dir:
        run_dir = Path(run_dir)
        work, exchange_in, exchange_out = run_dir / "work", run_dir / "in", run_dir / "out"
        for folder in (work, exchange_in, exchange_out):
            folder.mkdir()
            folder.chmod(0o755)   # the sandbox's uid must read them (the writable ones get chowned)
        try:
            copy_library(Path(submission_dir), work)
        except SubmissionError as error:
            return _result(checks, {}, run=None, everything_lost=str(error))
        plan.write(exchange_in)
        for path in exchange_in.iterdir():
            path.chmod(0o644)
        run = _run_child(work, exchange_in, exchange_out, limits, use_sandbox)
        answers = Answers(exchange_out, plan.index_of(), {c.key: c.function for c in plan.calls},
                          not_run_reason=_not_run_reason(run))
        if answers.import_error is not None:
            return _result(checks, {}, run, everything_lost=_import_reason(answers, run))
        verdicts = {id(check): _judge(check, answers) for check in checks}
        return _result(checks, verdicts, run)


def _run_child(work: Path, exchange_in: Path, exchange_out: Path, limits: SandboxLimits,
               use_sandbox: bool) -> SandboxResult:
    if use_sandbox:
        binds = [Bind(work, sandbox.HOME_INSIDE, writable=True), Bind(exchange_in, IN_INSIDE),
                 Bind(exchange_out, OUT_INSIDE, writable=True), Bind(CHILD, CHILD_INSIDE)]
        command = [sandbox.python_executable(), "-I", "-S", CHILD_INSIDE, IN_INSIDE, OUT_INSIDE,
                   sandbox.HOME_INSIDE, sandbox.PYTHON_PACKAGES_INSIDE]
    else:
        binds = [Bind(work, str(work), writable=True)]
        packages = str(sandbox.python_runtime_binds()[1].host)
        command = [sandbox.python_executable(), "-I", "-S", str(CHILD), str(exchange_in), str(exchange_out),
                   str(work), packages]
    return sandbox.run_sandboxed(command, binds=binds, limits=limits, use_sandbox=use_sandbox)


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


def _import_reason(answers: Answers, run: SandboxResult) -> str:
    error = answers.import_error
    if error.status == "error":
        where = f" at {error.where}" if error.where else ""
        return f"importing your cs231n_lib failed{where}: {error.error_type}: {error.message}"
    return f"the grading process ended while importing your cs231n_lib ({run.describe()})"


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
    """Say which of a forward/backward pair is wrong, from the two kinds of backward check."""
    for backward, forward in FORWARD_OF.items():
        if backward not in functions:
            continue
        checks = functions[backward]["checks"]
        reference_ok = all(c["passed"] for c in checks if c["kind"] != NUMERICAL)
        numerical = [c for c in checks if c["kind"] == NUMERICAL]
        forward_entry = functions.get(forward)
        forward_ok = forward_entry is not None and all(c["passed"] for c in forward_entry["checks"])
        name_b, name_f = backward.rsplit(".", 1)[-1], forward.rsplit(".", 1)[-1]
        if not reference_ok and forward_ok:
            functions[backward]["notes"].append(
                f"your {name_f} passes its checks, so the error is in {name_b}")
        if not reference_ok and numerical and numerical[0]["passed"]:
            functions[backward]["notes"].append(
                f"{name_b} agrees with the numerical gradient of your own {name_f} but not with the expected "
                f"gradients: the two are consistent with each other, so fix {name_f} first")

