"""A simulated class built from the student release: for the demo, the tests and the benchmark.

Every submission starts as a copy of ``assignments/<a>/`` (what students download):

- ``reference``: the library files with tasks replaced by the reference's, and each notebook
  solution cell filled with the instructor's solution (the marker lines dropped);
- ``partial``: the reference with one library bug (``affine_backward``'s ``db`` is a mean,
  not a sum) and one notebook answer left as the stub (``spatial_output_size``); for an
  assignment without those, the second solution cell is left as the stub;
- ``stubs``: the release untouched;
- ``infinite_loop``: the reference, but ``conv_forward_naive`` never returns;
- ``cheater``: the stubs, plus a notebook cell and library code that try to read the
  reference, patch NumPy and the grader's ``Score``, and write outside the folder.
"""

import json
import shutil
from pathlib import Path

from .course import Layout
from .notebooks import cell_lines, read_notebook, write_notebook
from .tasks import Assignment

KINDS = ("reference", "partial", "stubs", "infinite_loop", "cheater")
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

LIBRARY_BUG = ("    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n")
INFINITE_LOOP = "    while True:  # simulated student: never returns\n        pass\n"

# {KIT} and {GRADEBOOK} become the real kit folder and gradebook: the paths a cheater would try.
CHEATING_CELL = '''\
# A submission that tries to cheat: every line below must fail or be caught.
import builtins, sys
import numpy as np
sys.path.insert(0, "{KIT}")                      # import the reference library
try:
    stolen = open("{KIT}/cs231n_lib/layers.py").read()
except OSError:
    stolen = None
np.allclose = lambda *args, **kwargs: True            # patch NumPy
Score.earned = property(lambda self: 1000.0)          # patch the grader
for target in ("{GRADEBOOK}", "../../../../escaped.txt", "/tmp/escaped.txt"):
    try:
        with open(target, "w") as handle:             # write outside the folder
            handle.write("owned")
    except OSError:
        pass
'''

CHEATING_LIBRARY_PRELUDE = '''\
import numpy as _np
_np.allclose = lambda *args, **kwargs: True   # simulated cheater: patch NumPy for the grader
try:
    exec(open("{KIT}/cs231n_lib/layers.py").read())   # simulated cheater: the reference
except OSError:
    pass
'''


def build_class(layout: Layout, assignment_name: str, kinds: dict[str, str], root: Path) -> dict[str, Path]:
    """{student: submission folder} under ``root``, one folder per student of the given kinds."""
    catalog = layout.catalog()
    assignment = catalog.get(assignment_name)
    own = sorted(catalog.student_files())
    folders = {}
    for student, kind in kinds.items():
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} for {student}: expected one of {', '.join(KINDS)}")
        folders[student] = build_submission(layout, assignment, own, kind, Path(root) / student)
    return folders


def build_submission(layout: Layout, assignment: Assignment, own_files: list[str], kind: str,
                     folder: Path) -> Path:
    release = layout.student_release_dir(assignment.name)
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(release, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    notebook_path = folder / assignment.notebook
    if kind in ("stubs", "cheater"):
        if kind == "cheater":
            _cheat(notebook_path, folder / "cs231n_lib" / "layers.py", layout)
        return folder
    for relative in own_files:   # the reference for every file that holds a task
        shutil.copyfile(layout.lib_dir / relative, folder / "cs231n_lib" / relative)
    source = read_notebook(layout.solutions_dir / assignment.name / assignment.notebook)
    notebook = read_notebook(notebook_path)
    left_as_stub = _stub_choice(notebook, assignment) if kind == "partial" else None
    _fill_solutions(notebook, source, keep_stub=left_as_stub)
    write_notebook(notebook, notebook_path)
    layers = folder / "cs231n_lib" / "layers.py"
    if kind == "partial" and LIBRARY_BUG[0] in layers.read_text(encoding="utf-8") and assignment.tasks:
        _replace(layers, *LIBRARY_BUG)
    if kind == "infinite_loop":
        _loop_forever(layers, "def conv_forward_naive(")
    return folder


def _fill_solutions(notebook: dict, source: dict, keep_stub: str | None) -> None:
    by_id = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in source["cells"]}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") != keep_stub and meta.get("grade_id") in by_id:
            lines = [line for line in cell_lines(by_id[meta["grade_id"]]) if line.strip() not in SOLUTION_MARKERS]
            cell["source"] = "\n".join(lines)


def _stub_choice(notebook: dict, assignment: Assignment) -> str | None:
    # Code exercises only: a written answer (a markdown solution cell) is graded by hand, not here.
    solution_ids = [c["metadata"]["nbgrader"]["grade_id"] for c in notebook["cells"]
                    if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.get("cell_type") == "code"]
    preferred = [i for i in solution_ids if i.endswith("output-size")]
    if preferred:
        return preferred[0]
    return solution_ids[1] if len(solution_ids) > 1 else (solution_ids[0] if solution_ids else None)


def _cheat(notebook_path: Path, layers: Path, layout: Layout) -> None:
    paths = {"{KIT}": str(layout.lib_dir.parent), "{GRADEBOOK}": str(layout.gradebook)}

    def aimed(code: str) -> str:
        for placeholder, path in paths.items():
            code = code.replace(placeholder, path)
        return code

    notebook = read_notebook(notebook_path)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution") and cell.get("cell_type") == "code":
            cell["source"] = aimed(CHEATING_CELL) + "\n" + "\n".join(cell_lines(cell))
            break
    write_notebook(notebook, notebook_path)
    layers.write_text(aimed(CHEATING_LIBRARY_PRELUDE) + layers.read_text(encoding="utf-8"), encoding="utf-8")


def _loop_forever(path: Path, signature: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(signature):
            # The body starts after the signature's closing line and the docstring; put the loop first.
            end = index
            while not lines[end].rstrip().endswith(":"):
                end += 1
            lines.insert(end + 1, INFINITE_LOOP)
            path.write_text("".join(lines), encoding="utf-8")
            return
    raise ValueError(f"{path}: no line starts with {signature!r}")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise ValueError(f"{path}: cannot find {old!r}")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def describe(kinds: dict[str, str]) -> str:
    return json.dumps(kinds)
