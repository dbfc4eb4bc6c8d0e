"""The instructor's notebook as the grader runs it: the trusted side of notebook grading.

A grade cell runs in the grader, never in the student's process (see
``docs/autograder-sandbox.md``). Everything the grader needs to run it comes from the
instructor's source ``solutions/<a>/<notebook>`` and is read here, never from a submission:

- each grade cell: its ``grade_id``, points, full code (hidden tests included), which lines
  are hidden tests, its title, and the names it reads from the student's notebook;
- the grader's own setup for the grade cells: the ``import`` statements and function
  definitions of the locked cells (``import numpy as np``, ``def normalized(answer)``);
- the locked cells as the student release has them, which replace a student's copy of
  them before it runs (as nbgrader restores locked cells);
- the names the solution cells bind at top level: what a grade cell may read from the
  student's notebook (``conv_single_volume``, ``best_model``).

:func:`contract_problems` states the contract a grade cell must keep to run in the grader;
the release refuses a notebook that breaks it. A check is a ``score.check("name",
points=N)`` block of ``cs231n_lib.notebook_utils.Score``; one inside a ``### BEGIN HIDDEN
TESTS`` region is hidden (the feedback names it and says whether it passed, nothing more).
"""

import ast
import builtins
import dataclasses
import hashlib
import json

from . import python_ast
from .course import Layout
from .notebooks import REGION_WORDS, cell_lines, read_notebook
from .tasks import Assignment

HIDDEN_BEGIN, HIDDEN_END = REGION_WORDS["hidden test"]
BUILTIN_NAMES = frozenset(dir(builtins)) | {"__name__", "__file__"}


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    name: str
    points: float | None
    hidden: bool


@dataclasses.dataclass(frozen=True)
class GradeCellSpec:
    grade_id: str
    points: float
    source: str                      # the instructor's full code, hidden tests included
    checks: tuple[CheckSpec, ...]    # the checks whose names are literal strings, in order
    title: str                       # the cell's first comment line, e.g. "Test: conv_forward_naive"
    hidden_lines: frozenset[int]     # 1-based lines of ``source`` inside hidden-test regions
    reads: frozenset[str]            # names it reads and does not bind itself


@dataclasses.dataclass(frozen=True)
class ManualCellSpec:
    """An answer a person grades (nbgrader's "manually graded answer": a grade cell that is also a solution)."""
    grade_id: str
    points: float
    title: str                       # the question: the first line of the cell before it


@dataclasses.dataclass(frozen=True)
class NotebookSpec:
    assignment: str
    notebook: str                    # file name, e.g. ConvPool.ipynb
    grade_cells: tuple[GradeCellSpec, ...]
    setup: tuple[str, ...]           # code of the grader's setup (imports and definitions of locked cells)
    setup_names: frozenset[str]      # what the setup binds
    locked_sources: dict             # grade_id -> public code of each locked non-grade code cell
    locked_ids: frozenset[str]       # every locked cell, markdown included
    solution_names: frozenset[str]   # top-level names of the solution cells
    sha256: str                      # of the source notebook's bytes
    bound_by_other_cells: frozenset[str] = frozenset()   # top-level names of the cells that are not grade cells
    other_cells_reads: tuple = ()    # ("cell <id>", names it reads) for each cell that is not a grade cell
    manual_cells: tuple[ManualCellSpec, ...] = ()

    @property
    def auto_max_score(self) -> float:
        return sum(cell.points for cell in self.grade_cells)

    @property
    def manual_max_score(self) -> float:
        return sum(cell.points for cell in self.manual_cells)

    @property
    def max_score(self) -> float:
        """Every point of the notebook, graded by the grader or by a person (as nbgrader counts them)."""
        return self.auto_max_score + self.manual_max_score

    def cell(self, grade_id: str) -> GradeCellSpec:
        for cell in self.grade_cells:
            if cell.grade_id == grade_id:
                return cell
        raise KeyError(grade_id)


def notebook_spec(kit: Layout, assignment: Assignment) -> NotebookSpec:
    """The spec of ``assignment``'s notebook, from its source (locked cells as the release shows them)."""
    path = kit.source_notebook(assignment)
    return spec_of(read_notebook(path), assignment.name, assignment.notebook,
                   hashlib.sha256(path.read_bytes()).hexdigest())


def spec_of(notebook: dict, assignment: str, name: str, sha256: str = "") -> NotebookSpec:
    grade_cells, setup, locked_sources, locked_ids, manual_cells = [], [], {}, set(), []
    solution_names: set[str] = set()
    other_bound: set[str] = set()
    other_reads = []
    previous_source = ""
    for index, cell in enumerate(notebook.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        source, question, previous_source = "\n".join(cell_lines(cell)), previous_source, "\n".join(cell_lines(cell))
        if meta.get("grade") and meta.get("solution"):
            manual_cells.append(ManualCellSpec(grade_id, float(meta.get("points", 0)), _question(question)))
        if cell.get("cell_type") == "code" and not (meta.get("grade") and not meta.get("solution")):
            tree = _parse(_without_magics(source))
            other_bound |= top_level_bindings(tree)
            other_reads.append((f"cell {grade_id or cell.get('id') or index}",
                                frozenset(names_read(tree) - names_bound(tree) - BUILTIN_NAMES)))
        if meta.get("solution") and cell.get("cell_type") == "code":
            solution_names |= top_level_bindings(_parse(_without_magics(source)))
        elif meta.get("grade") and cell.get("cell_type") == "code":
            grade_cells.append(_grade_cell(grade_id, float(meta.get("points", 0)), source))
        elif meta.get("locked"):
            locked_ids.add(grade_id)
            if cell.get("cell_type") == "code":
                locked_sources[grade_id] = _without_hidden_regions(source)
                setup += _setup_statements(source)
    setup_names = set()
    for code in setup:
        setup_names |= top_level_bindings(_parse(code))
    return NotebookSpec(assignment=assignment, notebook=name, grade_cells=tuple(grade_cells), setup=tuple(setup),
                        setup_names=frozenset(setup_names), locked_sources=locked_sources,
                        locked_ids=frozenset(locked_ids), solution_names=frozenset(solution_names), sha256=sha256,
                        bound_by_other_cells=frozenset(other_bound), other_cells_reads=tuple(other_reads),
                        manual_cells=tuple(manual_cells))


def _grade_cell(grade_id: str, points: float, source: str) -> GradeCellSpec:
    hidden = frozenset(_hidden_line_numbers(source))
    tree = _parse(_without_magics(source))
    return GradeCellSpec(grade_id=grade_id, points=points, source=source, checks=tuple(checks_of(source)),
                         title=_title(source), hidden_lines=hidden,
                         reads=frozenset(names_read(tree) - names_bound(tree) - BUILTIN_NAMES))


def contract_problems(spec: NotebookSpec) -> list[str]:
    """What keeps each grade cell from running in the grader (empty when none).

    A grade cell runs in the grader, where the student's notebook is reachable only through
    the names its solution cells define. So a grade cell may read: the names the locked
    cells import or define (the grader runs those imports and definitions itself), the
    names the solution cells bind, and what earlier grade cells bind. A value computed in a
    free cell of the student's notebook (data, a model) must be built in the grade cell
    itself, and IPython magics have no place in it.
    """
    problems = []
    known = set(spec.setup_names) | set(spec.solution_names)
    bound_by_grade_cells = set()
    for cell in spec.grade_cells:
        bound_by_grade_cells |= top_level_bindings(_parse(_without_magics(cell.source)))
    only_in_grade_cells = bound_by_grade_cells - known - spec.bound_by_other_cells
    for where, reads in spec.other_cells_reads:
        wanted = sorted(reads & only_in_grade_cells)
        if wanted:
            problems.append(f"{spec.notebook} {where} reads {', '.join(wanted)}, which only grade cells define: "
                            f"grade cells run in the grader, so while grading these names do not exist in the "
                            f"student's notebook; define them in this cell or in a grade cell that uses them")
    for cell in spec.grade_cells:
        where = f"{spec.notebook} grade cell {cell.grade_id}"
        if any(line.lstrip().startswith(("%", "!")) for line in cell.source.splitlines()):
            problems.append(f"{where}: an IPython magic or shell line; grade cells run as plain Python in the grader")
        stated = _score_points(cell.source)
        if stated and stated != [cell.points]:   # a cell without Score is all-or-nothing, as in nbgrader
            problems.append(f"{where}: expected one `score = Score(points={cell.points:g})` stating the cell's points "
                            f"(hidden checks included), found {_describe_stated(stated)}: the student's notebook "
                            f"shows and validates the score out of these points")
        unknown = sorted(cell.reads - known)
        if unknown:
            problems.append(f"{where} reads {', '.join(unknown)}, which neither the locked cells' imports and "
                            f"definitions, nor a solution cell, nor an earlier grade cell define: a grade cell "
                            f"runs in the grader, so build such values in the cell itself")
        known |= top_level_bindings(_parse(_without_magics(cell.source)))
    return problems


def _score_points(source: str) -> list:
    """The ``points=`` of each ``Score(...)`` call in a grade cell: a float, or None when not a literal."""
    stated = []
    for node in ast.walk(_parse(_without_magics(source))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Score":
            value = next((k.value for k in node.keywords if k.arg == "points"), node.args[0] if node.args else None)
            stated.append(float(value.value) if isinstance(value, ast.Constant)
                          and isinstance(value.value, (int, float)) else None)
    return stated


def _describe_stated(stated: list) -> str:
    return ", ".join("Score() without literal points" if value is None else f"Score(points={value:g})"
                     for value in stated)


# ----------------------------------------------------------------------------- source analysis

def checks_of(source: str) -> list[CheckSpec]:
    """The ``score.check("name", points=N)`` calls of a grade cell with a literal name, in order.

    >>> [c.name for c in checks_of('with score.check("a", points=1):\\n    pass')]
    ['a']
    """
    hidden_lines = _hidden_line_numbers(source)
    try:
        tree = python_ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            points = None
            for keyword in node.keywords:
                if keyword.arg == "points" and isinstance(keyword.value, ast.Constant):
                    points = float(keyword.value.value)
            if points is None and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                points = float(node.args[1].value)
            found.append((node.lineno, CheckSpec(node.args[0].value, points, node.lineno in hidden_lines)))
    return [check for _, check in sorted(found, key=lambda pair: pair[0])]


def top_level_bindings(tree: ast.Module) -> set[str]:
    """Names a cell binds in the notebook's namespace (not those local to its functions).

    >>> sorted(top_level_bindings(ast.parse("import numpy as np\\ndef f(x):\\n    y = 1\\nfor i in []: z = i")))
    ['f', 'i', 'np', 'z']
    """
    bound: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {_bound_by_import(alias, node) for alias in node.names if alias.name != "*"}
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return bound


def names_read(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def names_bound(tree: ast.AST) -> set[str]:
    """Every name bound anywhere in ``tree``, in any scope (an over-estimate is fine here)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {_bound_by_import(alias, node) for alias in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _bound_by_import(alias: ast.alias, node) -> str:
    if alias.asname:
        return alias.asname
    return alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name


def _setup_statements(source: str) -> list[str]:
    """The imports and definitions of a locked cell, each as code the grader runs."""
    tree = _parse(_without_magics(source))
    return [ast.unparse(node) for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]


def _parse(source: str) -> ast.Module:
    try:
        return python_ast.parse(source)
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def _without_magics(source: str) -> str:
    """IPython magics and shell lines blanked (line numbers kept)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _without_hidden_regions(source: str) -> str:
    hidden = _hidden_line_numbers(source)
    return "\n".join(line for number, line in enumerate(source.splitlines(), start=1)
                     if number not in hidden and HIDDEN_BEGIN not in line and HIDDEN_END not in line)


def _hidden_line_numbers(source: str) -> set[int]:
    inside, numbers = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        if HIDDEN_BEGIN in line:
            inside = True
        elif HIDDEN_END in line:
            inside = False
        elif inside:
            numbers.add(number)
    return numbers


def _title(source: str) -> str:
    first = source.splitlines()[0].strip() if source.strip() else ""
    return first.lstrip("#").strip() if first.startswith("#") else ""


def _question(text: str) -> str:
    """A question cell's first line, without markdown marks, at most 120 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.lstrip("#").strip().replace("**", "")[:120]


def spec_fingerprint(spec: NotebookSpec) -> str:
    """Changes whenever the grading of the notebook can change (used for idempotent re-runs)."""
    payload = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=sorted).encode()
    return hashlib.sha256(payload).hexdigest()
