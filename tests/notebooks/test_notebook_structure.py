"""The instructor notebooks have the shape nbgrader and JupyterLab 4 / Notebook 7 need.

- nbformat 4.5 (cell ids), valid against the schema, kernel python3, outputs cleared;
- every nbgrader cell has a grade_id, unique in its notebook;
- every autograded cell has points > 0 and is locked; every markdown cell is locked except the
  manually graded answers of inline questions (tests/notebooks/test_inline_questions.py);
- solution regions are balanced and sit in solution cells only; hidden-test regions are
  balanced and sit in grade cells only;
- code cells parse as Python once IPython magics are set aside.
"""

import ast

import nbformat
import pytest

from .kit import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, is_answer_cell, is_grade_cell,
                  nbgrader_meta, solution_notebooks)

NOTEBOOKS = [p for p in solution_notebooks()]


@pytest.fixture(params=NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def nb(request):
    if not request.param.exists():
        pytest.fail(f"{request.param} is missing (listed in solutions/tasks.toml)")
    return nbformat.read(request.param, as_version=nbformat.NO_CONVERT)


def regions(source, begin, end):
    """Number of balanced begin/end pairs; raises AssertionError if unbalanced or nested."""
    depth, count = 0, 0
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped == begin:
            assert depth == 0, f"line {number}: {begin} inside another region"
            depth += 1
        elif stripped == end:
            assert depth == 1, f"line {number}: {end} without {begin}"
            depth, count = 0, count + 1
        elif begin.split()[-1] in stripped and stripped.startswith("###"):
            raise AssertionError(f"line {number}: malformed marker {stripped!r}")
    assert depth == 0, f"{begin} without {end}"
    return count


def test_format_kernel_and_clean_outputs(nb):
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"cell {cell.id}: commit source notebooks with outputs cleared"


def test_grade_ids_present_and_unique(nb):
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert all(ids), "an nbgrader cell lacks a grade_id"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate grade_ids: {duplicates}"
    for cell in nb.cells:
        if nbgrader_meta(cell):
            assert nbgrader_meta(cell).get("schema_version") == 3


def test_grade_cells_have_points_and_are_locked(nb):
    grade_cells = [c for c in nb.cells if is_grade_cell(c) and not is_answer_cell(c)]
    assert grade_cells, "no grade cells"
    for cell in grade_cells:
        meta = nbgrader_meta(cell)
        assert isinstance(meta.get("points"), (int, float)) and meta["points"] > 0, meta["grade_id"]
        assert meta.get("locked") is True and not meta.get("solution"), meta["grade_id"]
        assert cell.cell_type == "code", meta["grade_id"]
        # The partial-credit number must be the cell's last expression.
        assert cell.source.rstrip().splitlines()[-1].strip() == "score.earned", \
            f"{meta['grade_id']}: end the grade cell with score.earned"


def test_markdown_cells_are_locked(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not is_answer_cell(cell):
            assert nbgrader_meta(cell).get("locked") is True, f"markdown cell {cell.id} is not locked"


def test_solution_regions_only_in_solution_cells(nb):
    solution_cells = 0
    for cell in nb.cells:
        count = regions(cell.source, BEGIN_SOLUTION, END_SOLUTION)
        if is_answer_cell(cell):
            assert count == 0, f"answer cell {cell.id}: nbgrader replaces the whole cell; no solution markers"
        elif nbgrader_meta(cell).get("solution"):
            assert count >= 1, f"solution cell {cell.id} has no solution region"
            solution_cells += 1
        else:
            assert count == 0, f"cell {cell.id} has a solution region but is not a solution cell"


def test_hidden_tests_only_in_grade_cells(nb):
    hidden = 0
    for cell in nb.cells:
        count = regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)
        if count:
            assert is_grade_cell(cell) and cell.cell_type == "code", \
                f"cell {cell.id} has hidden tests but is not a grade cell"
        hidden += count
    assert hidden, "no hidden tests in this notebook"


def test_code_cells_parse(nb):
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in cell.source.splitlines())
        try:
            ast.parse(python)
        except SyntaxError as error:
            pytest.fail(f"cell {cell.id}: {error}")
