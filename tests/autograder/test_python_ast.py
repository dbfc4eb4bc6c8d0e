"""Grading threads parse notebooks and submissions one at a time (CPython 3.11's AST race)."""

import ast
import builtins
from concurrent.futures import ThreadPoolExecutor

from autograder import notebook_spec, python_ast
from autograder.grading import integrity, notebook_run
from autograder.notebook_spec import GradeCellSpec


def test_every_grading_parse_holds_the_parser_lock(monkeypatch):
    seen = []
    real_parse = ast.parse

    def watching_parse(source, *args, **kwargs):
        seen.append(python_ast._PARSER.locked())
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", watching_parse)
    notebook_spec.checks_of('with score.check("a", points=1):\n    pass')
    assert integrity.scan_code("import numpy as np\nnp.allclose = lambda *a: True\n", "cell 1", notebook=True)
    assert seen and all(seen)


def test_parsing_from_many_threads_gives_the_same_trees():
    source = "\n".join(f"def f{i}(x):\n    return [[a for a in range(x)] for b in range({i})]" for i in range(200))
    expected = ast.dump(ast.parse(source))

    def work(_):
        return [ast.dump(python_ast.parse(source)) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        dumps = [tree for trees in pool.map(work, range(4)) for tree in trees]   # errors raise here
    assert dumps == [expected] * 20


def test_a_grade_cell_is_parsed_and_compiled_under_the_parser_lock(monkeypatch):
    """Grade cells run in the grader's threads: their trees are made and compiled one at a time
    (a batch of two once failed a student with the race's SystemError)."""
    seen = []
    real_parse, real_compile = ast.parse, builtins.compile

    def watching_parse(source, *args, **kwargs):
        seen.append(("parse", python_ast._PARSER.locked()))
        return real_parse(source, *args, **kwargs)

    def watching_compile(source, *args, **kwargs):
        if isinstance(source, ast.AST):
            seen.append(("compile", python_ast._PARSER.locked()))
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", watching_parse)
    monkeypatch.setattr(builtins, "compile", watching_compile)
    cell = GradeCellSpec(grade_id="t", points=1.0, source="x = 2\nx * 3", checks=(), title="Test: t",
                         hidden_lines=frozenset(), reads=frozenset())
    assert notebook_run._execute(cell, {}) == 6
    assert [kind for kind, _ in seen] == ["parse", "compile", "compile"] and all(locked for _, locked in seen), seen
