"""``ast.parse`` that grading threads can share.

CPython 3.11 keeps the AST constructor's recursion depth in per-interpreter state, so two
threads parsing at once can fail with ``SystemError: AST constructor recursion depth
mismatch`` (python/cpython#106905). ``grade --jobs N`` parses notebooks and submissions in
N threads; one lock around the parser costs milliseconds and removes the race.
"""

import ast
import threading

_PARSER = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, one thread at a time."""
    with _PARSER:
        return ast.parse(source, filename)
