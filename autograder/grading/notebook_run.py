"""Grade one student's notebook: their cells run in the sandbox, the grade cells run here.

The student's process (:class:`~autograder.grading.remote.StudentProcess`, notebook mode)
runs the student's cells in order, with the locked cells put back as released. Each grade
cell, at its place in that order, runs in this (trusted) process instead, from the
instructor's source, hidden tests included: the names it reads from the student's notebook
(what the solution cells define, the student's library modules) are fetched from the
student's process at that moment, as plain values or as :class:`Remote` objects. Every
expected value, every comparison and every point is computed here; the student's process
never receives a grade cell, a hidden test or an expected value, only the calls a check
makes (and their inputs).

How a grade cell scores (nbgrader's rules, applied by the grader that ran it):

- an exception out of the cell scores 0 (the checks before it keep their lines);
- a cell whose last expression is a number scores that number, within [0, points]
  (``score.earned`` of :class:`~cs231n_lib.notebook_utils.Score`);
- otherwise, full points: the grader ran every line and nothing failed.

A cell that could not run (the student's process died, the cell is missing from the
notebook) scores 0 with the reason.
"""

import ast
import builtins
import contextlib
import dataclasses
import importlib
import io
import sys
import threading
import time
import zlib

import numpy

from cs231n_lib import notebook_utils

from .. import files, python_ast
from ..notebook_spec import GradeCellSpec, NotebookSpec
from ..notebooks import NOTEBOOK_TEXT_STUB, cell_lines
from .remote import LIBRARY, Remote, StudentError, StudentProcess, StudentProcessGone, StudentTimeout

MAX_CELLS = 2000
MAX_CELL_CHARS = 2**20
MAX_DETAIL = 300
MAX_ANSWER_CHARS = 20_000
CELL_FILENAME = "<grade cell {}>"


@dataclasses.dataclass
class NotebookOutcome:
    cells: list[dict]                  # one scored entry per grade cell of the spec, in spec order
    outputs: dict[int, list[dict]]     # notebook cell index -> outputs (nbformat) for the instructor's copy
    sources: dict[int, str]            # notebook cell index -> the code that ran there (locked and grade cells restored)
    stopped: str | None = None         # why the run ended early, if it did


# ----------------------------------------------------------------------------- the student's library, seen from here

class StudentModule:
    """A module of the student's library (one that holds tasks): each attribute is fetched fresh."""

    def __init__(self, process: StudentProcess, module: str):
        self._process, self._module = process, module

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._process.library_attribute(self._module, name, timeout=Remote.time_left())

    def __repr__(self) -> str:
        return f"<the student's module {LIBRARY}.{self._module}>"


class LibraryView:
    """How the grader sees ``cs231n_lib``: the student's copy of the modules that hold tasks, the reference for the rest.

    A module that holds a task of any assignment is the student's file, so everything in it
    runs in the student's process (``layers``, ``fast_layers``...). Every other module
    (``gradient_check``, ``notebook_utils``, ``architecture``, ``solver``...) is the
    reference: the grader's own checking and expected values never run student code.
    """

    def __init__(self, process: StudentProcess, student_modules: frozenset[str], solution_names: frozenset[str]):
        self.process = process
        self.student_modules = student_modules      # dotted, relative: {"layers", "classifiers.cnn", ...}
        self.solution_names = solution_names        # what the notebook's solution cells define
        self.bindings: dict[str, tuple[str, str]] = {}   # name -> (module, attribute), fetched per grade cell

    def run_setup(self, code: str, namespace: dict) -> None:
        """Run one statement of the grader's setup (an import or a definition) into ``namespace``."""
        tree = python_ast.parse(code)
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    target = self.module(alias.name) if alias.asname else self.module(top)
                    namespace[alias.asname or top] = target
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                for alias in node.names:
                    self._bind(namespace, alias.asname or alias.name, node.module, alias.name)
            else:
                exec(compile(ast.Module([node], []), "<grader setup>", "exec"), namespace)

    def module(self, name: str):
        if name == "matplotlib.pyplot":
            return NO_FIGURES
        if name.split(".")[0] != LIBRARY:
            return importlib.import_module(name)
        relative = name.partition(".")[2]
        return StudentModule(self.process, relative) if relative in self.student_modules \
            else importlib.import_module(name)

    def refresh(self, namespace: dict, names) -> None:
        """Fetch the student's objects bound by the setup's imports, for one grade cell."""
        for name in names:
            if name in self.bindings:
                module, attribute = self.bindings[name]
                try:
                    namespace[name] = self.process.library_attribute(module, attribute, timeout=Remote.time_left())
                except StudentError:
                    namespace.pop(name, None)

    def _bind(self, namespace: dict, name: str, module: str, attribute: str) -> None:
        if f"{module}.{attribute}" == "matplotlib.pyplot":
            namespace[name] = NO_FIGURES
            return
        if module.split(".")[0] != LIBRARY:
            imported = importlib.import_module(module)
            namespace[name] = getattr(imported, attribute) if hasattr(imported, attribute) \
                else importlib.import_module(f"{module}.{attribute}")
            return
        reference = importlib.import_module(module)
        value = getattr(reference, attribute, None)
        if value is None or isinstance(value, type(sys)):
            namespace[name] = self.module(f"{module}.{attribute}" if value is None else value.__name__)
            return
        owner = getattr(value, "__module__", module) or module
        relative = owner.partition(".")[2]
        if owner.split(".")[0] == LIBRARY and relative in self.student_modules:
            self.bindings[name] = (relative, getattr(value, "__qualname__", attribute))
            namespace.pop(name, None)
        else:
            namespace[name] = value


class _NoFigures:
    """``matplotlib.pyplot`` as grade cells see it here: they may plot for the student, the grader draws nothing.

    (pyplot keeps global state, which threads grading two students at once would share.)
    """

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __getitem__(self, key):
        return self

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        return iter((self, self))   # fig, ax = plt.subplots()


NO_FIGURES = _NoFigures()


# ----------------------------------------------------------------------------- running a notebook

def run_notebook(spec: NotebookSpec, notebook: dict, process: StudentProcess, student_modules: frozenset[str],
                 cell_timeout: float) -> NotebookOutcome:
    """Run ``notebook`` (the student's, parsed) with ``process``; score every grade cell of ``spec``."""
    per_thread_numpy_random()
    library = LibraryView(process, student_modules, spec.solution_names)
    namespace = {"__name__": "__grader__", "__builtins__": builtins}
    for code in spec.setup:
        library.run_setup(code, namespace)
    grade_cells = {cell.grade_id: cell for cell in spec.grade_cells}
    scored: dict[str, dict] = {}
    outcome = NotebookOutcome(cells=[], outputs={}, sources={})
    output_room = files.LIMITS.graded_copy_chars    # what all the cells' outputs may keep, in characters

    def keep_outputs(index: int, outputs: list[dict]) -> None:
        nonlocal output_room
        outcome.outputs[index], used = bounded_outputs(outputs, min(files.LIMITS.cell_output_chars, output_room))
        output_room -= used

    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if index >= MAX_CELLS:
            outcome.stopped = f"the notebook has more than {MAX_CELLS} cells; the rest did not run"
            break
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grade_id = _grade_id(cell)
        if grade_id in grade_cells:
            if grade_id in scored:
                continue   # a copied grade cell runs once, where the first copy is
            spec_cell = grade_cells[grade_id]
            outcome.sources[index] = spec_cell.source
            if outcome.stopped:
                scored[grade_id] = lost(spec_cell, "error", outcome.stopped)
                continue
            scored[grade_id], outputs = run_grade_cell(spec_cell, namespace, library, cell_timeout)
            keep_outputs(index, outputs)
            continue
        if grade_id in spec.locked_ids and grade_id not in spec.locked_sources:
            continue
        code = spec.locked_sources.get(grade_id)
        if code is None:
            code = "\n".join(cell_lines(cell))[:MAX_CELL_CHARS]
        outcome.sources[index] = code
        if outcome.stopped:
            continue
        try:
            ran = process.request("run_cell", code=code, timeout=cell_timeout)
        except StudentProcessGone as error:
            outcome.stopped = f"the notebook stopped at cell {index}: {error}"
            continue
        except StudentError as error:
            keep_outputs(index, [_error_output(type(error).__name__, str(error))])
            continue
        keep_outputs(index, _outputs_of(ran, process.last_output))
    for spec_cell in spec.grade_cells:
        outcome.cells.append(scored.get(spec_cell.grade_id) or lost(
            spec_cell, "missing", outcome.stopped or "this grade cell is not in your notebook"))
    return outcome


def pending_manual_points(cells: list[dict]) -> float:
    """The points of written answers among ``cells`` that wait for a TA (neither 0 nor full yet)."""
    return sum(cell["points"] for cell in cells if cell.get("manual") and cell["score"] is None)


def answers_of(spec: NotebookSpec, notebook: dict | None) -> list[dict]:
    """One entry per written answer: the student's text, and no score until a TA gives one.

    As nbgrader's autograde does, an answer left as the release's placeholder (or deleted)
    scores 0 at once and waits for no one.
    """
    by_id = {}
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        grade_id = _grade_id(cell) if isinstance(cell, dict) else None
        if grade_id is not None:
            by_id.setdefault(grade_id, cell)
    entries = []
    for manual in spec.manual_cells:
        cell = by_id.get(manual.grade_id)
        text = "\n".join(cell_lines(cell))[:MAX_ANSWER_CHARS] if cell is not None else None
        entry = {"grade_id": manual.grade_id, "title": manual.title, "points": manual.points, "score": None,
                 "status": "needs manual grading", "reason": None, "checks": [], "manual": True, "answer": text}
        if text is None:
            entry.update(score=0.0, status="missing", reason="this answer cell is not in your notebook")
        elif text.strip() in ("", NOTEBOOK_TEXT_STUB):
            entry.update(score=0.0, status="not answered", reason="the answer cell still holds its placeholder")
        entries.append(entry)
    return entries


def run_grade_cell(cell: GradeCellSpec, namespace: dict, library: LibraryView,
                   cell_timeout: float) -> tuple[dict, list[dict]]:
    """Run one grade cell here; returns its scored entry and its outputs (for the instructor's copy)."""
    recorder = _Recorder(cell)
    namespace["Score"] = _recording_score(namespace.get("Score"), recorder)
    started = time.monotonic()
    Remote.set_deadline(started + cell_timeout)
    error, value = None, None
    grading = notebook_utils.AUTOGRADING.set(True)   # quick mode, and the data the student's process sees
    with _captured_stdout() as printed:
        try:
            # The student's global NumPy generator starts from the same state in every grading.
            library.process.request("seed", seed=zlib.crc32(cell.grade_id.encode()), timeout=Remote.time_left())
            library.refresh(namespace, cell.reads)
            _fetch_student_names(namespace, cell, library)
            value = _execute(cell, namespace)
        except Exception as raised:  # noqa: BLE001  the cell failed; which exception says how
            error = raised
        finally:
            Remote.set_deadline(None)
            notebook_utils.AUTOGRADING.reset(grading)
    outputs = [{"output_type": "stream", "name": "stdout", "text": printed.getvalue()}]
    entry = _score(cell, value, error, recorder)
    entry["seconds"] = round(time.monotonic() - started, 3)   # how close to the limit: for tuning --cell-timeout
    outputs.append({"output_type": "execute_result", "execution_count": None, "metadata": {},
                    "data": {"text/plain": f"{entry['score']:g} / {cell.points:g}"}})
    return entry, outputs


def _fetch_student_names(namespace: dict, cell: GradeCellSpec, library: LibraryView) -> None:
    for name in sorted(cell.reads & library.solution_names):
        try:
            namespace[name] = library.process.name(name, timeout=Remote.time_left())
        except StudentProcessGone:
            raise
        except StudentError:
            namespace.pop(name, None)   # as in the notebook: using it raises NameError


def _execute(cell: GradeCellSpec, namespace: dict):
    """Run the cell's code in ``namespace``; the value of its last expression, as IPython would show it."""
    filename = CELL_FILENAME.format(cell.grade_id)
    tree = python_ast.parse(cell.source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(python_ast.compile_tree(tree, filename, "exec"), namespace)
    if last is None:
        return None
    return eval(python_ast.compile_tree(ast.Expression(last.value), filename, "eval"), namespace)


def _score(cell: GradeCellSpec, value, error: Exception | None, recorder: "_Recorder") -> dict:
    checks = recorder.checks()
    if error is not None:
        timed_out = isinstance(error, StudentTimeout)
        reason = (f"the cell stopped: {type(error).__name__}: {error}" if isinstance(error, StudentError)
                  else f"the cell raised {type(error).__name__}")
        return _entry(cell, 0.0, "timeout" if timed_out else "error", reason, checks)
    earned = cell.points
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        earned = min(max(float(value), 0.0), cell.points) if value == value else 0.0
    if recorder.timed_out:
        return _entry(cell, earned, "timeout", "the cell reached its time limit; the checks after that failed", checks)
    status = "passed" if earned == cell.points else ("partial" if earned > 0 else "failed")
    return _entry(cell, earned, status, None, checks)


def lost(cell: GradeCellSpec, status: str, reason: str) -> dict:
    """The entry of a grade cell that could not run."""
    checks = [{"name": c.name, "hidden": c.hidden, "points": c.points, "passed": None, "detail": None}
              for c in cell.checks]
    return _entry(cell, 0.0, status, reason, checks)


def _entry(cell: GradeCellSpec, score: float, status: str, reason: str | None, checks: list[dict]) -> dict:
    return {"grade_id": cell.grade_id, "title": cell.title, "points": cell.points, "score": float(score),
            "status": status, "reason": reason, "checks": checks}


# ----------------------------------------------------------------------------- checks of a grade cell

class _Recorder:
    """The checks one grade cell ran, as the grader saw them; hidden when their line is a hidden test."""

    def __init__(self, cell: GradeCellSpec):
        self.cell = cell
        self.filename = CELL_FILENAME.format(cell.grade_id)
        self.ran: list[dict] = []
        self.line: int | None = None
        self.timed_out = False

    def started(self) -> None:
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back
        self.line = frame.f_lineno if frame is not None else None

    def finished(self, description, points, error) -> None:
        hidden = self.line in self.cell.hidden_lines
        self.timed_out = self.timed_out or isinstance(error, StudentTimeout)
        detail = None
        if error is not None and not hidden:
            detail = f"{type(error).__name__}: {error}"[:MAX_DETAIL]
        self.ran.append({"name": str(description)[:200], "hidden": hidden, "points": float(points),
                         "passed": error is None, "detail": detail})

    def checks(self) -> list[dict]:
        """The checks that ran, then those the cell names literally but never reached."""
        seen = {check["name"] for check in self.ran}
        return self.ran + [{"name": c.name, "hidden": c.hidden, "points": c.points, "passed": None, "detail": None}
                           for c in self.cell.checks if c.name not in seen]


def _recording_score(base, recorder: _Recorder):
    """The setup's ``Score``, reporting each check to ``recorder`` as well as printing it."""
    if not isinstance(base, type):
        return base

    class GradedScore(base):
        def check(self, description, points):
            recorder.started()
            return super().check(description, points)

        def report(self, description, points, error):
            super().report(description, points, error)
            recorder.finished(description, points, error)

    GradedScore.__name__ = GradedScore.__qualname__ = base.__name__
    return GradedScore


# ----------------------------------------------------------------------------- what the cells printed

class _ThreadStdout(io.TextIOBase):
    """``sys.stdout`` that writes to the current thread's capture, if it has one (graders run in threads)."""

    def __init__(self, fallback):
        self.fallback = fallback
        self.local = threading.local()

    def writable(self):
        return True

    def write(self, text):
        sink = getattr(self.local, "sink", None)
        return (sink if sink is not None else self.fallback).write(text)

    def flush(self):
        sink = getattr(self.local, "sink", None)
        (sink if sink is not None else self.fallback).flush()


class _FirstCharacters:
    """What a grade cell prints: the first ``limit`` characters kept, the rest only counted
    (a check may print what the student's code returned, in a loop)."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def write(self, text: str) -> int:
        piece = text[:max(0, self.limit - self.kept)]
        if piece:
            self.parts.append(piece)
            self.kept += len(piece)
        self.dropped += len(text) - len(piece)
        return len(text)

    def flush(self) -> None:
        pass

    def getvalue(self) -> str:
        return "".join(self.parts) + (f"\n[... {self.dropped} more characters]" if self.dropped else "")


_install_lock = threading.Lock()


@contextlib.contextmanager
def _captured_stdout():
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadStdout):
            sys.stdout = _ThreadStdout(sys.stdout)
        stream = sys.stdout
    buffer = _FirstCharacters(files.LIMITS.cell_output_chars)
    stream.local.sink = buffer
    try:
        yield buffer
    finally:
        stream.local.sink = None


# ----------------------------------------------------------------------------- NumPy's global generator, per thread

class _ThreadRandomState(threading.local):
    """Each grading thread's own legacy generator (the main thread keeps NumPy's own)."""

    def __init__(self):
        self.state = _ORIGINAL_RANDOM if threading.current_thread() is threading.main_thread() \
            else numpy.random.RandomState()


_ORIGINAL_RANDOM = numpy.random.mtrand._rand
_LEGACY_NAMES = [name for name in dir(_ORIGINAL_RANDOM)
                 if not name.startswith("_") and callable(getattr(_ORIGINAL_RANDOM, name))
                 and hasattr(numpy.random, name)]
_random_installed = False


def per_thread_numpy_random() -> None:
    """Make ``np.random.seed``, ``randn``, ``choice``... per thread in this process (installed once).

    Grade cells seed NumPy's global generator (``np.random.seed(231)``) and the reference code they
    call (the Solver's minibatches) draws from it; with students graded in threads of one process,
    one student's draws would change another's. Each thread gets its own generator instead, so a
    student's grade never depends on who else was being graded.
    """
    global _random_installed
    with _install_lock:
        if _random_installed:
            return
        local = _ThreadRandomState()
        for name in _LEGACY_NAMES:
            def dispatch(*args, _name=name, **kwargs):
                return getattr(local.state, _name)(*args, **kwargs)
            dispatch.__name__ = dispatch.__qualname__ = name
            dispatch.__doc__ = getattr(_ORIGINAL_RANDOM, name).__doc__
            setattr(numpy.random, name, dispatch)
        _random_installed = True


# ----------------------------------------------------------------------------- outputs for the instructor's copy

def _grade_id(cell: dict) -> str | None:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def _outputs_of(ran, printed: tuple[str, str]) -> list[dict]:
    outputs = []
    for name, text in zip(("stdout", "stderr"), printed):
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": text})
    if isinstance(ran, dict):
        for display in ran.get("displays") or []:
            if isinstance(display, dict):
                data = {k: v for k, v in display.items() if k in ("text/plain", "image/png") and isinstance(v, str)}
                if data:
                    kind = "execute_result" if display.get("result") else "display_data"
                    output = {"output_type": kind, "data": data, "metadata": {}}
                    if kind == "execute_result":
                        output["execution_count"] = None
                    outputs.append(output)
        error = ran.get("error")
        if isinstance(error, dict):
            outputs.append(_error_output(str(error.get("type")), str(error.get("message"))))
    return outputs


def _error_output(name: str, message: str) -> dict:
    return {"output_type": "error", "ename": name[:80], "evalue": message[:2000], "traceback": []}


def bounded_outputs(outputs: list[dict], room: int) -> tuple[list[dict], int]:
    """``outputs`` (nbformat, text as str) within ``room`` characters, and the characters they keep.

    Text beyond the room is cut, an image that does not fit whole is left out, and a note says
    how much was left out: whatever a cell prints or displays, the graded copy stays bounded
    (``LIMITS.cell_output_chars`` per cell, ``LIMITS.graded_copy_chars`` per notebook).
    """
    kept, used, left_out = [], 0, 0
    room = max(0, room)
    for output in outputs:
        output = dict(output)
        if output.get("output_type") in ("execute_result", "display_data"):
            data = {}
            for kind, value in (output.get("data") or {}).items():
                size = len(value) if isinstance(value, str) else 0
                if used + size <= room:
                    data[kind], used = value, used + size
                elif kind == "text/plain":
                    data[kind], left_out, used = value[:room - used], left_out + size - (room - used), room
                else:
                    left_out += size
            if not data:
                continue
            output["data"] = data
        else:
            for field in ("text", "ename", "evalue"):
                value = output.get(field)
                if isinstance(value, str):
                    fits = value[:room - used]
                    left_out += len(value) - len(fits)
                    output[field], used = fits, used + len(fits)
            if isinstance(output.get("traceback"), list):
                lines = []
                for line in map(str, output["traceback"]):
                    lines.append(line[:room - used])
                    left_out += len(line) - len(lines[-1])
                    used += len(lines[-1])
                output["traceback"] = lines
        kept.append(output)
    if left_out:
        kept.append({"output_type": "stream", "name": "stdout",
                     "text": f"\n[... output truncated: {left_out} more characters left out; the graded copy keeps at "
                             f"most {files.LIMITS.cell_output_chars} per cell and {files.LIMITS.graded_copy_chars} "
                             f"per notebook]\n"})
    return kept, used
