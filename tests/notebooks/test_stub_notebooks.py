"""The released (stub) notebooks stop at the first unfinished piece of work with a clear message.

Each notebook of ``assignments/<a>/`` is copied with its folder to a temporary directory (so
that running it leaves nothing in the release) and executed in quick mode. It must import the
stubbed ``cs231n_lib`` beside it, and the first error must be a NotImplementedError: either a
library stub, whose message names the task and the notebook, or nbgrader's stub in a notebook
exercise, which sits under ``# YOUR CODE HERE`` and says to replace it (the course's
``ClearSolutions.code_stub``). Anything else (a TypeError on a None, a shape
error in a given cell) is the confusing traceback students must never meet first.
"""

import re
import shutil
import tomllib

import pytest
from nbclient.exceptions import CellExecutionError

from autograder.notebooks import NOTEBOOK_STUB_MESSAGE

from .kit import ASSIGNMENTS, assignments, run_notebook, strip_ansi

RELEASED = assignments()


def earlier_tasks(name):
    """The library tasks of the assignments listed before ``name`` in solutions/tasks.toml."""
    tasks = tomllib.loads((ASSIGNMENTS.parent / "solutions" / "tasks.toml").read_text())
    names = list(tasks)
    return [task for earlier in names[:names.index(name)] for task in tasks[earlier]["tasks"]]


@pytest.mark.parametrize("name, notebook", RELEASED, ids=[name for name, _ in RELEASED])
def test_stub_notebook_stops_at_first_unimplemented_function(tmp_path, name, notebook):
    released = ASSIGNMENTS / name / notebook
    if not released.exists():
        pytest.skip(f"{released} not generated yet (make release)")
    folder = tmp_path / name
    shutil.copytree(released.parent, folder, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    with pytest.raises(CellExecutionError) as info:
        run_notebook(folder / notebook)
    error = info.value
    print(f"{name}: stopped at {error.ename}: {error.evalue}")
    setup_output = "".join(o.get("text", "") for cell in error.notebook.cells if cell.cell_type == "code"
                           for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    assert f"cs231n_lib imported from {(folder / 'cs231n_lib').resolve()}" in setup_output, \
        f"{name}: the kernel did not import the stubbed library beside the notebook:\n{setup_output[:500]}"
    assert error.ename == "NotImplementedError", \
        f"{name}: the first error is {error.ename}: {error.evalue}, not a NotImplementedError stub"
    traceback = strip_ansi(error.traceback if isinstance(error.traceback, str) else "\n".join(error.traceback))
    if error.evalue.startswith("this notebook runs functions you wrote in earlier assignments"):
        # A later assignment first asks for the functions students wrote in earlier ones, and the files to bring.
        lines = re.findall(r"^  ([\w., ]+): bring cs231n_lib/[\w/]+\.py from your (\w+) folder$", error.evalue, re.M)
        named = [task for functions, _ in lines for task in functions.split(", ")]
        earlier = earlier_tasks(name)
        assert named and all(task in earlier for task in named), \
            f"{name}: {error.evalue!r} names functions that are not earlier assignments' tasks {earlier}"
        assert "python bring_earlier_work.py" in error.evalue
    elif error.evalue == NOTEBOOK_STUB_MESSAGE:
        assert "YOUR CODE HERE" in traceback, f"{name}: the notebook stub is not under # YOUR CODE HERE"
    else:
        assert f"your task in {name}/" in error.evalue, f"{name}: unclear stub message {error.evalue!r}"
