"""The simulated class of the similarity tests, built from the committed release of conv_pool.

Each submission starts as a copy of ``assignments/conv_pool/`` written straight into the
course's ``submitted/<student>/conv_pool/`` (no grading pipeline involved). Its stubs are then
filled in one of three ways:

- ``implementations/<name>.py``: each function's body replaces the stub (see that package);
- ``REFERENCE_COPY``: the instructor's solution regions, lightly disguised (two variables
  renamed, end-of-line comments removed), as a student who found the reference would;
- ``VERBATIM_COPY``: the instructor's solution regions exactly as written;
- ``HELPER_COPY``: each task function and solution cell only calls a helper that holds the
  reference's code: module-level helpers at the end of ``layers.py``, the notebook's in an
  added cell before the first solution cell;
- ``RESTRUCTURED_COPY``: the reference with every variable it introduces renamed, two
  independent statements swapped in each function, and dead code added to each function
  and in an added notebook cell;
- ``STUBS``: left as released.
"""

import ast
import dataclasses
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
VERBATIM_COPY, HELPER_COPY, RESTRUCTURED_COPY = "verbatim copy", "helper copy", "restructured copy"
REFERENCE_KINDS = (REFERENCE_COPY, VERBATIM_COPY, HELPER_COPY, RESTRUCTURED_COPY)
# What the restructuring copier adds to every function: it runs, and changes nothing.
DEAD_CODE = """\
unused_total = 0.0
for unused_index in range(3):
    unused_total += unused_index * 0.5 - unused_total / (unused_index + 1)
unused_table = {"mean": unused_total, "count": len(range(7))}
unused_list = sorted(unused_table.values(), reverse=True)[:2]
if False:
    print(unused_list, unused_table.keys())"""
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
        if kind in REFERENCE_KINDS:
            copied = reference_copy(layout, kind)
            fill(folder, copied.bodies, imports=[], library_extra=copied.library_helpers,
                 notebook_extra=copied.notebook_helpers)
        elif kind != STUBS:
            bodies, imports = implementation_bodies(IMPLEMENTATIONS / f"{kind}.py")
            fill(folder, bodies, imports)
    return layout


def fill(folder: Path, bodies: dict[str, str], imports: list[str], library_extra: str = "",
         notebook_extra: str = "") -> None:
    """Replace the stub of every function named in ``bodies``, in layers.py and in the notebook's cells;
    ``library_extra`` goes to the end of layers.py, ``notebook_extra`` into a new cell before the first
    solution cell."""
    layers = folder / "cs231n_lib" / "layers.py"
    text = layers.read_text(encoding="utf-8")
    for name, body in bodies.items():
        text = splice(text, name, body)
    if library_extra:
        text = text.rstrip("\n") + "\n\n\n" + library_extra + "\n"
    layers.write_text(_with_imports(text, imports), encoding="utf-8")
    notebook_path = folder / "ConvPool.ipynb"
    notebook = read_notebook(notebook_path)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            source = "\n".join(cell_lines(cell))
            for name, body in bodies.items():
                source = splice(source, name, body)
            cell["source"] = source
    if notebook_extra:
        first = next(i for i, c in enumerate(notebook["cells"])
                     if c.get("cell_type") == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution"))
        notebook["cells"].insert(first, {"cell_type": "code", "execution_count": None, "metadata": {},
                                         "outputs": [], "source": notebook_extra})
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


@dataclasses.dataclass(frozen=True)
class ReferenceCopy:
    bodies: dict[str, str]       # {function: what replaces its stub}
    library_helpers: str         # module-level code added to layers.py
    notebook_helpers: str        # an added notebook cell


def reference_copy(layout: Layout, kind: str) -> ReferenceCopy:
    """The reference as a student of ``kind`` (one of REFERENCE_KINDS) hands it in."""
    library, notebook = {}, {}
    for region in reference_regions(layout):
        (library if region.in_library else notebook)[region.function] = region
    if kind == VERBATIM_COPY:
        return ReferenceCopy({r.function: r.body for r in [*library.values(), *notebook.values()]}, "", "")
    if kind == REFERENCE_COPY:
        return ReferenceCopy({r.function: _disguised(r.body) for r in [*library.values(), *notebook.values()]}, "", "")
    if kind == HELPER_COPY:
        bodies, helpers = {}, {}
        for where, regions in (("library", library), ("notebook", notebook)):
            helpers[where] = "\n\n\n".join(_helper_wrapped(region, bodies) for region in regions.values())
        return ReferenceCopy(bodies, helpers["library"], helpers["notebook"])
    if kind == RESTRUCTURED_COPY:
        bodies = {r.function: _restructured(r) for r in [*library.values(), *notebook.values()]}
        return ReferenceCopy(bodies, "", DEAD_CODE)
    raise ValueError(f"unknown kind of reference copy {kind!r}: expected one of {', '.join(REFERENCE_KINDS)}")


@dataclasses.dataclass(frozen=True)
class ReferenceRegion:
    """One solution region of the reference, with the names it takes from and gives to its function."""
    function: str
    in_library: bool
    body: str                    # dedented, markers left out
    inputs: tuple[str, ...]      # read in the region, defined before it in the function (or parameters)
    outputs: tuple[str, ...]     # written in the region, read after it
    local: tuple[str, ...]       # written in the region only
    returns: bool                # the region itself returns


def reference_regions(layout: Layout) -> list[ReferenceRegion]:
    """Every solution region of cs231n_lib/layers.py and of the solution notebook's cells that lies in a function."""
    sources = [(True, (layout.lib_dir / "layers.py").read_text(encoding="utf-8"))]
    notebook = read_notebook(layout.solutions_dir / ASSIGNMENT / "ConvPool.ipynb")
    sources += [(False, "\n".join(cell_lines(c))) for c in notebook["cells"]
                if c.get("cell_type") == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    regions = []
    for in_library, source in sources:
        lines = source.split("\n")
        functions = [node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]
        for region in find_solution_regions(source, "reference"):
            owner = next((f for f in functions if f.lineno < region.begin < f.end_lineno), None)
            if owner is None:
                continue   # a written answer's cell
            body = textwrap.dedent("\n".join(lines[region.begin:region.end - 1]))
            tree = ast.parse(body)
            before = {a.arg for a in owner.args.args} | _names(
                [s for s in owner.body if s.end_lineno < region.begin], ast.Store)
            after = _names([s for s in owner.body if s.lineno > region.end], ast.Load)
            written = _names(tree.body, ast.Store)
            regions.append(ReferenceRegion(
                function=owner.name, in_library=in_library, body=body,
                inputs=tuple(sorted(_names(tree.body, ast.Load) & before)),
                outputs=tuple(sorted(written & after)), local=tuple(sorted(written - before - after)),
                returns=any(isinstance(s, ast.Return) for s in tree.body)))
    return regions


def _helper_wrapped(region: ReferenceRegion, bodies: dict[str, str]) -> str:
    """The helper holding ``region``'s code; the call that replaces the stub goes into ``bodies``."""
    helper = f"_{region.function}_work"
    call = f"{helper}({', '.join(region.inputs)})"
    if region.returns:
        bodies[region.function] = f"return {call}"
        ending = ""
    else:
        bodies[region.function] = f"{', '.join(region.outputs)} = {call}"
        ending = f"\n    return {', '.join(region.outputs)}"
    return f"def {helper}({', '.join(region.inputs)}):\n" + textwrap.indent(region.body, "    ") + ending


def _restructured(region: ReferenceRegion) -> str:
    """Every name the region introduces renamed, its first two independent statements swapped, dead code first."""
    body = region.body
    for name in region.local:
        body = re.sub(rf"(?<!\.)\b{name}\b", f"{name.strip('_') or 'unused'}_mine", body)
    return DEAD_CODE + "\n" + _swap_first_independent(body)


def _swap_first_independent(body: str) -> str:
    lines = body.split("\n")
    statements = ast.parse(body).body
    for first, second in zip(statements, statements[1:]):
        one_line = first.lineno == first.end_lineno and second.lineno == second.end_lineno
        writes = lambda s: _names([s], ast.Store)   # noqa: E731
        reads = lambda s: _names([s], ast.Load)     # noqa: E731
        independent = not (writes(first) & (reads(second) | writes(second)) or writes(second) & reads(first))
        if one_line and independent and not isinstance(first, ast.Return) and not isinstance(second, ast.Return):
            lines[first.lineno - 1], lines[second.lineno - 1] = lines[second.lineno - 1], lines[first.lineno - 1]
            break
    return "\n".join(lines)


def _names(statements: list[ast.stmt], context: type) -> set[str]:
    return {node.id for statement in statements for node in ast.walk(statement)
            if isinstance(node, ast.Name) and isinstance(node.ctx, context)}


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
