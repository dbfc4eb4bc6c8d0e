"""What each student wrote, read as the similarity report compares it.

An assignment has *units*, the places where students write code:

- each library task of ``tasks.toml`` (``layers.conv_forward_naive``): the function found by
  qualname with ``ast`` in the student's ``cs231n_lib/<module>.py``;
- each solution cell of the notebook (nbgrader metadata ``solution: true``), found by its
  ``grade_id``;
- what the student wrote around them: each library file's code outside the task functions
  (``cs231n_lib/layers.py outside the tasks``) and the notebook's code outside the solution
  cells (``ConvPool.ipynb outside the solution cells``), so a helper or an added cell is compared too.

A helper that a unit calls (a function the student defined at the top of one of their library
files, or in any code cell of the notebook, that is neither a unit nor defined by the release)
is *inlined*: its code joins the calling unit's stream right after the statement that mentions
it (a call, ``run = helper``, ``module.helper``, ``globals()["helper"]``), transitively, each
helper once per unit, and is then no longer counted outside the tasks. Code moved out of a task function is still compared with
the reference's task function.

A unit's starter code is the same function or cell in the public release
(``assignments/<a>/``): its statements are left out of the student's unit (see normalize.py).
The same units are read from the instructor's reference (``cs231n_lib/`` and the solution
notebook) and from the files of a *known independent* corpus: plain ``.py`` files holding the
task functions and the functions the notebook's solution cells define.

Submissions are untrusted: files are read without following links and up to a size cap; a
file that is a link, too large, not UTF-8 or not Python is skipped with a note, never fatal.
"""

import ast
import dataclasses
import functools
from collections.abc import Iterable
from pathlib import Path

from ..errors import ReleaseError
from ..notebooks import cell_lines, read_notebook
from ..files import LIMITS, UnsafeFileError, read_regular_file, regular_files
from ..notebooks import parse_submitted_notebook
from ..tasks import Assignment
from .normalize import (ParsedSource, SourceError, Statement, Token, canonical_stream, parse_source,
                        statement_keys, statements_of, token_statements)

MAX_UNIT_TOKENS = 20_000            # a unit longer than this is cut (noted): the report stays fast
# Helpers are followed this many calls deep at most (each level costs a few Python frames: a chain of
# thousands of helpers must not exhaust the interpreter's stack), and inlined up to the unit's token cap.
MAX_HELPER_DEPTH = 25
SHALLOW_HELPER_DEPTH = 2            # when that nests too deep for the interpreter: what a copy needs
OUTSIDE_TASKS, OUTSIDE_CELLS, HELPERS_ONLY = "outside the tasks", "outside the solution cells", "(helpers only)"


@dataclasses.dataclass(frozen=True)
class UnitSpec:
    """One place of the assignment where students write code, with the release's starter statements."""
    name: str                             # "layers.conv_forward_naive" or "ConvPool.ipynb convpool-sandwich"
    path: str                             # relative to a submission: "cs231n_lib/layers.py", "ConvPool.ipynb"
    qualname: str | None                  # a library task's function
    grade_id: str | None                  # a notebook solution cell
    functions: tuple[str, ...]            # the functions a notebook cell defines (read from corpus files);
                                          # outside: the functions the release defines there (not helpers)
    given: frozenset[tuple[str, ...]]     # the starter statements' exact tokens
    outside: bool = False                 # the code of ``path`` outside the other units (given: the release file's)
    helpers_only: bool = False            # outside, in a student file of another assignment: a source of helpers,
                                          # never compared itself

    @property
    def function_names(self) -> tuple[str, ...]:
        """The functions that are this unit (its task, or what its cell defines), never taken for helpers."""
        return (self.qualname,) if self.qualname is not None else self.functions


@dataclasses.dataclass
class Unit:
    """One unit of one document: the text shown in the report and the stream that is compared."""
    spec: UnitSpec
    where: str               # "cs231n_lib/layers.py", "ConvPool.ipynb cell 4", "corpus/loops.py"
    first_line: int          # the line number (in ``where``) of ``lines[0]``
    lines: list[str]
    given_lines: set[int]    # lines of starter code (in ``where``'s numbering)
    stream: list[Token]      # normalized, canonical order, starter code left out
    helpers: tuple[str, ...] = ()   # the helpers inlined, in order; their code is shown after ``where``'s lines


@dataclasses.dataclass
class Document:
    """Everything one author wrote for the assignment."""
    name: str                # the student id, "reference", or "independent/<file>"
    kind: str                # "student", "reference" or "independent"
    units: dict[str, Unit]   # by UnitSpec.name; a unit that could not be read is missing
    notes: list[str]         # what was skipped and why

    @property
    def key(self) -> str:
        """Unique among all documents: a student may well be called "reference"."""
        return f"{self.kind}:{self.name}"


def assignment_units(release_dir: Path, lib_name: str, assignment: Assignment,
                     student_files: Iterable[str] = ()) -> list[UnitSpec]:
    """The units of ``assignment``, read from its public release folder (trusted).

    ``student_files`` (library-relative paths) are the files students hand in for any assignment
    (graded as written): those that hold no task of this one are read as sources of helpers only.
    """
    release_dir = Path(release_dir)
    if not (release_dir / assignment.notebook).is_file():
        raise ReleaseError(f"{release_dir}: expected the release of {assignment.name} with {assignment.notebook}; "
                           f"run `python -m autograder release {assignment.name}` first")
    specs = []
    parsed_files: dict[Path, ParsedSource] = {}
    for task in assignment.tasks:
        path = release_dir / lib_name / task.module_file
        if path not in parsed_files:
            try:
                parsed_files[path] = parse_source(path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError, SourceError) as error:
                raise ReleaseError(f"{path}: expected the release's stubbed {task.module_file}: {error}") from None
        node = find_function(parsed_files[path].tree, task.qualname)
        if node is None:
            raise ReleaseError(f"{path}: expected a function {task.qualname} (tasks.toml lists {task.name})")
        specs.append(UnitSpec(name=task.name, path=f"{lib_name}/{task.module_file.as_posix()}",
                              qualname=task.qualname, grade_id=None, functions=(),
                              given=frozenset(statement_keys(statements_of(parsed_files[path], [node])))))
    for path, parsed in parsed_files.items():
        relative = f"{lib_name}/{path.relative_to(release_dir / lib_name).as_posix()}"
        specs.append(UnitSpec(name=f"{relative} {OUTSIDE_TASKS}", path=relative, qualname=None, grade_id=None,
                              functions=tuple(node.name for node in _functions(parsed)), outside=True,
                              given=frozenset(statement_keys(statements_of(parsed, parsed.tree.body)))))
    for relative in sorted(set(student_files) - {task.module_file.as_posix() for task in assignment.tasks}):
        path = release_dir / lib_name / relative
        try:
            parsed = parse_source(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, SourceError) as error:
            raise ReleaseError(f"{path}: expected the release's {relative}: {error}") from None
        specs.append(UnitSpec(name=f"{lib_name}/{relative} {HELPERS_ONLY}", path=f"{lib_name}/{relative}",
                              qualname=None, grade_id=None, functions=tuple(node.name for node in _functions(parsed)),
                              given=frozenset(), outside=True, helpers_only=True))
    notebook = read_notebook(release_dir / assignment.notebook)
    notebook_given: set[tuple[str, ...]] = set()
    notebook_functions: list[str] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        parsed, statements = _cell_statements("\n".join(cell_lines(cell)), f"{assignment.notebook} cell {index}")
        notebook_given |= statement_keys(statements)
        notebook_functions += [node.name for node in _functions(parsed)]
        grade_id = _solution_cell_id(cell)
        if grade_id is None:
            continue
        specs.append(UnitSpec(name=f"{assignment.notebook} {grade_id}", path=assignment.notebook, qualname=None,
                              grade_id=grade_id, functions=tuple(node.name for node in _functions(parsed)),
                              given=frozenset(statement_keys(statements))))
    specs.append(UnitSpec(name=f"{assignment.notebook} {OUTSIDE_CELLS}", path=assignment.notebook, qualname=None,
                          grade_id=None, functions=tuple(notebook_functions), outside=True,
                          given=frozenset(notebook_given)))
    return specs


def read_submission(name: str, kind: str, library_root: Path, notebook_root: Path,
                    specs: list[UnitSpec], outside_units: bool = True) -> Document:
    """A student's (or the reference's) units: library files under ``library_root``, the notebook in ``notebook_root``.

    Without ``outside_units`` the code outside the tasks and solution cells is not a unit (the reference's is
    the release's, or hidden tests), but helpers are found exactly as for a student.
    """
    document = Document(name=name, kind=kind, units={}, notes=[])
    library = [spec for spec in specs if spec.path.endswith(".py")]
    if library:
        _read_library_units(Path(library_root), library, document, outside_units)
    notebook = [spec for spec in specs if not spec.path.endswith(".py")]
    if notebook:
        _read_notebook_units(Path(notebook_root), notebook, document, outside_units)
    return document


def _read_library_units(root: Path, specs: list[UnitSpec], document: Document, outside_units: bool) -> None:
    """The task functions, each with the helpers it calls (from any file read); then the rest of each task file."""
    by_path: dict[str, list[UnitSpec]] = {}
    for spec in specs:
        by_path.setdefault(spec.path, []).append(spec)
    # A helpers-only file that cannot be read is no news: it is never compared itself.
    parsed_files = {path: _read_python(root, path, document if any(not s.helpers_only for s in file_specs)
                                       else Document(name=document.name, kind=document.kind, units={}, notes=[]))
                    for path, file_specs in by_path.items()}
    helpers: dict[str, tuple[ParsedSource, ast.AST, str]] = {}
    # Helpers of other files first: a task's own file wins a name both define.
    for path in sorted(by_path, key=lambda p: any(spec.qualname for spec in by_path[p])):
        parsed = parsed_files[path]
        if parsed is None:
            continue
        not_helpers = _function_names(by_path[path])
        helpers.update((node.name, (parsed, node, path)) for node in _functions(parsed) if node.name not in not_helpers)
    inlined: set[str] = set()
    for path, file_specs in by_path.items():
        parsed = parsed_files[path]
        for spec in (s for s in file_specs if s.qualname is not None and parsed is not None):
            node = find_function(parsed.tree, spec.qualname)
            if node is None:
                document.notes.append(f"{path}: no function {spec.qualname}")
                continue
            document.units[spec.name] = _function_unit(spec, path, parsed, [node], document, helpers)
            inlined.update(document.units[spec.name].helpers)
    for path, file_specs in by_path.items():
        parsed = parsed_files[path]
        outside = next((spec for spec in file_specs if spec.outside and not spec.helpers_only), None)
        if parsed is None or outside is None or not outside_units:
            continue
        nodes = _nodes_outside(parsed.tree.body, {spec.qualname for spec in file_specs if spec.qualname}, inlined)
        stream, given_lines = _stream(parsed, statements_of(parsed, nodes), outside, path, document)
        document.units[outside.name] = Unit(spec=outside, where=path, first_line=1, lines=parsed.text.split("\n"),
                                            given_lines=given_lines, stream=stream)


def read_python_document(name: str, root: Path, relative: str, specs: list[UnitSpec]) -> Document:
    """A corpus file: each library task and each notebook cell's functions, found by name in one ``.py`` file."""
    document = Document(name=name, kind="independent", units={}, notes=[])
    parsed = _read_python(Path(root), relative, document)
    if parsed is None:
        return document
    not_helpers = _function_names(specs)
    helpers = {node.name: (parsed, node, relative) for node in _functions(parsed) if node.name not in not_helpers}
    for spec in specs:
        if spec.outside:
            continue   # a corpus file holds units only
        nodes = [node for node in (find_function(parsed.tree, n) for n in spec.function_names) if node is not None]
        if nodes:
            document.units[spec.name] = _function_unit(spec, relative, parsed, nodes, document, helpers)
    return document


def independent_documents(folder: Path, specs: list[UnitSpec]) -> list[Document]:
    """Every ``.py`` file of ``folder`` (not ``__init__.py``) as one independent document; none when it is absent."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    try:
        files = regular_files(folder, LIMITS.library_files, LIMITS.library_bytes)
    except UnsafeFileError as error:
        raise ReleaseError(f"independent corpus {folder}: {error}") from None
    return [read_python_document(f"independent/{relative}", folder, relative, specs)
            for relative, _ in files if relative.endswith(".py") and Path(relative).name != "__init__.py"]


def find_function(tree: ast.Module | None, qualname: str) -> ast.FunctionDef | None:
    """The function ``qualname`` ("f", "Class.method") defined at the top of ``tree``; the last one wins, as in Python.

    >>> tree = ast.parse("class A:\\n    def f(self): pass\\n    def f(self): return 1\\n")
    >>> find_function(tree, "A.f").lineno
    3
    """
    if tree is None:
        return None
    scope: list[ast.stmt] = tree.body
    found = None
    for part in qualname.split("."):
        matches = [node for node in scope if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                   and node.name == part]
        if not matches:
            return None
        found = matches[-1]
        scope = found.body
    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


# ----------------------------------------------------------------------------- helpers

class _Inliner:
    """The ``inline`` of canonical_stream for one unit: the code of each helper it mentions, once, transitively.

    Each inlined helper's source is kept (``lines``) to be shown after the unit's own lines, under a
    header line saying where it is; its tokens and starter lines are numbered as shown, from ``next_line``.
    """

    def __init__(self, helpers: dict[str, tuple[ParsedSource, ast.AST, str]], given: frozenset[tuple[str, ...]],
                 next_line: int):
        self.helpers = helpers      # {name: (its source, its def, where)}: functions that are not units
        self.given = given          # the unit's starter statements: not the student's wherever they are
        self.next_line = next_line  # the number the next line shown gets
        self.inlined: list[str] = []
        self.lines: list[str] = []
        self.given_lines: set[int] = set()
        self.depth = 0              # helpers being inlined, one inside the other
        self.max_depth = MAX_HELPER_DEPTH
        self.tokens = 0             # tokens inlined so far
        self.cut: str | None = None   # why inlining stopped early, if it did
        self.why: str | None = None   # why it was started again with a smaller depth, if it was

    def restart(self, max_depth: int, why: str) -> None:
        """Forget what was inlined, to start again following helpers ``max_depth`` calls deep (``why``: the note)."""
        self.next_line -= len(self.lines)
        self.inlined, self.lines, self.given_lines = [], [], set()
        self.depth, self.tokens, self.cut, self.max_depth, self.why = 0, 0, None, max_depth, why

    def __call__(self, statement: Statement) -> list[Token]:
        tokens: list[Token] = []
        for name in statement.mentions:
            if name in self.helpers and name not in self.inlined:
                if self.tokens > MAX_UNIT_TOKENS:
                    self.cut = f"helpers cut at {MAX_UNIT_TOKENS} tokens"
                    break
                if self.depth >= self.max_depth:
                    # Only this branch stops: a helper mentioned later, less deep, is still followed.
                    self.cut = self.cut or self.why or f"helpers followed {self.max_depth} calls deep at most"
                    continue
                self.inlined.append(name)
                parsed, node, where = self.helpers[name]
                first = _first_line(node)
                self.lines.append(f"# {name}: called here, inlined from {where} line {first}")
                self.lines += parsed.text.split("\n")[first - 1:node.end_lineno]
                shift = self.next_line + 1 - first
                self.next_line += 1 + node.end_lineno - first + 1
                self.depth += 1
                body, given_lines = canonical_stream(parsed, statements_of(parsed, node.body), self.given,
                                                     MAX_UNIT_TOKENS + 1, inline=self, line_shift=shift)
                self.depth -= 1
                self.tokens += len(body)
                self.given_lines |= given_lines
                tokens += body
        return tokens


def _nodes_outside(body: list[ast.stmt], units: set[str], inlined: set[str], prefix: str = "") -> list[ast.stmt]:
    """The statements of ``body`` that are neither a unit's function nor an inlined helper (a class holding a
    unit's method is opened: its other members count)."""
    nodes = []
    for node in body:
        qualname = prefix + getattr(node, "name", "")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (qualname in units or
                                                                            (not prefix and node.name in inlined)):
            continue
        if isinstance(node, ast.ClassDef) and any(unit.startswith(qualname + ".") for unit in units):
            nodes += _nodes_outside(node.body, units, inlined, qualname + ".")
            continue
        nodes.append(node)
    return nodes


def _function_unit(spec: UnitSpec, where: str, parsed: ParsedSource, nodes: list[ast.AST], document: Document,
                   helpers: dict[str, tuple[ParsedSource, ast.AST, str]]) -> Unit:
    """The unit of the functions ``nodes`` of ``parsed``, with the ``helpers`` they call inlined."""
    first = min(_first_line(node) for node in nodes)
    last = max(node.end_lineno for node in nodes)
    lines = parsed.text.split("\n")[first - 1:last]
    return _unit_with_helpers(spec, where, parsed, statements_of(parsed, nodes), first, lines, document, helpers)


def _unit_with_helpers(spec: UnitSpec, where: str, parsed: ParsedSource, statements: list[Statement],
                       first_line: int, lines: list[str], document: Document,
                       helpers: dict[str, tuple[ParsedSource, ast.AST, str]]) -> Unit:
    """The unit of ``statements`` (shown as ``lines``, the first numbered ``first_line``), with the ``helpers``
    they mention inlined: their code follows in the stream and is shown after ``lines``."""
    inliner = _Inliner(helpers, spec.given, first_line + len(lines))
    stream, given_lines = _stream(parsed, statements, spec, where, document, inliner)
    if inliner.cut or inliner.why:
        document.notes.append(f"{where}: {spec.name}: {inliner.cut or inliner.why}")
    return Unit(spec=spec, where=where, first_line=first_line, lines=lines + inliner.lines,
                given_lines=given_lines | inliner.given_lines, stream=stream, helpers=tuple(inliner.inlined))


def _read_notebook_units(root: Path, specs: list[UnitSpec], document: Document, outside_units: bool) -> None:
    """The solution cells, each with the helpers it calls from any code cell; then the other code cells."""
    notebook_name = specs[0].path
    try:
        notebook = parse_submitted_notebook(read_regular_file(root, notebook_name, LIMITS.notebook_bytes))
    except (UnsafeFileError, UnicodeDecodeError, ValueError, RecursionError) as error:
        document.notes.append(f"{notebook_name}: skipped, not a readable notebook ({_short(error)})")
        return
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        document.notes.append(f"{notebook_name}: skipped, no list of cells")
        return
    wanted = {spec.grade_id: spec for spec in specs if spec.grade_id is not None}
    outside = next((spec for spec in specs if spec.outside), None)
    solution_cells, other_cells = [], []    # (where, its text, parsed, statements)
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grade_id = _solution_cell_id(cell)
        where = f"{notebook_name} cell {index}"
        source = cell.get("source", "")
        if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
            document.notes.append(f"{where}: skipped, its source is not text")
            continue
        text = "".join(source) if isinstance(source, list) else source
        try:
            parsed, statements = _cell_statements(text, where)
        except SourceError as error:
            document.notes.append(f"{where}: skipped, {_short(error)}")
            continue
        if grade_id in wanted:
            solution_cells.append((wanted.pop(grade_id), where, text, parsed, statements))
        else:
            other_cells.append((where, text, parsed, statements))
    helpers = {node.name: (parsed, node, where) for _, where, _, parsed, _ in solution_cells
               for node in _functions(parsed)}
    helpers.update((node.name, (parsed, node, where)) for where, _, parsed, _ in other_cells
                   for node in _functions(parsed))
    not_helpers = _function_names(specs)   # the solution cells' and the release's
    helpers = {name: found for name, found in helpers.items() if name not in not_helpers}
    inlined: set[str] = set()
    for spec, where, text, parsed, statements in solution_cells:
        unit = _unit_with_helpers(spec, where, parsed, statements, 1, text.split("\n"), document, helpers)
        inlined.update(unit.helpers)
        document.units[spec.name] = unit
    for grade_id in wanted:
        document.notes.append(f"{notebook_name}: no solution cell {grade_id!r}")
    if outside is not None and other_cells and outside_units:
        document.units[outside.name] = _cells_unit(outside, other_cells, inlined, document)


def _cells_unit(spec: UnitSpec, cells: list, inlined: set[str], document: Document) -> Unit:
    """The code cells outside the solution cells as one unit (inlined helpers left out), shown one after the other."""
    stream: list[Token] = []
    given_lines: set[int] = set()
    lines: list[str] = []
    for where, text, parsed, statements in cells:
        if parsed.tree is not None:
            statements = statements_of(parsed, _nodes_outside(parsed.tree.body, set(), inlined))
        cell_stream, cell_given = _stream(parsed, statements, spec, where, document)
        offset = len(lines) + 1       # the cell's line 1 is this line of the unit; a header line first
        lines.append(f"# {where}")
        stream += [Token(token.text, token.line + offset) for token in cell_stream]
        given_lines |= {line + offset for line in cell_given}
        lines += text.split("\n")
    if len(stream) > MAX_UNIT_TOKENS:
        document.notes.append(f"{spec.path}: {spec.name} cut to its first {MAX_UNIT_TOKENS} tokens")
    return Unit(spec=spec, where=spec.path, first_line=1, lines=lines, given_lines=given_lines,
                stream=stream[:MAX_UNIT_TOKENS])


def _function_names(specs: list[UnitSpec]) -> set[str]:
    """The functions that are units among ``specs`` (or the release's own): never helpers."""
    return {name for spec in specs for name in spec.function_names}


def _functions(parsed: ParsedSource) -> list[ast.AST]:
    return [node for node in (parsed.tree.body if parsed.tree else [])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _stream(parsed: ParsedSource, statements: list[Statement], spec: UnitSpec, where: str,
            document: Document, inliner: _Inliner | None = None) -> tuple[list[Token], set[int]]:
    try:
        stream, given_lines = canonical_stream(parsed, statements, spec.given, MAX_UNIT_TOKENS + 1, inliner)
    except RecursionError:
        if inliner is None:
            raise
        # Deeply nested code in helpers inside helpers: follow them SHALLOW_HELPER_DEPTH calls deep, else not at all
        # (the note says so).
        try:
            inliner.restart(SHALLOW_HELPER_DEPTH, f"nested code too deep: helpers followed {SHALLOW_HELPER_DEPTH} "
                                                  f"calls deep at most")
            stream, given_lines = canonical_stream(parsed, statements, spec.given, MAX_UNIT_TOKENS + 1, inliner)
        except RecursionError:
            inliner.restart(0, "nested code too deep: helpers not followed")
            stream, given_lines = canonical_stream(parsed, statements, spec.given, MAX_UNIT_TOKENS + 1)
    if len(stream) > MAX_UNIT_TOKENS:
        document.notes.append(f"{where}: {spec.name} cut to its first {MAX_UNIT_TOKENS} tokens")
    return stream[:MAX_UNIT_TOKENS], given_lines


@functools.lru_cache(maxsize=4096)
def _cell_statements(text: str, where: str) -> tuple[ParsedSource, list[Statement]]:
    """A cell's statements; IPython lines (``%magic``, ``!shell``) are blanked, code that does not parse keeps its order.

    Cached: most cells of a class are the release's, unchanged (the result is only read, never changed).
    """
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in text.split("\n"))
    parsed = parse_source(code, where, require_ast=False)
    statements = statements_of(parsed, parsed.tree.body) if parsed.tree else token_statements(parsed)
    return parsed, statements


def _read_python(root: Path, relative: str, document: Document) -> ParsedSource | None:
    try:
        text = read_regular_file(root, relative, LIMITS.source_bytes).decode("utf-8")
        return _parsed(text, relative)
    except UnsafeFileError as error:
        document.notes.append(f"{relative}: skipped, {_short(error)}")
    except UnicodeDecodeError:
        document.notes.append(f"{relative}: skipped, not UTF-8 text")
    except SourceError as error:
        document.notes.append(f"{relative}: skipped, {_short(error)}")
    return None


@functools.lru_cache(maxsize=256)
def _parsed(text: str, where: str) -> ParsedSource:
    """parse_source, cached: most library files of a class are the release's, unchanged (only read, never changed)."""
    return parse_source(text, where)


def _solution_cell_id(cell) -> str | None:
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(nbgrader, dict) or nbgrader.get("solution") is not True:
        return None
    grade_id = nbgrader.get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno


def _short(error: Exception, limit: int = 200) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + "..."
