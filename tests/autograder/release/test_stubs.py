"""The stub step on small synthetic modules: what it replaces, what it keeps, what it refuses."""

import ast
import textwrap
from pathlib import Path

import pytest

from autograder.errors import ReleaseError
from autograder.stubs import stub_library, stub_source
from autograder.tasks import Task, load_catalog

from .kit import MORE_SOURCE, OPS_SOURCE, make_kit


def task(qualname, module="ops"):
    return Task(f"{module}.{qualname}", "first", "First.ipynb", Path(f"{module}.py"), qualname)


OPS_TASKS = {"double": task("double"), "Scaler.scale": task("Scaler.scale")}


def stub(source, tasks=None):
    return stub_source(textwrap.dedent(source), "ops.py", OPS_TASKS if tasks is None else tasks)


def test_each_region_becomes_one_raise_at_its_indentation():
    result = stub_source(OPS_SOURCE, "ops.py", OPS_TASKS)
    lines = result.text.splitlines()
    assert ('    raise NotImplementedError("ops.double: your task in first/First.ipynb; '
            'see the notebook\'s instructions")') in lines
    assert ('        raise NotImplementedError("ops.Scaler.scale: your task in first/First.ipynb; '
            'see the notebook\'s instructions")') in lines
    assert result.tasks == ("double", "Scaler.scale")
    ast.parse(result.text)


def test_everything_outside_the_regions_is_kept_byte_for_byte():
    source = OPS_SOURCE.replace("\n", "\r\n")  # line endings too
    result = stub_source(source, "ops.py", OPS_TASKS)
    expected, inside = [], False
    for line in source.splitlines(keepends=True):
        inside = inside or "### BEGIN SOLUTION" in line
        if not inside:
            expected.append(line)
        inside = inside and "### END SOLUTION" not in line
    stubbed = [line for line in result.text.splitlines(keepends=True) if "NotImplementedError" not in line]
    assert stubbed == expected
    assert all(line.endswith("\r\n") for line in result.text.splitlines(keepends=True))


def test_docstrings_are_untouched():
    tree = ast.parse(stub_source(OPS_SOURCE, "ops.py", OPS_TASKS).text)
    docstrings = {node.name: ast.get_docstring(node) for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef)}
    assert docstrings["double"] == "Twice x."
    assert docstrings["scale"] == "x times the factor."
    assert ast.get_docstring(tree) == "Two tiny ops; docstrings stay as they are."


def test_a_module_without_regions_is_returned_unchanged():
    source = "def given(x):\n    return x + 1\n"
    assert stub_source(source, "ops.py", {}).text == source


def test_a_stub_raises_not_implemented_error_naming_task_and_notebook():
    namespace = {}
    exec(compile(stub_source(OPS_SOURCE, "ops.py", OPS_TASKS).text, "ops.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r"^ops\.double: your task in first/First\.ipynb"):
        namespace["double"](3)
    with pytest.raises(NotImplementedError, match=r"ops\.Scaler\.scale: .*first/First\.ipynb"):
        namespace["Scaler"](2).scale(3)
    assert namespace["given"](1) == 2


@pytest.mark.parametrize("source, message", [
    ("""\
     def double(x):
         ### BEGIN SOLUTION
         return x
     """, r"ops\.py:2: .*never closed"),
    ("""\
     def double(x):
         return x
         ### END SOLUTION
     """, r"ops\.py:3: .*without a '### BEGIN SOLUTION'"),
    ("""\
     def double(x):
         ### BEGIN SOLUTION
         ### BEGIN SOLUTION
         return x
         ### END SOLUTION
     """, r"ops\.py:3: .*cannot nest"),
    ("""\
     def double(x):
         ### BEGIN SOLUTION
         return x
     ### END SOLUTION
     """, r"ops\.py:4: .*must line up"),
    ("""\
     def double(x):
         # BEGIN SOLUTION
         return x
     """, r"ops\.py:2: expected a marker line reading exactly"),
    ('''\
     def double(x):
         """Do not write BEGIN SOLUTION here."""
     ''', r"ops\.py:2: .*outside a marker comment \(in a string\)"),
])
def test_bad_markers_are_errors_naming_file_and_line(source, message):
    with pytest.raises(ReleaseError, match=message):
        stub(source)


def test_a_region_in_an_unlisted_function_is_an_error():
    with pytest.raises(ReleaseError, match=r"ops\.py:2: solution region in 'helper', which tasks.toml does not list"):
        stub("""\
            def helper(x):
                ### BEGIN SOLUTION
                return x
                ### END SOLUTION
            """)


def test_a_region_in_a_nested_function_belongs_to_the_nested_function():
    with pytest.raises(ReleaseError, match=r"'double\.<locals>\.inner', which tasks.toml does not list"):
        stub("""\
            def double(x):
                def inner():
                    ### BEGIN SOLUTION
                    return x
                    ### END SOLUTION
                return inner()
            """)


@pytest.mark.parametrize("source", [
    "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
    "class Scaler:\n    ### BEGIN SOLUTION\n    factor = 2\n    ### END SOLUTION\n",
])
def test_a_region_outside_any_function_is_an_error(source):
    with pytest.raises(ReleaseError, match=r"ops\.py:\d+: solution region outside any function"):
        stub(source)


def test_the_library_check_finds_a_listed_function_without_a_region(tmp_path):
    layout = make_kit(tmp_path)
    (layout.lib_dir / "sub" / "more.py").write_text("def triple(x):\n    return 3 * x\n")
    catalog = load_catalog(layout.tasks_file, layout.lib_dir)
    with pytest.raises(ReleaseError, match=r"tasks.toml lists sub\.more\.triple, but it has no solution region"):
        stub_library(layout.lib_dir, catalog)


def test_the_library_stubs_every_file_with_regions(tmp_path):
    layout = make_kit(tmp_path)
    changed = stub_library(layout.lib_dir, load_catalog(layout.tasks_file, layout.lib_dir))
    assert sorted(changed) == [Path("ops.py"), Path("sub/more.py")]
    assert "sub.more.triple: your task in second/Second.ipynb" in changed[Path("sub/more.py")]
    assert MORE_SOURCE.splitlines()[0] == changed[Path("sub/more.py")].splitlines()[0]
