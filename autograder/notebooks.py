"""Notebooks as the release sees them: what the instructor's source hides, and stable output.

Notebooks are handled as plain JSON (not through nbformat's upgrade path) so that nothing
is added, reordered or given a random cell id behind our back.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

from .errors import ReleaseError

# Region kinds nbgrader removes from a notebook, by their begin/end words (nbgrader matches
# these words anywhere in a line, so do we).
REGION_WORDS = {
    "solution": ("BEGIN SOLUTION", "END SOLUTION"),
    "hidden test": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    "mark scheme": ("BEGIN MARK SCHEME", "END MARK SCHEME"),
}
# What a cleared solution cell holds in the student notebook (the course's
# ClearSolutions.code_stub: nbgrader's default raises with no message).
NOTEBOOK_STUB_MESSAGE = "your code goes here: replace this line with your solution, as the instructions above say"
NOTEBOOK_CODE_STUB = f"# YOUR CODE HERE\nraise NotImplementedError({NOTEBOOK_STUB_MESSAGE!r})"
# What a cleared written answer holds (nbgrader's ClearSolutions.text_stub, which the course keeps).
NOTEBOOK_TEXT_STUB = "YOUR ANSWER HERE"
# What nbgrader puts in place of a solution (its defaults and ours); public by construction.
NBGRADER_STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()", NOTEBOOK_TEXT_STUB,
                       *NOTEBOOK_CODE_STUB.splitlines())

# Cell metadata that records when or how long a cell ran: different on every run, never content.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")


def read_notebook(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReleaseError(f"{path}: expected a Jupyter notebook (JSON): {error}") from None


def parse_submitted_notebook(data: bytes) -> dict:
    """A notebook a student submitted, parsed within limits (size, nesting) before JSON sees it.

    Raises ValueError saying what is wrong; never RecursionError, whatever the bytes.
    """
    from .files import LIMITS
    from .grading.wire import Limits, WireError, parse_json
    try:
        notebook = parse_json(data, Limits(json_bytes=LIMITS.notebook_bytes, depth=64))
    except WireError as error:
        raise ValueError(f"not a valid notebook file: {error}") from None
    if not isinstance(notebook.get("cells", []), list):
        raise ValueError("not a valid notebook file: its cells are not a list")
    return notebook


def write_notebook(notebook: dict, path: Path) -> None:
    """Stable bytes: nbformat's own layout (indent 1, sorted keys, UTF-8, final newline)."""
    text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    Path(path).write_bytes(text.encode("utf-8"))


def cell_lines(cell: dict) -> list[str]:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else source
    return text.splitlines()


@dataclasses.dataclass
class NotebookText:
    """The lines of source notebooks sorted by who may see them."""
    public: set[str] = dataclasses.field(default_factory=set)
    # stripped line -> where it comes from, e.g. "ConvPool.ipynb cell 7 (hidden test)"
    instructor_only: dict[str, str] = dataclasses.field(default_factory=dict)


def split_notebook_text(notebook: dict, name: str, into: NotebookText) -> NotebookText:
    """Add the lines of a source notebook to ``into``: public, or instructor-only with their origin.

    A solution cell without markers is instructor-only as a whole (nbgrader replaces all of it).
    """
    for index, cell in enumerate(notebook.get("cells", [])):
        lines = cell_lines(cell)
        is_solution_cell = bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))
        has_solution_region = any(REGION_WORDS["solution"][0] in line for line in lines)
        open_kind, open_line = None, None
        for line_number, line in enumerate(lines, start=1):
            where = f"{name} cell {index} line {line_number}"
            kind, is_begin = _marker_on(line)
            if kind is not None:
                if is_begin and open_kind is not None:
                    raise ReleaseError(f"{where}: a {kind} region opens inside the {open_kind} region "
                                       f"opened at line {open_line}; regions cannot nest")
                if not is_begin and open_kind != kind:
                    raise ReleaseError(f"{where}: the end of a {kind} region, but "
                                       f"{'no region' if open_kind is None else 'a ' + open_kind + ' region'} is open")
                open_kind, open_line = (kind, line_number) if is_begin else (None, None)
                continue
            if open_kind is not None:
                _add_instructor_line(into, line, f"{where} ({open_kind})")
            elif is_solution_cell and not has_solution_region:
                _add_instructor_line(into, line, f"{where} (solution cell)")
            else:
                into.public.add(line.strip())
        if open_kind is not None:
            raise ReleaseError(f"{name} cell {index} line {open_line}: the {open_kind} region is never closed")
    into.public.update(NBGRADER_STUB_LINES)
    return into


def with_stable_cell_ids(notebook: dict, name: str) -> dict:
    """Give every cell an id (nbformat 4.5) derived from the notebook name and position.

    nbformat invents random ids for cells without one; deriving them keeps the release
    identical from one build to the next. Existing ids are kept.
    """
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) < (4, 5):
        notebook["nbformat"], notebook["nbformat_minor"] = 4, 5
    taken = {cell["id"] for cell in notebook.get("cells", []) if "id" in cell}
    for index, cell in enumerate(notebook.get("cells", [])):
        if "id" in cell:
            continue
        salt = 0
        while True:
            candidate = hashlib.sha1(f"{name}:{index}:{salt}".encode()).hexdigest()[:8]
            if candidate not in taken:
                break
            salt += 1
        cell["id"] = candidate
        taken.add(candidate)
    return notebook


def without_volatile_metadata(notebook: dict) -> dict:
    """Drop run timestamps from cell metadata (they change on every execution)."""
    for cell in notebook.get("cells", []):
        metadata = cell.get("metadata", {})
        for key in VOLATILE_CELL_METADATA:
            metadata.pop(key, None)
    return notebook


def _marker_on(line: str) -> tuple[str | None, bool]:
    for kind, (begin, end) in REGION_WORDS.items():
        if begin in line:
            return kind, True
        if end in line:
            return kind, False
    return None, False


def _add_instructor_line(text: NotebookText, line: str, origin: str) -> None:
    text.instructor_only.setdefault(line.strip(), origin)
