"""A small synthetic kit (library, tasks.toml, nbgrader source notebook) for the release tests."""

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.course import Layout

HIDDEN_LINE = "assert triple(41) == 123  # hidden: a fresh input"
NOTEBOOK_SOLUTION_LINE = "answer = double(21)  # the notebook's own solution"

OPS_SOURCE = textwrap.dedent('''\
    """Two tiny ops; docstrings stay as they are."""


    def double(x):
        """Twice x."""
        checked = float(x)
        ### BEGIN SOLUTION
        result = checked + checked
        ### END SOLUTION
        return result


    class Scaler:
        def __init__(self, factor):
            self.factor = factor

        def scale(self, x):
            """x times the factor."""
            ### BEGIN SOLUTION
            scaled_value = x * self.factor
            return scaled_value
            ### END SOLUTION


    def given(x):
        return x + 1
''')

MORE_SOURCE = textwrap.dedent('''\
    def triple(x):
        ### BEGIN SOLUTION
        return x * 3 + 0
        ### END SOLUTION
''')

TASKS_TOML = textwrap.dedent('''\
    [first]
    notebook = "First.ipynb"
    title = "The first assignment"
    tasks = ["ops.double", "ops.Scaler.scale"]

    [second]
    notebook = "Second.ipynb"
    title = "The second assignment"
    tasks = ["sub.more.triple"]
''')


def _grade_metadata(grade_id, points=None, solution=False, grade=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def source_notebook(library: str = "minilib") -> nbformat.NotebookNode:
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        new_markdown_cell("# First\nWrite `ops.double` and `ops.Scaler.scale`."),
        new_code_cell(f"from {library}.ops import double, Scaler\nfrom {library}.sub.more import triple",
                      metadata=_grade_metadata("imports")),
        new_code_cell(f"### BEGIN SOLUTION\n{NOTEBOOK_SOLUTION_LINE}\n### END SOLUTION",
                      metadata=_grade_metadata("answer", solution=True)),
        new_code_cell(f"assert double(2) == 4\n### BEGIN HIDDEN TESTS\n{HIDDEN_LINE}\n### END HIDDEN TESTS",
                      metadata=_grade_metadata("check_double", points=2, grade=True)),
    ]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # fixed ids: the release must be reproducible
    return notebook


def make_kit(root: Path, with_second_notebook: bool = False) -> Layout:
    """Write the synthetic kit under ``root``; returns its layout (outputs under root too)."""
    root = Path(root)
    lib = root / "minilib"
    (lib / "sub").mkdir(parents=True)
    (lib / "__init__.py").write_text('"""A tiny library for the release tests."""\n')
    (lib / "ops.py").write_text(OPS_SOURCE)
    (lib / "sub" / "__init__.py").write_text("")
    (lib / "sub" / "more.py").write_text(MORE_SOURCE)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "ops.cpython-311.pyc").write_bytes(b"not shipped")
    solutions = root / "solutions"
    (solutions / "first").mkdir(parents=True)
    (solutions / "tasks.toml").write_text(TASKS_TOML)
    nbformat.write(source_notebook(), solutions / "first" / "First.ipynb")
    if with_second_notebook:
        (solutions / "second").mkdir()
        nbformat.write(source_notebook(), solutions / "second" / "Second.ipynb")
    data_script = root / "datasets" / "get_datasets.sh"
    data_script.parent.mkdir()
    data_script.write_text("#!/bin/sh\necho fetching data\n")
    return Layout(lib_dir=lib, solutions_dir=solutions, tasks_file=solutions / "tasks.toml",
                     data_script=data_script, course_dir=root / "course", assignments_dir=root / "assignments",
                     dist_dir=root / "dist")
