"""The notebooks instructors open in formgrader: the student's notebook as graded, and the library part.

formgrader renders these files to HTML in the instructor's own Jupyter session, through
nbconvert, which passes raw HTML in markdown and in raw cells through, and prints a cell's
``grade_id`` into the page unescaped. Everything in a submitted notebook is the student's to
write, so a copy that kept it would run the student's script in the TA's browser, where it
could give grades through formgrader's own API. Each copy is therefore rebuilt from what the
grader decided, and every piece of student text in it is made inert
(``tests/autograder/grading/test_hostile_notebooks.py::test_the_graded_copy_runs_nothing_in_formgrader``):

- notebook metadata: only the kernel's name (no widget state, no title);
- cells: code, or markdown; a raw cell becomes markdown showing its text;
- markdown: rendered as formgrader would (nbconvert's ``markdown2html``), then cleaned with
  bleach (the sanitizer nbconvert itself uses), allowing text formatting and http(s)/mailto
  links only, and stored as one line of HTML so that formgrader's second markdown pass
  cannot reinterpret it;
- cell metadata: only nbgrader's, with the release's points and flags for the cells the
  release grades, and a ``grade_id`` kept only when it is a plain identifier;
- outputs: text, PNG images whose data is base64, and errors (shown as their text).
"""

import base64
import binascii
import copy
import html
import json
import re

import bleach
from nbconvert.filters.markdown import markdown2html

from .. import files
from ..course import CHECKPOINT_CELL, CHECKPOINT_PART, LIBRARY
from ..notebook_spec import NotebookSpec
from .notebook_run import NotebookOutcome, bounded_outputs

# Tags and attributes a written answer may use: text formatting, lists, tables, code, links.
ALLOWED_TAGS = frozenset({"a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4",
                          "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table",
                          "tbody", "td", "th", "thead", "tr", "ul"})
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "th": ["align"], "td": ["align"], "code": ["class"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
SAFE_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}\Z")
# A cell whose text does not fit in what is left of LIMITS.graded_copy_chars (plain text: it runs nothing).
LEFT_OUT = "[this cell is left out of the graded copy: the copy keeps at most LIMITS.graded_copy_chars characters]"
KERNEL_METADATA = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}


def inert_markdown(text: str) -> str:
    """Markdown ``text`` from a student as one line of cleaned HTML, which renders as it would
    have and runs nothing (no script, event handler, frame, style or javascript: link)."""
    rendered = markdown2html(text)
    return _one_html_block(bleach.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                                        protocols=ALLOWED_PROTOCOLS, strip=False))


def inert_text(text: str) -> str:
    """Plain ``text`` (a raw cell, a grader's message) as one line of HTML that shows it verbatim."""
    return _one_html_block(f"<pre>{html.escape(text)}</pre>")


def _one_html_block(clean_html: str) -> str:
    """``clean_html`` on one line in one block: markdown ends an HTML block at a blank line and
    would parse what follows it."""
    one_line = clean_html.replace("\r", "&#13;").replace("\n", "&#10;")
    return f'<div class="student-text">{one_line}</div>'


def graded_copy(notebook: dict, outcome: NotebookOutcome, spec: NotebookSpec) -> dict:
    """The student's notebook as it was graded, for formgrader and instructors: locked and grade
    cells restored, every output from the run, the grading metadata the release gave (a
    student's edit of a cell's points or grade flag must not show in formgrader), and nothing
    the student wrote that can run in the instructor's browser."""
    points = {cell.grade_id: (cell.points, False) for cell in spec.grade_cells}
    points.update({cell.grade_id: (cell.points, True) for cell in spec.manual_cells})
    cells = notebook.get("cells") if isinstance(notebook.get("cells"), list) else []
    copied = []
    room = files.LIMITS.graded_copy_chars   # the cells as written (JSON), in characters
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source")
        source = "".join(str(line) for line in source) if isinstance(source, list) else str(source or "")
        kind = cell.get("cell_type")
        if kind == "code":
            entry = {"cell_type": "code", "execution_count": None, "source": outcome.sources.get(index, source)}
        elif kind == "markdown":
            entry = {"cell_type": "markdown", "source": inert_markdown(source)}
        else:   # raw (or anything else): its text, shown as text
            entry = {"cell_type": "markdown", "source": inert_text(source)}
        if len(entry["source"]) > room:
            entry["source"] = LEFT_OUT
        if kind == "code":
            entry["outputs"], _ = bounded_outputs(_inert_outputs(outcome.outputs.get(index, [])),
                                                  max(0, min(files.LIMITS.cell_output_chars, room - len(entry["source"]))))
        cell_id = cell.get("id")
        entry["id"] = cell_id if isinstance(cell_id, str) and SAFE_ID.match(cell_id) else f"cell-{index}"
        entry["metadata"] = _grading_metadata(cell.get("metadata"), points)
        # As written (in "cells", two levels deep): escapes, keys, metadata and indentation count too.
        size = len(json.dumps([[entry]], indent=1))
        if size > room:   # this cell and the rest (a notebook of many tiny cells) are left out, with a note
            copied.append({"cell_type": "markdown", "id": "left-out", "metadata": {},
                           "source": f"[{len(cells) - index} more cells are left out of the graded copy: it keeps "
                                     f"at most {files.LIMITS.graded_copy_chars} characters]"})
            break
        room -= size
        copied.append(entry)
    return {"cells": copied, "metadata": copy.deepcopy(KERNEL_METADATA), "nbformat": 4, "nbformat_minor": 5}


def _grading_metadata(metadata, points: dict) -> dict:
    """A cell's nbgrader metadata as formgrader may show it: the release's for the cells it
    grades; a solution cell's own id when it is a plain identifier; nothing else."""
    grading = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(grading, dict):
        return {}
    grade_id = grading.get("grade_id")
    if not isinstance(grade_id, str) or not SAFE_ID.match(grade_id):
        return {}
    if grade_id in points:
        cell_points, written = points[grade_id]
        return {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": not written, "points": cell_points,
                             "schema_version": 3, "solution": written, "task": False}}
    return {"nbgrader": {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
                         "solution": grading.get("solution") is True, "task": False}}


def _inert_outputs(outputs: list[dict]) -> list[dict]:
    """Text, base64 PNG images and errors (as text); anything else is left out."""
    kept = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            kept.append({"output_type": "stream", "name": "stderr" if output.get("name") == "stderr" else "stdout",
                         "text": str(output.get("text", ""))})
        elif kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            shown = {}
            if isinstance(data.get("text/plain"), str):
                shown["text/plain"] = data["text/plain"]
            if isinstance(data.get("image/png"), str) and _is_base64(data["image/png"]):
                shown["image/png"] = data["image/png"]
            if shown:
                entry = {"output_type": kind, "data": shown, "metadata": {}}
                if kind == "execute_result":
                    entry["execution_count"] = None
                kept.append(entry)
        elif kind == "error":
            ename, evalue = str(output.get("ename", "")), str(output.get("evalue", ""))
            # nbconvert shows an error by its traceback lines only: the message is one.
            kept.append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]})
    return kept


def _is_base64(data: str) -> bool:
    try:
        base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    return True


def checkpoint_copy(part: dict) -> dict:
    """The checkpoint part as a notebook for instructors (formgrader): one grade cell, its output the
    grader's measurement. Student-made text (a reason may quote the checkpoint) stays in the output's
    plain text, which formgrader escapes."""
    title = (f"# {CHECKPOINT_PART}: the submitted model, evaluated by the grader on the held-out set\n\n"
             f"{part['score']:g} / {part['max_score']:g} points\n")
    lines = [f"{key}: {part[key]}" for key in ("file", "status", "held_out", "examples", "accuracy", "tier",
                                                "reported_accuracy", "spec", "parameters", "flops_per_image",
                                                "seconds", "reason") if part.get(key) is not None]
    meta = {"grade": True, "grade_id": CHECKPOINT_CELL, "locked": True, "points": part["max_score"],
            "schema_version": 3, "solution": False, "task": False}
    cell = {"cell_type": "code", "execution_count": None, "id": "checkpoint-0", "metadata": {"nbgrader": meta},
            "source": f"# {CHECKPOINT_CELL}",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "\n".join(lines) + "\n"},
                        {"output_type": "execute_result", "execution_count": None, "metadata": {},
                         "data": {"text/plain": f"{part['score']:g} / {part['max_score']:g}"}}]}
    return {"cells": [{"cell_type": "markdown", "id": "checkpoint-title", "metadata": {}, "source": title}, cell],
            "metadata": copy.deepcopy(KERNEL_METADATA), "nbformat": 4, "nbformat_minor": 5}


def library_copy(library: dict) -> dict:
    """The library part as a notebook for instructors (formgrader): one grade cell per function.

    Each cell's ``grade_id`` is the function, as in the gradebook's library notebook; its
    output lists the checks, with the diagnosis of each failure, and ends with the score.
    """
    title = (f"# {LIBRARY}: the library functions, graded in the clean room\n\n"
             f"{library['score']:g} / {library['max_score']:g} points\n\n")
    if library.get("error"):   # it may quote a file name from the submission
        title += inert_text(library["error"])
    cells = [{"cell_type": "markdown", "id": "library-title", "metadata": {}, "source": title}]
    for index, function in enumerate(library.get("functions", [])):
        lines = [f"{'PASS' if check['passed'] else 'FAIL'}  {check['name']}  ({check['score']:g}/{check['points']:g})"
                 + ("" if check["passed"] or not check.get("diagnosis") else f": {check['diagnosis']}")
                 for check in function["checks"]] + list(function.get("notes", []))
        meta = {"grade": True, "grade_id": function["task"], "locked": True, "points": function["max_score"],
                "schema_version": 3, "solution": False, "task": False}
        cells.append({"cell_type": "code", "execution_count": None, "id": f"library-{index}",
                      "metadata": {"nbgrader": meta}, "source": f"# {function['task']}",
                      "outputs": [{"output_type": "stream", "name": "stdout", "text": "\n".join(lines) + "\n"},
                                  {"output_type": "execute_result", "execution_count": None, "metadata": {},
                                   "data": {"text/plain": f"{function['score']:g} / {function['max_score']:g}"}}]})
    return {"cells": cells, "metadata": copy.deepcopy(KERNEL_METADATA), "nbformat": 4, "nbformat_minor": 5}
