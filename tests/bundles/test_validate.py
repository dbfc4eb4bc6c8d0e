"""nbgrader's validate tells a student the truth: clean when every public check passes, else the cells.

The hidden checks are not in a student's notebook, so a correct notebook's test cells earn
only their public points there; each cell then counts the points it could not check as
passed (``notebook_utils.CellScore``), and validate, which fails a cell scoring below its
points, passes. A cell with a failed check, or one that stops, is named.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .kit import LAYOUT, reference_bundle, unpack_bundle

ASSIGNMENTS = [(a.name, a.notebook) for a in LAYOUT.catalog().assignments]


def validate(folder: Path, notebook: str) -> str:
    """``nbgrader validate`` as the student's Validate button runs it, in the bundle's folder; its report."""
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("CS231N_QUICK", None)   # validate sets quick mode itself (NBGRADER_EXECUTION)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", notebook], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600)
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("assignment, notebook", ASSIGNMENTS, ids=[name for name, _ in ASSIGNMENTS])
def test_a_correct_notebook_validates_clean(tmp_path, assignment, notebook):
    report = validate(reference_bundle(assignment, tmp_path), notebook)
    assert "Success! Your notebook passes all the tests." in report, report[-3000:]
    assert "VALIDATION FAILED" not in report


@pytest.mark.slow
def test_a_notebook_with_one_wrong_gradient_names_that_cell_only(tmp_path):
    folder = reference_bundle("conv_pool", tmp_path)
    layers = folder / "cs231n_lib" / "layers.py"
    layers.write_text(layers.read_text().replace("    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n", 1))
    report = validate(folder, "ConvPool.ipynb")
    assert "VALIDATION FAILED ON 1 CELL(S)" in report, report[-3000:]
    assert "# Test: affine_backward" in report and "Partial credit" in report


@pytest.mark.slow
def test_the_untouched_bundle_names_every_test_cell(tmp_path):
    folder = unpack_bundle("conv_pool", tmp_path)
    notebook = json.loads((folder / "ConvPool.ipynb").read_text())
    titles = ["".join(cell["source"]).splitlines()[0] for cell in notebook["cells"]
              if cell["metadata"].get("nbgrader", {}).get("grade")]
    report = validate(folder, "ConvPool.ipynb")
    assert f"VALIDATION FAILED ON {len(titles)} CELL(S)" in report, report[-3000:]
    assert all(title in report for title in titles) and "NotImplementedError" in report
