"""Grading threads parse notebooks and submissions one at a time (CPython 3.11's AST race)."""

import ast
from concurrent.futures import ThreadPoolExecutor

from autograder import notebook_spec, python_ast
from autograder.grading import integrity


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
