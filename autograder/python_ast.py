"""``ast.parse`` and ``compile`` of a tree that grading threads can share.

CPython 3.11 keeps the AST constructor's recursion depth in per-interpreter state, so two
threads turning source into a tree, or a tree into code, at once can fail with
``SystemError: AST constructor recursion depth mismatch`` (python/cpython#106905).
``grade --jobs N`` parses notebooks and submissions, and compiles grade cells, in N threads;
one lock around both costs milliseconds and removes the race.
"""

import ast
import threading

_PARSER = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, one thread at a time."""
    with _PARSER:
        return ast.parse(source, filename)


def compile_tree(tree: ast.AST, filename: str, mode: str):
    """``compile(tree, filename, mode)``, one thread at a time (the same lock as :func:`parse`)."""
    with _PARSER:
        return compile(tree, filename, mode)
