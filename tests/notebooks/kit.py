"""Shared helpers of the notebook tests: where the notebooks are, and how to run one."""

import os
import re
import sys
import time
import tomllib
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
ASSIGNMENTS = REPO / "assignments"
TASKS_FILE = SOLUTIONS / "tasks.toml"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

# A whole notebook must run well under a minute in quick mode (the autograder's budget).
NOTEBOOK_SECONDS = 60


def assignments():
    """[(assignment name, notebook file name)] in the order of tasks.toml."""
    with open(TASKS_FILE, "rb") as f:
        catalog = tomllib.load(f)
    return [(name, entry["notebook"]) for name, entry in catalog.items()]


def solution_notebooks():
    return [SOLUTIONS / name / notebook for name, notebook in assignments()]


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_grade_cell(cell):
    return bool(nbgrader_meta(cell).get("grade"))


def is_answer_cell(cell):
    """A manually graded written answer (an inline question's answer): markdown, graded and a solution."""
    meta = nbgrader_meta(cell)
    return cell["cell_type"] == "markdown" and bool(meta.get("grade")) and bool(meta.get("solution"))


def run_notebook(path, timeout=300, allow_errors=False, cwd=None):
    """Execute a notebook in its own folder with the python3 kernel of this interpreter's venv.

    Quick mode (CS231N_QUICK=1) is set for the kernel; nbclient's kernel inherits this
    process's environment, and PATH starts with this interpreter's folder so that the
    kernelspec's ``python`` is the venv's. Returns (executed notebook, seconds).
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = {k: os.environ.get(k) for k in ("CS231N_QUICK", "PATH", "MPLBACKEND")}
    os.environ["CS231N_QUICK"] = "1"
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ.pop("MPLBACKEND", None)  # %matplotlib inline picks the inline backend
    try:
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=allow_errors,
                                resources={"metadata": {"path": str(cwd or Path(path).parent)}})
        start = time.perf_counter()
        try:
            client.execute()
        except Exception as error:
            error.notebook = nb  # the cells run so far, for the caller to inspect
            raise
        return nb, time.perf_counter() - start
    finally:
        for key, value in env_backup.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def grade_result(cell):
    """The number a grade cell evaluated to (nbgrader's partial credit), or None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            text = output["data"].get("text/plain", "")
            try:
                return float(text)
            except ValueError:
                return None
    return None


def stderr_text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text):
    return ANSI.sub("", text)
