"""Turn the reference library into student stubs: each solution region becomes one ``raise``.

Everything outside the regions is kept byte for byte (line endings included). Each region
must sit in a function that ``tasks.toml`` lists, and each listed function must hold at
least one region; anything else stops the release. The enclosing function is found from
the stubbed code itself: the ``raise`` that replaces a region is a real statement, so the
innermost function around it in the AST is exactly the function a student will edit.
"""

import ast
import dataclasses
from pathlib import Path

from .errors import ReleaseError
from .course import is_ignored
from .markers import Region, find_solution_regions
from .tasks import Catalog, Task


def stub_message(task: Task) -> str:
    return (f"{task.name}: your task in {task.assignment}/{task.notebook}; "
            f"see the notebook's instructions")


@dataclasses.dataclass(frozen=True)
class StubbedModule:
    text: str
    tasks: tuple[str, ...]   # qualnames whose regions were replaced, in file order, without repeats


def stub_source(source: str, filename: str, tasks: dict[str, Task]) -> StubbedModule:
    """Replace every solution region of ``source``; ``tasks`` maps qualname -> Task for this file.

    >>> from pathlib import Path
    >>> task = Task("ops.double", "a1", "A1.ipynb", Path("ops.py"), "double")
    >>> src = "def double(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION\\n"
    >>> print(stub_source(src, "ops.py", {"double": task}).text, end="")
    def double(x):
        raise NotImplementedError("ops.double: your task in a1/A1.ipynb; see the notebook's instructions")
    """
    regions = find_solution_regions(source, filename)
    if not regions:
        return StubbedModule(text=source, tasks=())
    # Pass 1: a bare raise per region, to learn which function each region lives in.
    bare = _replace_regions(source, regions, lambda _region: "raise NotImplementedError")
    owners = _enclosing_functions(bare.text, filename, bare.stub_lines)
    for region, qualname in zip(regions, owners):
        if qualname is None:
            raise ReleaseError(f"{filename}:{region.begin}: solution region outside any function; "
                               f"a region must sit inside a function that tasks.toml lists")
        if qualname not in tasks:
            raise ReleaseError(f"{filename}:{region.begin}: solution region in {qualname!r}, which tasks.toml "
                               f"does not list; expected one of {sorted(tasks) or 'no function of this file'}")
    # Pass 2: the real message, naming the task and the notebook that checks it.
    by_region = dict(zip(regions, owners))
    final = _replace_regions(source, regions,
                             lambda region: f"raise NotImplementedError({_python_string(stub_message(tasks[by_region[region]]))})")
    try:
        ast.parse(final.text, filename)
    except SyntaxError as error:  # cannot happen when pass 1 parsed; kept as a fail-closed guard
        raise ReleaseError(f"{filename}: the stubbed module does not parse: {error}") from None
    return StubbedModule(text=final.text, tasks=tuple(dict.fromkeys(owners)))


def stub_library(lib_dir: Path, catalog: Catalog) -> dict[Path, str]:
    """Stub every ``.py`` file of ``lib_dir``: {relative path: new text} for the files that change.

    Checks the regions against the catalog both ways: no region outside a listed function,
    no listed function without a region.
    """
    lib_dir = Path(lib_dir)
    expected = catalog.tasks_by_file()
    changed: dict[Path, str] = {}
    found: dict[Path, set[str]] = {}
    for path in python_files(lib_dir):
        relative = path.relative_to(lib_dir)
        source = _read_source(path)
        stubbed = stub_source(source, f"{lib_dir.name}/{relative.as_posix()}", expected.get(relative, {}))
        found[relative] = set(stubbed.tasks)
        if stubbed.text != source:
            changed[relative] = stubbed.text
    missing = [task.name for file_tasks in expected.values() for qualname, task in file_tasks.items()
               if qualname not in found.get(task.module_file, set())]
    if missing:
        raise ReleaseError(f"tasks.toml lists {', '.join(missing)}, but {'it has' if len(missing) == 1 else 'they have'} "
                           f"no solution region in {lib_dir.name}/; expected a "
                           f"'### BEGIN SOLUTION' ... '### END SOLUTION' pair in each listed function")
    return changed


def write_stubs(lib_dir: Path, catalog: Catalog) -> list[Path]:
    """Stub the library copy at ``lib_dir`` in place; returns the files rewritten."""
    changed = stub_library(lib_dir, catalog)
    for relative, text in changed.items():
        (Path(lib_dir) / relative).write_bytes(text.encode("utf-8"))
    return sorted(changed)


def python_files(root: Path) -> list[Path]:
    """Every ``.py`` file under ``root``, sorted, skipping caches and checkpoints."""
    return sorted(p for p in Path(root).rglob("*.py")
                  if not is_ignored(p.relative_to(root)))


# ----------------------------------------------------------------------------- helpers

@dataclasses.dataclass(frozen=True)
class _Replaced:
    text: str
    stub_lines: list[int]   # 1-based line of each region's stub in the new text


def _replace_regions(source: str, regions: list[Region], statement) -> _Replaced:
    lines = source.splitlines(keepends=True)
    out, stub_lines, position = [], [], 0
    for region in regions:
        out.extend(lines[position:region.begin - 1])
        begin_line = lines[region.begin - 1]
        ending = begin_line[len(begin_line.rstrip("\r\n")):] or "\n"
        stub_lines.append(len(out) + 1)
        out.append(f"{region.indent}{statement(region)}{ending}")
        position = region.end
    out.extend(lines[position:])
    return _Replaced(text="".join(out), stub_lines=stub_lines)


def _enclosing_functions(text: str, filename: str, stub_lines: list[int]) -> list[str | None]:
    """Qualname of the innermost function around the ``raise`` at each line (None at module/class level)."""
    try:
        tree = ast.parse(text, filename)
    except SyntaxError as error:
        raise ReleaseError(f"{filename}: with its solution regions replaced by 'raise', the module does not "
                           f"parse ({error.msg} at stubbed line {error.lineno}); a region must hold whole "
                           f"statements of one function body") from None
    owner_of_line: dict[int, str | None] = {}

    def visit(node, scope: list[str], function: str | None):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = ".".join(scope + [child.name])
                visit(child, scope + [child.name, "<locals>"], qualname)
            elif isinstance(child, ast.ClassDef):
                visit(child, scope + [child.name], None)
            else:
                if isinstance(child, ast.Raise) and child.lineno in wanted:
                    owner_of_line[child.lineno] = function
                visit(child, scope, function)

    wanted = set(stub_lines)
    visit(tree, [], None)
    return [owner_of_line.get(line) for line in stub_lines]


def _python_string(message: str) -> str:
    if '"' in message or "\\" in message or "\n" in message:
        raise ReleaseError(f"stub message {message!r} cannot be a plain double-quoted string; "
                           f"rename the task or notebook")
    return f'"{message}"'


def _read_source(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"{path}: expected UTF-8 Python source: {error}") from None
