"""What the student's library answered, trusting none of it.

The student's process may answer anything: ``None`` where an array belongs, arrays of the
wrong shape or dtype, NaNs, enormous arrays, objects that stay in its process. Each answer
is checked here when a judge asks for it; whatever does not fit becomes a :class:`Lost`
with a reason in words for the student, never an exception that stops the grader.
"""

import dataclasses

import numpy as np

from cs231n_lib.gradient_check import non_finite_problem

from ..remote import Remote

MAX_ARRAY_BYTES = 8 * 2**20   # graded arrays are tiny; anything near this is garbage


class Lost(Exception):
    """A check cannot give points; the message says why, in words for the student."""


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    status: str                    # "ok", "error", "timeout", "not run"
    value: object = None           # what the call returned (status "ok")
    error_type: str = ""
    message: str = ""
    where: str | None = None


class Answers:
    """The student's answers to the plan's calls (``outcomes`` by call index)."""

    def __init__(self, outcomes: dict[int, CallOutcome], call_index: dict[str, int], functions: dict[str, str],
                 not_run_reason: str):
        self._outcomes = outcomes
        self._call_index = call_index
        self._functions = functions
        self._not_run_reason = not_run_reason

    def outcome(self, key: str) -> CallOutcome:
        return self._outcomes.get(self._call_index[key], CallOutcome(status="not run", message=self._not_run_reason))

    def returned(self, key: str) -> "Returned":
        """The value a call returned, or Lost saying why there is none."""
        outcome = self.outcome(key)
        function = self._functions[key].rsplit(".", 1)[-1]
        if outcome.status == "ok":
            return Returned(function, outcome.value)
        if outcome.status == "timeout":
            raise Lost(f"{function} did not finish within its time limit ({outcome.message})")
        if outcome.status == "error":
            where = f" at {outcome.where}" if outcome.where else ""
            raise Lost(f"{function} raised {outcome.error_type}{where}: {outcome.message}")
        raise Lost(f"{function} was not run: {outcome.message}")


class Returned:
    """One call's return value; its parts are named by paths: "r" is the value, "r.0" the first
    item of a returned tuple, "r.W1" the entry "W1" of a returned dict."""

    def __init__(self, function: str, value):
        self.function = function
        self._value = value

    def _at(self, path: str):
        """(found, part) at ``path``."""
        parts = path.split(".")
        if parts[0] != "r":
            raise ValueError(f"a path starts with 'r', got {path!r}")
        value = self._value
        for part in parts[1:]:
            if isinstance(value, (tuple, list)) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                return False, None
        return True, value

    def array(self, path: str, expected_shape: tuple, label: str) -> np.ndarray:
        """The part at ``path`` as float64 of ``expected_shape``, finite; else Lost."""
        found, value = self._at(path)
        if not found:
            raise Lost(f"{self.function} did not return {label} (expected an array of shape {expected_shape})")
        kind = _kind(value)
        if kind != "array":
            raise Lost(f"{self.function} returned {_article(kind)} for {label}, expected a NumPy array "
                       f"of shape {expected_shape}")
        array = np.asarray(value)
        if array.nbytes > MAX_ARRAY_BYTES:
            raise Lost(f"{label} is {array.nbytes} bytes: too large, more than any check needs")
        if array.dtype.kind not in "biuf":
            raise Lost(f"{self.function} returned {label} of dtype {array.dtype}, expected floating point")
        if tuple(array.shape) != tuple(expected_shape):
            raise Lost(f"{label} has shape {tuple(array.shape)}, expected {tuple(expected_shape)}")
        array = array.astype(np.float64)
        problem = non_finite_problem(label, array)
        if problem:
            raise Lost(f"{problem}: a NaN or an infinity is never right")
        return array

    def has(self, path: str) -> bool:
        return self._at(path)[0]


def _kind(value) -> str:
    """"array" for numbers and numeric arrays, else what the value is, in words."""
    if isinstance(value, Remote):
        return object.__getattribute__(value, "_type_name").rsplit(".", 1)[-1]
    if isinstance(value, (np.ndarray, np.generic)) and not isinstance(value, np.bool_):
        return "array"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "array"
    return type(value).__name__


def _article(kind: str) -> str:
    if kind in ("NoneType",):
        return "None"
    return f"a {kind}" if kind[:1].lower() not in "aeiou" else f"an {kind}"
