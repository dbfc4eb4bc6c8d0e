"""docs/notes-checklist.md points at things that exist, and its counts are the table's.

Every row of the checklist is one item of the CS231n ConvNet notes with the cells, library
names, tests and docs that cover it, each in backticks. A reference must resolve: a notebook
cell id in that instructor notebook, an importable library attribute, a test function in its
file, a docs page. So a renamed cell or test fails here instead of leaving the checklist wrong.
"""

import ast
import importlib
import re

import nbformat
import pytest

from .kit import REPO, solution_notebooks

CHECKLIST = REPO / "docs" / "notes-checklist.md"
STATUSES = ("added", "extended", "existing")
MIN_ITEMS = 80

ROW = re.compile(r"^\|\s*(\d+)\s*\|(.*)\|\s*$")
CELL_REF = re.compile(r"^(\w+\.ipynb)#([\w-]+)$")
TEST_REF = re.compile(r"^(tests/[\w/]+\.py)::(\w+)$")
DOC_REF = re.compile(r"^docs/[\w.-]+\.md$")
LIBRARY_REF = re.compile(r"^cs231n_lib(\.\w+)+$")
COUNTS = re.compile(r"\*\*(\d+) items: (\d+) added, (\d+) extended, (\d+) existing\.\*\*")


def rows():
    """[(number, item, numbers, covered_by, status)] in the order of the file."""
    found = []
    for line in CHECKLIST.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            cells = [cell.strip() for cell in match.group(2).split("|")]
            assert len(cells) == 4, f"row {match.group(1)}: expected item | numbers | covered by | status, got {cells}"
            found.append((int(match.group(1)), *cells))
    return found


def cell_ids():
    return {path.name: {cell.id for cell in nbformat.read(path, as_version=nbformat.NO_CONVERT).cells}
            for path in solution_notebooks()}


def functions_defined_in(path):
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def resolve_library(reference):
    """Import the longest module prefix of ``reference``, then follow the remaining attributes."""
    parts = reference.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(reference)


def test_the_checklist_has_every_item_numbered_in_order():
    numbers = [row[0] for row in rows()]
    assert len(numbers) >= MIN_ITEMS, f"{len(numbers)} items; the notes have about {MIN_ITEMS}"
    assert numbers == list(range(1, len(numbers) + 1)), "rows must be numbered 1, 2, 3, ... in order"


def test_every_row_has_an_item_a_status_and_a_reference():
    for number, item, _, covered_by, status in rows():
        assert item, f"row {number}: no item"
        assert status in STATUSES, f"row {number}: status {status!r}, expected one of {STATUSES}"
        assert re.findall(r"`([^`]+)`", covered_by), f"row {number}: no reference in backticks"


def test_every_reference_exists():
    ids = cell_ids()
    problems = []
    for number, _, _, covered_by, _ in rows():
        for reference in re.findall(r"`([^`]+)`", covered_by):
            if match := CELL_REF.match(reference):
                notebook, cell = match.groups()
                if cell not in ids.get(notebook, set()):
                    problems.append(f"row {number}: no cell {cell!r} in {notebook}")
            elif match := TEST_REF.match(reference):
                path, function = match.groups()
                if not (REPO / path).is_file() or function not in functions_defined_in(path):
                    problems.append(f"row {number}: no test {function} in {path}")
            elif DOC_REF.match(reference):
                if not (REPO / reference).is_file():
                    problems.append(f"row {number}: no page {reference}")
            elif LIBRARY_REF.match(reference):
                try:
                    resolve_library(reference)
                except (ImportError, AttributeError) as error:
                    problems.append(f"row {number}: {reference} does not resolve ({error})")
            else:
                problems.append(f"row {number}: {reference!r} is not a cell, test, docs page or library name")
    assert not problems, "\n".join(problems)


def test_added_items_point_at_a_notebook_cell_or_a_test():
    for number, _, _, covered_by, status in rows():
        if status == "added":
            references = re.findall(r"`([^`]+)`", covered_by)
            assert any(CELL_REF.match(r) or TEST_REF.match(r) for r in references), \
                f"row {number} is new coverage: point at the cell or test that teaches or checks it"


def test_every_inline_question_is_in_the_checklist():
    text = CHECKLIST.read_text(encoding="utf-8")
    missing = [f"{notebook}#{cell}" for notebook, cells in cell_ids().items()
               for cell in sorted(cells) if "-question-" in cell and f"`{notebook}#{cell}`" not in text]
    assert not missing, f"inline questions the checklist does not name: {missing}"


def test_the_stated_counts_are_the_table_s():
    match = COUNTS.search(CHECKLIST.read_text(encoding="utf-8"))
    assert match, "the checklist states its counts as '**N items: A added, E extended, X existing.**'"
    statuses = [row[4] for row in rows()]
    actual = (len(statuses), *(statuses.count(status) for status in STATUSES))
    assert tuple(int(n) for n in match.groups()) == actual, f"the table has {actual}"


@pytest.mark.parametrize("reference, resolves", [
    ("cs231n_lib.layers.conv_forward_naive", True), ("cs231n_lib.layers.no_such_layer", False),
    ("cs231n_lib.classifiers.convnet.check_layer_pattern", True), ("cs231n_lib.no_module.f", False),
])
def test_library_references_resolve_only_when_they_exist(reference, resolves):
    try:
        resolve_library(reference)
    except (ImportError, AttributeError):
        assert not resolves
    else:
        assert resolves
