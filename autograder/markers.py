"""The marker pair nbgrader uses, and where the solution regions of a Python file are.

Only a comment that is alone on its line and reads exactly ``### BEGIN SOLUTION`` or
``### END SOLUTION`` is a marker; ``tokenize`` tells comments from strings. Marker words
anywhere else (a docstring, a string, a loose spelling such as ``# BEGIN SOLUTION``) are an
error: the leak scan would reject the release later, so say it now, with the line.
"""

import dataclasses
import io
import tokenize

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"

# The words nbgrader itself looks for (it matches them anywhere in a line); none may reach students.
MARKER_WORDS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

from .errors import ReleaseError  # noqa: E402  (after the constants other modules import)


@dataclasses.dataclass(frozen=True)
class Region:
    """One solution region: the lines ``begin`` .. ``end`` (1-based, both markers included)."""
    begin: int
    end: int
    indent: str


def marker_word_in(text: str) -> str | None:
    """The first marker word found in ``text``, else None."""
    for word in MARKER_WORDS:
        if word in text:
            return word
    return None


def find_solution_regions(source: str, filename: str) -> list[Region]:
    """Solution regions of a Python source, in file order.

    >>> src = "def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION\\n"
    >>> find_solution_regions(src, "f.py")
    [Region(begin=2, end=4, indent='    ')]
    """
    regions = []
    open_line, open_indent = None, None
    for line_number, indent, marker in _marker_comments(source, filename):
        if marker == BEGIN_SOLUTION:
            if open_line is not None:
                raise ReleaseError(f"{filename}:{line_number}: '{BEGIN_SOLUTION}' inside the region opened "
                                   f"at line {open_line}; regions cannot nest, close it first")
            open_line, open_indent = line_number, indent
        else:
            if open_line is None:
                raise ReleaseError(f"{filename}:{line_number}: '{END_SOLUTION}' without a "
                                   f"'{BEGIN_SOLUTION}' before it")
            if indent != open_indent:
                raise ReleaseError(f"{filename}:{line_number}: '{END_SOLUTION}' is indented {indent!r}, "
                                   f"its '{BEGIN_SOLUTION}' at line {open_line} {open_indent!r}; "
                                   f"a region's markers must line up")
            regions.append(Region(begin=open_line, end=line_number, indent=indent))
            open_line = None
    if open_line is not None:
        raise ReleaseError(f"{filename}:{open_line}: '{BEGIN_SOLUTION}' is never closed by '{END_SOLUTION}'")
    return regions


def _marker_comments(source: str, filename: str):
    """Yield (line number, indentation, marker) for each marker comment; reject stray marker words."""
    lines = source.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as error:
        raise ReleaseError(f"{filename}: cannot tokenize: {error}") from None
    for token in tokens:
        word = marker_word_in(token.string)
        if word is None:
            continue
        line_number, column = token.start
        if token.type != tokenize.COMMENT:
            raise ReleaseError(f"{filename}:{line_number}: the words '{word}' appear outside a marker comment "
                               f"(in a {tokenize.tok_name[token.type].lower()}); the release would leak them, "
                               f"spell them differently")
        text = token.string.strip()
        before = lines[line_number - 1][:column]
        if text not in (BEGIN_SOLUTION, END_SOLUTION) or before.strip():
            raise ReleaseError(f"{filename}:{line_number}: expected a marker line reading exactly "
                               f"'{BEGIN_SOLUTION}' or '{END_SOLUTION}' on its own, "
                               f"got {lines[line_number - 1].rstrip()!r}")
        yield line_number, before, text
