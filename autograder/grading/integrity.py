"""Integrity findings of one submission: static (AST of notebook cells and .py files) and recorded.

Static rules, on the code a student wrote (solution cells, added cells, library files that
differ from the release):

=========  =====  ===========================================================================
kind       hold   what
=========  =====  ===========================================================================
patch      yes    assigns to or deletes an attribute of NumPy, ``builtins``, ``sys``, an
                  imported module or a grader name (``Score``, ``assert_close``...);
                  ``setattr``/``delattr`` on them; ``sys.modules[...] = ``; rebinds a grader
                  name, ``__import__`` or ``AssertionError``
dynamic    yes    ``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, ``ctypes``,
                  frame access (``sys._getframe``, ``inspect.currentframe``)
reference  yes    changes ``sys.path``; imports ``solutions``/``autograder``; names a path into
                  the kit (``solutions/``, ``course/``, the repository folder)
hook       yes    hooks IPython or the interpreter: input or AST transformers, ``events.register``,
                  ``register_magic_function``, ``set_custom_exc``, ``sys.settrace``/``setprofile``,
                  ``sys.addaudithook``, ``sys.excepthook``/``displayhook``
process    yes    starts, signals or detaches processes: ``os.fork``/``setsid``/``kill``/``system``/
                  ``exec*``, ``signal``, ``subprocess``, ``multiprocessing``, ``pty``
files      yes    looks around the file system: ``os.walk``/``scandir``/``listdir``, ``glob``,
                  ``Path.rglob``/``glob``/``iterdir``, ``os.path.expanduser``
outside    no     names an absolute path or a ``..`` path
locked     no     edited or deleted a locked cell (restored for grading; still worth a look)
=========  =====  ===========================================================================

No finding can change a score: grade cells run in the grader, which computes every verdict
itself (see ``docs/autograder-sandbox.md``). "hold" findings are what a cheat would try; they
keep the notebook part from counting (its cells score 0, "held for review", the score it would
have had kept beside) until an instructor has looked. The library part always stands.
Recorded findings come from the grading run (cells or runs stopped by a limit) and from the
checkpoint part: ``accuracy`` (no hold) when the validation accuracy the student's checkpoint
reports is more than the assignment's ``honesty_margin`` from what the grader measured on the
held-out set (the points come from the measurement alone; a large gap is worth a question).
"""

import ast
import dataclasses
import re
from pathlib import Path

import nbformat
from nbgrader.utils import compute_checksum

from .. import python_ast
from ..course import REPO_ROOT
from ..files import LIMITS, UnsafeFileError, read_regular_file, regular_files
from ..notebooks import cell_lines, parse_submitted_notebook

HOLD_KINDS = ("patch", "dynamic", "reference", "hook", "process", "files")
GRADER_NAMES = {"Score", "score", "assert_close", "check_gradient", "check_model_gradients", "check_model_loss",
                "rel_error", "report_error",
                "eval_numerical_gradient_array", "eval_numerical_gradient", "notebook_utils", "gradient_check",
                "quick_mode", "show_library_location"}
MODULE_NAMES = {"np", "numpy", "xp", "builtins", "__builtins__", "sys", "os", "cs231n_lib", "layers", "math"}
REBIND_FORBIDDEN = {"__import__", "AssertionError", "__builtins__"}
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "_getframe", "currentframe", "get_referrers", "import_module"}
DYNAMIC_MODULES = {"importlib", "ctypes", "inspect", "gc"}
REFERENCE_MODULES = {"solutions", "autograder", "course"}
HOOK_ATTRIBUTES = {"input_transformers_post", "input_transformers_cleanup", "ast_transformers",
                   "register_magic_function", "register_magics", "set_custom_exc", "settrace", "setprofile",
                   "addaudithook", "excepthook", "displayhook", "set_hook", "input_splitter"}
PROCESS_MODULES = {"subprocess", "multiprocessing", "signal", "pty", "pexpect"}
PROCESS_CALLS = {"fork", "forkpty", "setsid", "setpgid", "setpgrp", "kill", "killpg", "system", "popen", "execv",
                 "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv", "spawnve",
                 "spawnvp", "spawnl", "spawnlp", "posix_spawn", "posix_spawnp", "pidfd_open", "tcsetpgrp"}
FILE_WALKS = {"walk", "fwalk", "scandir", "listdir", "expanduser", "rglob", "iterdir", "iglob"}
KIT_PATH = re.compile(r"(^|/)(solutions|course|autograder|\.venv)(/|$)|gradebook\.db|\.grading_secret")
KIT_ROOT = str(REPO_ROOT)   # wherever this kit is checked out: nothing a submission should name
ABSOLUTE_PATH = re.compile(r"^(/[\w.~-]|~/)")
PARENT_PATH = re.compile(r"(^|[/\\])\.\.([/\\]|$)")


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str
    where: str     # "ConvPool.ipynb cell 5 line 3" or "cs231n_lib/layers.py line 2"
    what: str

    @property
    def hold(self) -> bool:
        return self.kind in HOLD_KINDS

    def as_dict(self) -> dict:
        return {"kind": self.kind, "hold": self.hold, "where": self.where, "what": self.what}


def scan_submission(submission: Path, release: Path, notebook_name: str) -> list[Finding]:
    """Static findings of one submission folder against the public release folder."""
    findings = []
    findings += _scan_notebook(Path(submission), Path(release), notebook_name)
    findings += _scan_python_files(Path(submission), Path(release))
    return findings


def recorded_findings(result: dict | None) -> list[Finding]:
    """What the grading run recorded: runs stopped by a limit."""
    if not result:
        return []
    findings = []
    notebook = result.get("notebook") or {}
    run = notebook.get("run") or {}
    if run.get("status") in ("timeout", "stopped"):
        findings.append(Finding("limits", "notebook grading run", str(run.get("description"))))
    timed_out = [cell["grade_id"] for cell in notebook.get("cells", []) if cell.get("status") == "timeout"]
    if timed_out:
        findings.append(Finding("limits", "notebook grading run",
                                f"{len(timed_out)} grade cell(s) reached the time limit: {', '.join(timed_out[:5])}"))
    library_run = ((result.get("library") or {}).get("run") or {})
    if library_run.get("status") not in (None, "ok"):
        findings.append(Finding("limits", "library grading run",
                                f"{library_run.get('status')}: {library_run.get('description')}"))
    gap = honesty_gap(result.get("checkpoint"))
    if gap:
        findings.append(Finding("accuracy", result["checkpoint"]["file"], gap))
    return findings


def honesty_gap(part: dict | None, margin: float | None = None) -> str | None:
    """What the integrity report says when the accuracy the student reported in the checkpoint is
    more than ``margin`` from the grader's own measurement, else None. Never used for points."""
    if not part or part.get("status") != "graded" or part.get("reported_accuracy") is None:
        return None
    margin = part["honesty_margin"] if margin is None else margin
    gap = part["reported_accuracy"] - part["accuracy"]
    if abs(gap) <= margin:
        return None
    return (f"the checkpoint reports {part['reported_accuracy']:.1%} validation accuracy; the grader measured "
            f"{part['accuracy']:.1%} on the {part['held_out']} ({abs(gap) * 100:.1f} points apart, more "
            f"than {margin * 100:g})")


def _scan_notebook(submission: Path, release: Path, notebook_name: str) -> list[Finding]:
    try:
        data = read_regular_file(submission, notebook_name, LIMITS.notebook_bytes)
        parse_submitted_notebook(data)   # size and nesting checked before nbformat's parser sees it
        submitted = nbformat.reads(data.decode("utf-8"), as_version=4)
        released = nbformat.read(release / notebook_name, as_version=4)
    except Exception as error:  # noqa: BLE001  nbformat raises many kinds on a malformed notebook
        return [Finding("locked", notebook_name, f"the notebook could not be read: {str(error)[:200]}")]
    findings = []
    locked = {}
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") or meta.get("grade") and not meta.get("solution"):
            locked[meta.get("grade_id")] = compute_checksum(cell)
    seen = set()
    for index, cell in enumerate(submitted.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        where = f"{notebook_name} cell {index}"
        if grade_id in locked:
            seen.add(grade_id)
            try:
                edited = compute_checksum(cell) != locked[grade_id]
            except Exception:  # noqa: BLE001  malformed metadata is an edit too
                edited = True
            if edited:
                findings.append(Finding("locked", where, f"the locked cell {grade_id} was edited"))
            continue
        if cell.get("cell_type") == "code":
            findings += scan_code("\n".join(cell_lines(cell)), where, notebook=True)
    for grade_id in sorted(set(locked) - seen):
        findings.append(Finding("locked", notebook_name, f"the locked cell {grade_id} was deleted"))
    return findings


def _scan_python_files(submission: Path, release: Path) -> list[Finding]:
    findings = []
    try:
        files = regular_files(submission, LIMITS.submission_files, LIMITS.submission_bytes)
    except UnsafeFileError as error:
        return [Finding("outside", str(submission.name), str(error))]
    for relative, path in files:
        if not relative.endswith(".py"):
            continue
        data = path.read_bytes()[:LIMITS.source_bytes]
        public = release / relative
        if public.is_file() and public.read_bytes() == data:
            continue   # the release's own file, untouched
        findings += scan_code(data.decode("utf-8", errors="replace"), relative, notebook=False)
    return findings


def scan_code(source: str, where: str, notebook: bool) -> list[Finding]:
    """Findings of one piece of code; IPython magics and shell lines are checked as text.

    >>> [f.kind for f in scan_code("import numpy as np\\nnp.allclose = None", "x", notebook=False)]
    ['patch']
    >>> scan_code("import numpy as np\\nout = np.zeros(3)\\nout[0] = 1", "x", notebook=False)
    []
    """
    lines = source.splitlines()
    findings = []
    python_lines = []
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith(("%", "!")):
            findings += _path_findings(line, f"{where} line {number}")
            python_lines.append("")
        else:
            python_lines.append(line)
    try:
        tree = python_ast.parse("\n".join(python_lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return findings   # code that does not parse cannot run either
    visitor = _Visitor(where, notebook)
    try:
        visitor.visit(tree)
    except RecursionError:
        findings.append(Finding("dynamic", where, "code nested too deeply to check"))
    return findings + visitor.findings


class _Visitor(ast.NodeVisitor):
    def __init__(self, where: str, notebook: bool):
        self.where, self.notebook = where, notebook
        self.findings: list[Finding] = []
        self.imported: set[str] = set(MODULE_NAMES)

    def _add(self, kind: str, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(kind, f"{self.where} line {getattr(node, 'lineno', '?')}", what))

    # imports
    def visit_Import(self, node):
        for alias in node.names:
            self._check_module(node, alias.name)
            self.imported.add((alias.asname or alias.name).split(".")[0])
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        self._check_module(node, node.module or "")
        for alias in node.names:
            self.imported.add(alias.asname or alias.name)
        self.generic_visit(node)

    def _check_module(self, node, module: str) -> None:
        top = module.split(".")[0]
        if top in REFERENCE_MODULES:
            self._add("reference", node, f"imports {module}")
        if top in DYNAMIC_MODULES:
            self._add("dynamic", node, f"imports {module}")
        if top in PROCESS_MODULES:
            self._add("process", node, f"imports {module}")

    # assignments
    def visit_Assign(self, node):
        for target in node.targets:
            self._check_target(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_target(node.target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_target(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._check_target(target, node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        self._check_rebind(node.name, node)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._check_rebind(node.name, node)
        self.generic_visit(node)

    def _check_target(self, target, node) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element, node)
        elif isinstance(target, ast.Attribute):
            root = _root_name(target)
            if root in self.imported or root in GRADER_NAMES:
                self._add("patch", node, f"changes {_dotted(target)}")
            if _dotted(target) == "sys.path":
                self._add("reference", node, "replaces sys.path")
        elif isinstance(target, ast.Subscript):
            base = _dotted(target.value)
            if base in ("sys.modules", "__builtins__", "builtins.__dict__") or (
                    isinstance(target.value, ast.Call) and _dotted(target.value.func) in ("globals", "vars")):
                self._add("patch", node, f"changes {base or 'globals()'}[...]")
        elif isinstance(target, ast.Name):
            self._check_rebind(target.id, node)

    def _check_rebind(self, name: str, node) -> None:
        if name in REBIND_FORBIDDEN or (self.notebook and name in GRADER_NAMES - {"score"}):
            self._add("patch", node, f"rebinds {name}")

    # calls, attributes and constants
    def visit_Call(self, node):
        name = _dotted(node.func)
        # The called attribute's name, even when the chain holds a call: get_ipython().events.register
        last = node.func.attr if isinstance(node.func, ast.Attribute) else name.rsplit(".", 1)[-1]
        if last in DYNAMIC_CALLS:
            self._add("dynamic", node, f"calls {name}")
        if last in ("setattr", "delattr") and node.args:
            root = _root_name(node.args[0])
            if root in self.imported or root in GRADER_NAMES:
                self._add("patch", node, f"calls {last} on {_dotted(node.args[0])}")
        if name in ("sys.path.insert", "sys.path.append", "sys.path.extend", "site.addsitedir"):
            self._add("reference", node, f"calls {name}")
        if (last in ("register", "unregister") and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "events"):
            self._add("hook", node, f"calls {name or 'events.' + last}")
        if "." in name and name.split(".")[0] in ("os", "signal", "pty") and last in PROCESS_CALLS | {"signal",
                                                                                                      "alarm",
                                                                                                      "setitimer",
                                                                                                      "pthread_kill"}:
            self._add("process", node, f"calls {name}")
        if (last in FILE_WALKS or name in ("glob.glob", "os.path.expanduser")) and isinstance(node.func, ast.Attribute):
            self._add("files", node, f"calls {name or last} (looks through folders)")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in HOOK_ATTRIBUTES:
            self._add("hook", node, f"uses {_dotted(node) or node.attr}")
        self.generic_visit(node)

    def visit_Constant(self, node):
        # A path is one word; prose (docstrings, messages) that mentions a folder is not a path.
        if isinstance(node.value, str) and len(node.value) < 1000 and not re.search(r"\s", node.value):
            for finding in _path_findings(node.value, f"{self.where} line {node.lineno}"):
                self.findings.append(finding)


def _path_findings(text: str, where: str) -> list[Finding]:
    findings = []
    for word in re.split(r"""[\s'"]+""", text):
        names_the_kit = word == KIT_ROOT or word.startswith(KIT_ROOT + "/")
        if names_the_kit or (KIT_PATH.search(word) and ("/" in word or word.endswith(".db"))):
            findings.append(Finding("reference", where, f"names a path into the kit: {word[:120]}"))
        elif ABSOLUTE_PATH.match(word) or PARENT_PATH.search(word):
            findings.append(Finding("outside", where, f"names a path outside its folder: {word[:120]}"))
    return findings


def _root_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        return ""
    return ".".join(reversed(parts))
