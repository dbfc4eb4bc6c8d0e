"""What the instructor's source notebook says about grading: the trusted side of notebook scores.

Grade cells, their points and code, and the names of the checks each runs, are read from
``solutions/<a>/<notebook>`` (never from what comes back from a sandbox). A check is a
``score.check("name", points=N)`` block of ``cs231n_lib.notebook_utils.Score``; checks inside a
``### BEGIN HIDDEN TESTS`` region are hidden: the feedback names them but shows no detail.
"""

import ast
import dataclasses
import hashlib
import json
from pathlib import Path

from . import python_ast
from .notebooks import REGION_WORDS, cell_lines, read_notebook, with_stable_cell_ids
from .tasks import Assignment, Catalog, load_catalog
from .layout import KitLayout

HIDDEN_BEGIN, HIDDEN_END = REGION_WORDS["hidden test"]


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    name: str
    points: float | None
    hidden: bool


@dataclasses.dataclass(frozen=True)
class GradeCellSpec:
    grade_id: str
    points: float
    source: str                 # the instructor's full code, hidden tests included
    checks: tuple[CheckSpec, ...]
    title: str                  # the cell's first comment line, e.g. "Test: conv_forward_naive"


@dataclasses.dataclass(frozen=True)
class NotebookSpec:
    assignment: str
    notebook: str               # file name, e.g. ConvPool.ipynb
    grade_cells: tuple[GradeCellSpec, ...]
    sha256: str                 # of the source notebook's bytes

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.grade_cells)

    def cell(self, grade_id: str) -> GradeCellSpec:
        for cell in self.grade_cells:
            if cell.grade_id == grade_id:
                return cell
        raise KeyError(grade_id)


def load_catalog_of(kit: KitLayout) -> Catalog:
    return load_catalog(kit.tasks_file, kit.lib_dir)


def source_notebook_path(kit: KitLayout, assignment: Assignment) -> Path:
    return kit.solutions_dir / assignment.name / assignment.notebook


def read_source_notebook(kit: KitLayout, assignment: Assignment) -> dict:
    """The source notebook as the release builds it (stable cell ids)."""
    path = source_notebook_path(kit, assignment)
    return with_stable_cell_ids(read_notebook(path), path.name)


def notebook_spec(kit: KitLayout, assignment: Assignment) -> NotebookSpec:
    path = source_notebook_path(kit, assignment)
    notebook = read_notebook(path)
    cells = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade") or cell.get("cell_type") != "code":
            continue
        source = "\n".join(cell_lines(cell))
        cells.append(GradeCellSpec(grade_id=meta["grade_id"], points=float(meta.get("points", 0)),
                                   source=source, checks=tuple(checks_of(source)), title=_title(source)))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return NotebookSpec(assignment=assignment.name, notebook=assignment.notebook, grade_cells=tuple(cells),
                        sha256=digest)


def checks_of(source: str) -> list[CheckSpec]:
    """The ``score.check("name", points=N)`` calls of a grade cell, in order, hidden or not.

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


def spec_fingerprint(spec: NotebookSpec) -> str:
    """Changes whenever the grading of the notebook can change (used for idempotent re-runs)."""
    payload = json.dumps(dataclasses.asdict(spec), sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()
