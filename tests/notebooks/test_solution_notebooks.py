"""Every instructor notebook runs top to bottom in quick mode, and the reference earns full marks.

Each notebook is executed once (module-scoped cache) with nbclient and the python3 kernel;
the checks then read the executed cells. Run from the venv so the kernel is the venv's python.
"""

import pytest

from .kit import (NOTEBOOK_SECONDS, grade_result, is_grade_cell, nbgrader_meta, run_notebook,
                  solution_notebooks, stderr_text)

pytestmark = pytest.mark.slow   # runs every solution notebook

NOTEBOOKS = solution_notebooks()
_executed = {}


def executed(path):
    if path not in _executed:
        _executed[path] = run_notebook(path)
    return _executed[path]


@pytest.fixture(params=NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def notebook_path(request):
    if not request.param.exists():
        pytest.fail(f"{request.param} is missing (listed in solutions/tasks.toml)")
    return request.param


def test_runs_without_error_in_quick_mode(notebook_path):
    _, seconds = executed(notebook_path)  # nbclient raises CellExecutionError on the first failing cell
    print(f"{notebook_path.name}: {seconds:.1f} s")
    assert seconds < NOTEBOOK_SECONDS, f"{notebook_path.name} took {seconds:.0f} s in quick mode"


def test_reference_earns_every_point(notebook_path):
    nb, _ = executed(notebook_path)
    short = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and is_grade_cell(cell):
            points = nbgrader_meta(cell)["points"]
            earned = grade_result(cell)
            # No number means nbgrader gives full marks unless the cell failed; we want the number.
            if earned != points:
                short[nbgrader_meta(cell)["grade_id"]] = (earned, points)
    assert not short, f"grade cells not scoring full marks with the reference (earned, points): {short}"


def test_grade_cells_write_nothing_to_stderr(notebook_path):
    """nbgrader gives 0 points to a grade cell with any stderr output."""
    nb, _ = executed(notebook_path)
    noisy = {nbgrader_meta(c)["grade_id"]: stderr_text(c)[:200] for c in nb.cells
             if c.cell_type == "code" and is_grade_cell(c) and stderr_text(c)}
    assert not noisy, f"grade cells wrote to stderr: {noisy}"
