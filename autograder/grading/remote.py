"""The grader's side of a student's process: start it in the sandbox, send requests, read answers.

A :class:`StudentProcess` runs ``student_process.py`` in a sandbox with the student's
library (and, for a notebook, an IPython shell). Everything it answers is untrusted data,
decoded by ``wire.py`` within limits; only plain values cross (numbers, strings, NumPy
arrays, tuples, lists, dicts). Every other object stays in the student's process and is
seen here as a :class:`Remote`: calling it, reading or writing its attributes or items sends
a request. Nothing of the grader ever crosses the other way but plain values, library
objects sent by value, and handles the student's process made itself: the student's code
cannot reach into the grader.

Every request has a deadline. The student's process enforces it with an alarm inside the
student's code (a timed-out call is reported and the process lives on); if no answer comes
within a grace period after it, or the answer breaks the protocol, the process is killed and
every later request fails at once with the reason. Each failure reaches the caller as a
:class:`StudentError`, an ``Exception`` whose class name is the student's exception's name,
so a grade cell's ``except Exception`` and its failure messages read as in the notebook.
"""

import dataclasses
import gc
import importlib
import os
import subprocess
import threading
import time
import weakref
from pathlib import Path

import cs231n_lib

from .. import files, sandbox
from ..course import LIBRARY
from ..sandbox import Bind, SandboxLimits, SandboxResult
from . import wire

PROGRAM = Path(__file__).with_name("student_process.py")
GRADER_INSIDE = "/grader"
REFERENCE_ROOT = Path(cs231n_lib.__file__).resolve().parent
if cs231n_lib.__name__ != LIBRARY:
    raise ImportError(f"the reference library is {cs231n_lib.__name__}, the kit grades {LIBRARY}")
GRACE_SECONDS = 10.0          # after a request's own deadline, before the process is killed (a loaded machine is slow)
START_SECONDS = 60.0          # to start Python, NumPy and (notebook mode) IPython in the sandbox


class StudentError(Exception):
    """The student's code failed: raised an exception, ran out of time, or its process is gone."""

    def __init__(self, kind: str, message: str, where: str | None = None):
        super().__init__(message + (f" (at {where})" if where else ""))
        self.kind, self.where = kind, where


class StudentTimeout(StudentError):
    """A request did not finish within its time."""


class StudentProcessGone(StudentError):
    """The student's process was killed or broke the protocol; nothing more can be asked of it."""


class StudentProcessNotStarted(StudentProcessGone):
    """The student's process did not start; ``timed_out``: it did not answer within ``START_SECONDS``
    (a loaded machine can cause that, so it counts as a time limit: graded again alone)."""

    def __init__(self, kind: str, message: str, timed_out: bool):
        super().__init__(kind, message)
        self.timed_out = timed_out


_error_classes: dict[str, type] = {}
_error_classes_lock = threading.Lock()


def student_error(description: dict) -> StudentError:
    """The exception to raise here for an error the student's process reported."""
    if description.get("timeout"):
        return StudentTimeout("TimeoutError", "the time limit was reached", description.get("where"))
    name = str(description.get("type") or "Error")
    if not name.isidentifier() or len(name) > 60:
        name = "StudentError"
    with _error_classes_lock:
        cls = _error_classes.get(name)
        if cls is None:
            # NotImplementedError keeps its meaning: a grade cell lets an unfinished function through.
            bases = (StudentError, NotImplementedError) if name == "NotImplementedError" else (StudentError,)
            cls = _error_classes[name] = type(name, bases, {"__module__": __name__})
    return cls(name, str(description.get("message", ""))[:2000], description.get("where"))


class HeldAnswers:
    """The bytes of a student's answers this grader holds now, within a budget (``LIMITS.held_answer_bytes``).

    Each answer's arrays are views of its payload; the payload counts until the last of them is
    dropped (a finalizer gives its bytes back). An answer that does not fit beside those still
    held is read, dropped and refused: the student's error, costing the check that asked, never
    the grader's memory (``wire.FrameReader`` asks :meth:`admit` before reading a payload).
    """

    def __init__(self, budget: int | None = None):
        self.budget = files.LIMITS.held_answer_bytes if budget is None else budget
        self.held = 0
        self.peak = 0
        self._lock = threading.Lock()

    def admit(self, nbytes: int) -> str | None:
        if self.held + nbytes > self.budget:
            gc.collect()   # answers kept only by reference cycles no one can reach any more
        if self.held + nbytes <= self.budget:
            return None
        return (f"an answer of {nbytes / 2**20:.1f} MiB does not fit beside the {self.held / 2**20:.1f} MiB of your "
                f"answers still in use: the grader holds at most {self.budget / 2**20:g} MiB of one student's "
                f"answers at once")

    def hold(self, buffer) -> None:
        with self._lock:
            self.held += buffer.nbytes
            self.peak = max(self.peak, self.held)
        weakref.finalize(buffer, self._release, buffer.nbytes)

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self.held -= nbytes


class StudentProcess:
    """One sandboxed process of one student's code; see the module docstring.

    ``home`` is a host folder holding the student's ``cs231n_lib`` (it is bound read-only;
    the process's home is a private tmpfs). ``mode`` is ``"library"`` or ``"notebook"``.
    """

    def __init__(self, home: Path, mode: str, *, limits: SandboxLimits, use_sandbox: bool,
                 env: dict[str, str] | None = None, limits_of_answers: wire.Limits = wire.Limits(),
                 held_budget: int | None = None):
        self.mode = mode
        self.reason_gone: str | None = None
        self.unanswered = False      # stopped because a reply did not come within its time limit
        self.result: SandboxResult | None = None
        self._next_id = 0
        packages = str(sandbox.python_runtime_binds()[1].host)
        if use_sandbox:
            library = Path(home) / LIBRARY
            binds = [Bind(PROGRAM.parent, GRADER_INSIDE),
                     Bind(library, f"{sandbox.HOME_INSIDE}/{LIBRARY}")]
            command = [sandbox.python_executable(), "-I", "-S", f"{GRADER_INSIDE}/{PROGRAM.name}",
                       sandbox.PYTHON_PACKAGES_INSIDE, sandbox.HOME_INSIDE, mode, LIBRARY]
            self._process = sandbox.start_sandboxed(command, binds=binds, limits=limits, env=env,
                                                    use_sandbox=True, scratch_home=True)
        else:
            command = [sandbox.python_executable(), "-I", "-S", str(PROGRAM), packages, str(home), mode, LIBRARY]
            self._process = sandbox.start_sandboxed(command, binds=[Bind(Path(home), str(home), writable=True)],
                                                    limits=limits, env=dict(env or {}, HOME=str(home)),
                                                    use_sandbox=False)
        self.held = HeldAnswers(held_budget)
        self._reader = wire.FrameReader(self._process.stdout.fileno(), limits_of_answers, budget=self.held)
        os.set_blocking(self._process.stdin.fileno(), False)   # so that every write has a deadline
        self._lock = threading.Lock()
        try:
            self.request("hello", timeout=START_SECONDS)
        except StudentError as error:
            self.finish()
            raise StudentProcessNotStarted(error.kind, str(error), timed_out=self.unanswered) from None
        except BaseException:
            self.finish()
            raise

    # ------------------------------------------------------------------ requests

    def request(self, op: str, *, timeout: float, **fields):
        """Send one request and return its decoded value; raises :class:`StudentError`."""
        if self.reason_gone is not None:
            raise StudentProcessGone("Gone", self.reason_gone)
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            encoder = wire.Encoder(object_by_value=_library_object_state, handle_of=self._reference_to)
            message = {"op": op, "id": request_id, "timeout": timeout}
            for name, value in fields.items():
                message[name] = encoder.node(value) if name in ("args", "kwargs", "key", "value") else value
            deadline = min(time.monotonic() + timeout + GRACE_SECONDS, self._process.deadline)
            try:
                wire.write_all(self._process.stdin.fileno(), wire.encode_frame(message, encoder.payload), deadline)
            except TimeoutError:
                self._stop_at_deadline(f"it stopped reading its requests for {timeout + GRACE_SECONDS:g} s")
            except OSError as error:
                self._gone(f"its process ended or broke the protocol ({error})")
                raise StudentProcessGone("Gone", self.reason_gone) from None
            try:
                reply, payload = self._reader.read(deadline)
            except TimeoutError:
                self._stop_at_deadline(f"it did not answer within {timeout + GRACE_SECONDS:g} s")
            except wire.PayloadRefused as refused:   # read and dropped: the student's error, this answer lost
                if refused.message.get("id") != request_id:
                    self._gone("its process answered out of turn")
                    raise StudentProcessGone("Gone", self.reason_gone) from None
                raise student_error({"type": "AnswerTooLarge", "message": str(refused)}) from None
            except (OSError, EOFError, wire.WireError) as error:
                self._gone(f"its process ended or broke the protocol ({error})")
                raise StudentProcessGone("Gone", self.reason_gone) from None
            if reply.get("id") != request_id or not isinstance(reply.get("ok"), bool):
                self._gone("its process answered out of turn")
                raise StudentProcessGone("Gone", self.reason_gone)
            self.last_output = (_text(reply.get("stdout")), _text(reply.get("stderr")))
            if not reply["ok"]:
                error = reply.get("error")
                raise student_error(error if isinstance(error, dict) else {})
            try:
                return wire.Decoder(payload, self._reader.limits, handle=self._remote).value(reply.get("value"))
            except wire.WireError as error:
                self._gone(f"its answer could not be read ({error})")
                raise StudentProcessGone("Gone", self.reason_gone) from None

    def _stop_at_deadline(self, why: str) -> None:
        """A request's deadline passed (its own, or the process's wall clock): kill, then raise."""
        self.unanswered = True
        overall = time.monotonic() >= self._process.deadline
        self._gone(f"the process ran past its wall-clock limit of {self._process.limits.wall_seconds:g} s"
                   if overall else why, timed_out=overall)
        raise StudentProcessGone("Gone", self.reason_gone) from None

    def _reference_to(self, value) -> dict:
        """A Remote of this process goes back as its handle; nothing else of the grader can be sent."""
        if isinstance(value, Remote) and value._process is self:
            return {"r": value._handle}
        raise wire.WireError(f"cannot send a {type(value).__name__} to the student's code: only numbers, "
                             f"strings, NumPy arrays, tuples, lists, dicts and library objects cross")

    def _remote(self, node: dict) -> "Remote":
        handle, type_name, is_callable = node.get("h"), node.get("ty"), node.get("c")
        if not isinstance(handle, int) or not isinstance(type_name, str) or not isinstance(is_callable, bool):
            raise wire.WireError("a malformed handle")
        return Remote(self, handle, type_name[:200], is_callable)

    def _gone(self, reason: str, timed_out: bool = False) -> None:
        self.reason_gone = f"the student's process was stopped: {reason}"
        self.finish(timed_out=timed_out)

    def finish(self, timed_out: bool = False) -> SandboxResult:
        """End the process (asked to exit if it still answers, then killed) and say how it ended."""
        if self.result is None:
            if self.reason_gone is None:
                try:
                    self.request("exit", timeout=2.0)
                    self._process.process.wait(timeout=5.0)
                except (StudentError, subprocess.TimeoutExpired):
                    pass
            self.result = self._process.finish(timed_out=timed_out)
            if self.reason_gone is None:
                self.reason_gone = "the student's process has finished"
        return self.result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()

    # ------------------------------------------------------------------ the student's objects

    def library_attribute(self, module: str, attr: str = "", timeout: float = 10.0):
        """``cs231n_lib.<module>.<attr>`` as the student's library has it (a Remote or a value)."""
        return self.request("import", module=module, attr=attr, timeout=timeout)

    def name(self, name: str, timeout: float = 10.0):
        """What ``name`` is bound to in the student's notebook now."""
        return self.request("name", name=name, timeout=timeout)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


class Remote:
    """An object of the student's process; every use is a request (see the module docstring).

    Reading an attribute or an item gives a copy of a plain value (arrays read-only), or
    another Remote for a dict, a list or any other object (so ``model.params[k] = w`` writes
    the student's dict); calling gives copies of whatever plain values come back.
    ``Remote.timeout`` bounds each request (the grade cell runner sets its cell's deadline).
    """

    __slots__ = ("_process", "_handle", "_type_name", "_callable")
    deadline: float | None = None          # set per thread by the runner, see time_left()
    _local = threading.local()

    def __init__(self, process: StudentProcess, handle: int, type_name: str, is_callable: bool):
        object.__setattr__(self, "_process", process)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_callable", is_callable)

    @classmethod
    def set_deadline(cls, deadline: float | None) -> None:
        """Requests made by this thread must finish by ``deadline`` (time.monotonic), None: 60 s each."""
        cls._local.deadline = deadline

    @classmethod
    def time_left(cls) -> float:
        deadline = getattr(cls._local, "deadline", None)
        if deadline is None:
            return 60.0
        left = deadline - time.monotonic()
        if left <= 0:
            raise StudentTimeout("TimeoutError", "the cell's time limit was reached")
        return left

    def _ask(self, op: str, **fields):
        return self._process.request(op, ref=self._handle, timeout=self.time_left(), **fields)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args=list(args), kwargs=kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)   # copy, pickle and NumPy probe these; the student's object has none here
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value) -> None:
        self._ask("setattr", name=name, value=value)

    def __getitem__(self, key):
        return self._ask("getitem", key=key)

    def __setitem__(self, key, value) -> None:
        self._ask("setitem", key=key, value=value)

    def __len__(self) -> int:
        return self._ask("len")

    def __iter__(self):
        return iter(self._ask("list"))

    def __contains__(self, item) -> bool:
        return item in self._ask("list")

    def __instancecheck__(self, instance) -> bool:
        """``isinstance(x, remote_class)``: asked of the student's process."""
        if not isinstance(instance, Remote) or instance._process is not self._process:
            return False
        return self._process.request("isinstance", ref=instance._handle, cls=self._handle, timeout=self.time_left())

    @property
    def __class__(self):
        """The reference library's class of the same name, so ``isinstance(x, ConvNet)`` reads as usual."""
        return reference_class(self._type_name) or Remote

    def __repr__(self) -> str:
        return f"<the student's {self._type_name}>"


def reference_class(type_name: str):
    """The class ``cs231n_lib.<module>.<Name>`` of the reference library, or None."""
    module_name, _, qualname = type_name.rpartition(".")
    if module_name.split(".")[0] != LIBRARY or not module_name.replace(".", "").replace("_", "").isalnum():
        return None
    relative = Path(*module_name.split(".")[1:])
    if not ((REFERENCE_ROOT / relative).with_suffix(".py").is_file() or (REFERENCE_ROOT / relative).is_dir()):
        return None
    try:
        found = getattr(importlib.import_module(module_name), qualname, None)
    except ImportError:
        return None
    return found if isinstance(found, type) else None


@dataclasses.dataclass(frozen=True)
class ByValue:
    """An object to build in the student's process without ``__init__``: a class of their library
    (``"cs231n_lib.classifiers.cnn:ThreeLayerConvNet"``) and the attributes to give it."""
    class_path: str
    state: dict


def _library_object_state(value):
    """(``module:qualname``, state) of an object sent by value (a ByValue, or a reference-library object), else None."""
    if isinstance(value, ByValue):
        return value.class_path, value.state
    if isinstance(value, Remote):
        return None
    cls = type(value)
    module = getattr(cls, "__module__", "")
    if module.split(".")[0] != LIBRARY or not hasattr(value, "__dict__") or callable(value):
        return None
    return f"{module}:{cls.__qualname__}", dict(vars(value))
