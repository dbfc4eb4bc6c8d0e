"""Read what the child wrote, trusting none of it.

The child shares its process with the student's code, so its output folder may hold
anything: lies in ``status.jsonl``, pickled objects, enormous or malformed ``.npz`` files,
missing files. Everything here is parsed with size caps, ``allow_pickle=False`` and strict
types; whatever does not fit becomes a :class:`Lost` with a reason, never an exception that
stops the grader.
"""

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np

MAX_STATUS_BYTES = 2 * 2**20
MAX_ARRAY_BYTES = 8 * 2**20   # graded arrays are tiny; anything near this is garbage


class Lost(Exception):
    """A check cannot give points; the message says why, in words for the student."""


@dataclasses.dataclass(frozen=True)
class CallOutcome:
    status: str                    # "ok", "error", "timeout", "not run"
    leaves: dict                   # path -> "array" / type name (status "ok")
    error_type: str = ""
    message: str = ""
    where: str | None = None


class Answers:
    """The student's answers to the plan's calls, loaded lazily and checked on access."""

    def __init__(self, out_dir: Path, call_index: dict[str, int], functions: dict[str, str],
                 not_run_reason: str):
        self._out_dir = Path(out_dir)
        self._call_index = call_index
        self._functions = functions
        self._not_run_reason = not_run_reason
        self.import_error: CallOutcome | None = None
        self._outcomes = self._read_status()
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def outcome(self, key: str) -> CallOutcome:
        return self._outcomes.get(self._call_index[key],
                                  CallOutcome(status="not run", leaves={}, message=self._not_run_reason))

    def returned(self, key: str) -> "Returned":
        """The value a call returned, or Lost saying why there is none."""
        outcome = self.outcome(key)
        function = self._functions[key].rsplit(".", 1)[-1]
        if outcome.status == "ok":
            return Returned(function, outcome.leaves, lambda: self._arrays(self._call_index[key]))
        if outcome.status == "timeout":
            raise Lost(f"{function} did not finish within its time limit ({outcome.message})")
        if outcome.status == "error":
            where = f" at {outcome.where}" if outcome.where else ""
            raise Lost(f"{function} raised {outcome.error_type}{where}: {outcome.message}")
        raise Lost(f"{function} was not run: {outcome.message}")

    def _arrays(self, index: int) -> dict[str, np.ndarray]:
        if index not in self._cache:
            self._cache[index] = _load_npz(self._out_dir / f"call-{index:04d}.npz")
        return self._cache[index]

    def _read_status(self) -> dict[int, CallOutcome]:
        path = self._out_dir / "status.jsonl"
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_STATUS_BYTES)
        except OSError:
            return {}
        outcomes: dict[int, CallOutcome] = {}
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            if entry.get("event") == "import" and entry.get("status") in ("started", "error"):
                self.import_error = _outcome_from(entry, "error" if entry["status"] == "error" else "started")
            elif entry.get("event") == "import" and entry.get("status") == "ok":
                self.import_error = None
            elif entry.get("event") == "call" and isinstance(entry.get("index"), int):
                status = entry.get("status")
                if status in ("ok", "error", "timeout"):
                    # The first line for a call counts: a student appending later lies cannot overwrite it.
                    outcomes.setdefault(entry["index"], _outcome_from(entry, status))
        return outcomes


class Returned:
    """One call's return value: its parts by path ("r.0" is the first of a returned tuple)."""

    def __init__(self, function: str, leaves: dict, load):
        self.function = function
        self._leaves = leaves
        self._load = load

    def array(self, path: str, expected_shape: tuple, label: str) -> np.ndarray:
        """The part at ``path`` as float64 of ``expected_shape``, finite; else Lost."""
        kind = self._leaves.get(path)
        if kind is None:
            raise Lost(f"{self.function} did not return {label} (expected an array of shape {expected_shape})")
        if kind != "array":
            raise Lost(f"{self.function} returned {_article(kind)} for {label}, expected a NumPy array "
                       f"of shape {expected_shape}")
        try:
            array = self._load().get(path)
        except Lost:
            raise
        except Exception as error:  # noqa: BLE001  any malformed file is the student's loss
            raise Lost(f"the output of {self.function} could not be read ({type(error).__name__})") from None
        if array is None:
            raise Lost(f"{self.function} did not return {label}")
        if array.dtype.kind not in "biuf":
            raise Lost(f"{self.function} returned {label} of dtype {array.dtype}, expected floating point")
        if tuple(array.shape) != tuple(expected_shape):
            raise Lost(f"{label} has shape {tuple(array.shape)}, expected {tuple(expected_shape)}")
        array = array.astype(np.float64)
        bad = ~np.isfinite(array)
        if bad.any():
            raise Lost(f"{label} holds {int(bad.sum())} NaN or infinite value(s) "
                       f"(first at index {tuple(int(i) for i in np.argwhere(bad)[0])})")
        return array

    def scalar(self, path: str, label: str) -> float:
        return float(self.array(path, (), label))

    def has(self, path: str) -> bool:
        return path in self._leaves


def _outcome_from(entry: dict, status: str) -> CallOutcome:
    leaves = entry.get("leaves") if isinstance(entry.get("leaves"), dict) else {}
    leaves = {str(k): str(v)[:60] for k, v in list(leaves.items())[:100]}
    where = entry.get("where")
    return CallOutcome(status=status, leaves=leaves, error_type=str(entry.get("error_type", ""))[:80],
                       message=str(entry.get("message", ""))[:700],
                       where=str(where)[:200] if where else None)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an untrusted .npz: no pickles, no member larger than the cap, no zip tricks."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.file_size > MAX_ARRAY_BYTES:
                    raise Lost(f"an output array is {info.file_size} bytes, more than any check needs")
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Lost:
        raise
    except FileNotFoundError:
        raise Lost("its output file is missing") from None
    except Exception as error:  # noqa: BLE001  pickles, truncation, bad headers: all the student's loss
        raise Lost(f"its output file is not a valid array file ({type(error).__name__})") from None


def _article(kind: str) -> str:
    if kind in ("NoneType",):
        return "None"
    return f"a {kind}" if kind[:1].lower() not in "aeiou" else f"an {kind}"
