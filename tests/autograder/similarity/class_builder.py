"""The simulated class of the similarity tests, built from the committed release of conv_pool.

Each submission starts as a copy of ``assignments/conv_pool/`` written straight into the
course's ``submitted/<student>/conv_pool/`` (no grading pipeline involved). Its stubs are then
filled in one of three ways:

- ``implementations/<name>.py``: each function's body replaces the stub (see that package);
- ``REFERENCE_COPY``: the instructor's solution regions, lightly disguised (two variables
  renamed, end-of-line comments removed), as a student who found the reference would;
- ``STUBS``: left as released.
"""

import ast
import re
import shutil
import textwrap
from pathlib import Path

from autograder.course import Layout
from autograder.markers import find_solution_regions
from autograder.notebooks import cell_lines, read_notebook, write_notebook

ASSIGNMENT = "conv_pool"
IMPLEMENTATIONS = Path(__file__).resolve().parent / "implementations"
REFERENCE_COPY, STUBS = "reference copy", "stubs"
# What the copier renames in the reference (whole words only).
DISGUISE = {"x_pad": "padded_input", "window": "win", "dx_pad": "grad_padded"}
NOTEBOOK_STUB_START = "# YOUR CODE HERE"


def build_class(root: Path, students: dict[str, str]) -> Layout:
    """A course directory under ``root`` with one submission per student: ``{student: implementation name,
    REFERENCE_COPY or STUBS}``."""
    layout = Layout.of_repo().with_outputs(course_dir=Path(root) / "course")
    release = layout.assignments_dir / ASSIGNMENT
    for student, kind in students.items():
        folder = layout.submitted_dir(ASSIGNMENT, student)
        shutil.copytree(release, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if kind == REFERENCE_COPY:
            fill(folder, reference_bodies(layout), imports=[])
        elif kind != STUBS:
            bodies, imports = implementation_bodies(IMPLEMENTATIONS / f"{kind}.py")
            fill(folder, bodies, imports)
    return layout


def fill(folder: Path, bodies: dict[str, str], imports: list[str]) -> None:
    """Replace the stub of every function named in ``bodies``, in layers.py and in the notebook's cells."""
    layers = folder / "cs231n_lib" / "layers.py"
    text = layers.read_text(encoding="utf-8")
    for name, body in bodies.items():
        text = splice(text, name, body)
    layers.write_text(_with_imports(text, imports), encoding="utf-8")
    notebook_path = folder / "ConvPool.ipynb"
    notebook = read_notebook(notebook_path)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            source = "\n".join(cell_lines(cell))
            for name, body in bodies.items():
                source = splice(source, name, body)
            cell["source"] = source
    write_notebook(notebook, notebook_path)


def splice(text: str, function: str, body: str) -> str:
    """``text`` with the stub of ``def function(`` (its ``raise NotImplementedError``, and the notebook's
    ``# YOUR CODE HERE`` before it) replaced by ``body``, indented as the stub was. Unchanged when
    ``text`` does not define ``function``."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if re.match(rf"\s*def {function}\(", line)]
    if not starts:
        return text
    stub = next(i for i in range(starts[0], len(lines)) if lines[i].strip().startswith("raise NotImplementedError"))
    first = stub - 1 if lines[stub - 1].strip() == NOTEBOOK_STUB_START else stub
    indent = lines[stub][:len(lines[stub]) - len(lines[stub].lstrip())]
    new = [indent + line if line.strip() else "" for line in body.split("\n")]
    return "\n".join(lines[:first] + new + lines[stub + 1:])


def implementation_bodies(path: Path) -> tuple[dict[str, str], list[str]]:
    """({function: its body, dedented, docstring left out}, its import lines but the library's) of an implementation file."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    bodies = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if _is_docstring(node.body[0]) else node.body
            bodies[node.name] = textwrap.dedent("\n".join(lines[body[0].lineno - 1:node.end_lineno]))
    imports = [line for line in lines if line.startswith(("import ", "from ")) and "cs231n_lib" not in line]
    return bodies, imports


def reference_bodies(layout: Layout) -> dict[str, str]:
    """{function: the instructor's solution region, disguised} from cs231n_lib/layers.py and the solution notebook."""
    bodies = {}
    sources = [(layout.lib_dir / "layers.py").read_text(encoding="utf-8")]
    notebook = read_notebook(layout.solutions_dir / ASSIGNMENT / "ConvPool.ipynb")
    sources += ["\n".join(cell_lines(c)) for c in notebook["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for source in sources:
        lines = source.split("\n")
        for region in find_solution_regions(source, "reference"):
            owner = next(re.match(r"\s*def (\w+)\(", lines[i]).group(1) for i in range(region.begin - 1, -1, -1)
                         if re.match(r"\s*def \w+\(", lines[i]))
            body = textwrap.dedent("\n".join(lines[region.begin:region.end - 1]))
            bodies[owner] = _disguised(body)
    return bodies


def _disguised(body: str) -> str:
    for old, new in DISGUISE.items():
        body = re.sub(rf"\b{old}\b", new, body)
    return "\n".join(re.sub(r"\s+# .*$", "", line) for line in body.split("\n"))


def _with_imports(text: str, imports: list[str]) -> str:
    if not imports:
        return text
    tree = ast.parse(text)
    last_import = max(node.end_lineno for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    lines = text.split("\n")
    return "\n".join(lines[:last_import] + imports + lines[last_import:])


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
