"""A student's code cannot cost another student points by starving their grading of CPU.

The hog's notebook starts processes that each open a session of their own (the scheduler
then gives each its own share of the CPU, outside the sandbox's) and spin, and keeps its
sandbox alive with cells that wait just under the time limit. Graded two at a time beside
it, the honest student's cells can reach their time limits; the batch grades such a student
again, alone, and only that result counts (autograder/grading/batch.py, step 5).
"""

import pytest

from autograder.class_simulation import build_class
from autograder.collect import collect
from autograder.grading.batch import grade_class
from autograder.notebooks import read_notebook, write_notebook

from ..conftest import CELL_TIMEOUT, OPTIONS, new_layout

pytestmark = pytest.mark.slow   # grades beside a CPU hog in the sandbox

HOG = """
import os
for _ in range(48):
    if os.fork() == 0:
        os.setsid()   # a scheduling group of its own
        while True:
            pass
"""
WAIT = f"import time\ntime.sleep({CELL_TIMEOUT - 2})\n"


def test_a_cpu_hog_beside_an_honest_student_costs_them_nothing(requires_sandbox, tmp_path):
    layout = new_layout(tmp_path)
    folders = build_class(layout, "conv_pool", {"ann": "reference", "hog": "stubs"}, tmp_path / "class")
    path = folders["hog"] / "ConvPool.ipynb"
    notebook = read_notebook(path)
    notebook["cells"][2:2] = [{"cell_type": "code", "execution_count": None, "id": f"hog-{index}", "metadata": {},
                               "outputs": [], "source": source} for index, source in enumerate([HOG] + [WAIT] * 4)]
    write_notebook(notebook, path)
    collect(layout, "conv_pool", [tmp_path / "class"], log=lambda line: None)

    report = grade_class(layout, "conv_pool", jobs=2, options=OPTIONS, progress=False)
    assert not report.internal_errors
    ann, hog = report.results["ann"], report.results["hog"]
    lost = [cell["grade_id"] for cell in ann["notebook"]["cells"] if not cell.get("manual") and cell["score"] != cell["points"]]
    assert lost == [] and ann["library"]["score"] == ann["library"]["max_score"], (lost, ann["library"]["timed_out_functions"])
    assert ann["score"] == ann["max_score"] - ann["pending_manual_points"]
    assert hog["score"] == 0
