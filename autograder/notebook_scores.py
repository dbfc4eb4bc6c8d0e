"""Score an autograded notebook in the trusted parent, from the instructor's grade cells.

The notebook comes out of a sandbox that ran student code, so it is untrusted data: it is
parsed as plain JSON with every type checked, and each grade cell is looked up by the
``grade_id`` of the instructor's source (:mod:`autograder.notebook_spec`), never by what
the notebook claims. nbgrader's rules, applied here:

- an ``error`` output (an exception, or a cell stopped by the per-cell timeout) scores 0;
- a result (``execute_result``) that is a number scores that number, within [0, points];
- anything else (no result, or a result that is not a number) scores full points.

Unlike nbgrader, output on stderr does not zero a cell (a harmless warning must not cost
points). A grade cell whose code is not the instructor's (a sandbox rewrote the file), or
that is missing or duplicated, scores 0 with the reason.
"""

import json
import math
import re

from .notebook_spec import GradeCellSpec, NotebookSpec
from .notebooks import cell_lines

CHECK_LINE = re.compile(r"^(PASS|FAIL)  (.+?)  \((\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)\)(?::\s?(.*))?$")
MAX_DETAIL = 300


def score_notebook(data: bytes | None, spec: NotebookSpec, missing_reason: str | None = None) -> dict:
    """{"score", "max_score", "cells": [...]} for one autograded notebook (or its absence)."""
    cells_by_id, problem = _grade_cells_of(data) if data is not None else ({}, missing_reason)
    scored = []
    for cell_spec in spec.grade_cells:
        found = cells_by_id.get(cell_spec.grade_id, [])
        if problem:
            scored.append(_lost(cell_spec, "missing", problem))
        elif not found:
            scored.append(_lost(cell_spec, "missing", "this grade cell is not in the graded notebook"))
        elif len(found) > 1:
            scored.append(_lost(cell_spec, "tampered", "this grade cell appears more than once in the notebook"))
        else:
            scored.append(score_cell(found[0], cell_spec))
    return {"score": sum(c["score"] for c in scored), "max_score": spec.max_score, "cells": scored}


def score_cell(cell: dict, spec: GradeCellSpec) -> dict:
    if "\n".join(cell_lines(cell)) != spec.source:
        return _lost(spec, "tampered", "the graded copy of this cell is not the instructor's code")
    outputs = cell.get("outputs")
    if not isinstance(outputs, list):
        return _lost(spec, "missing", "the cell has no outputs list")
    checks = _checks(outputs, spec)
    for output in outputs:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "error":
            name = str(output.get("ename", "error"))[:80]
            if name in ("CellTimeoutError", "KeyboardInterrupt"):   # nbgrader interrupts a cell at its timeout
                return _entry(spec, 0.0, "timeout", "the cell did not finish within the time limit", checks)
            # Only the exception's type: its message may hold hidden test values.
            return _entry(spec, 0.0, "error", f"the cell raised {name}", checks)
        if kind == "execute_result":
            value = _number(output)
            if value is None:
                return _entry(spec, spec.points, "passed", None, checks)
            earned = min(max(value, 0.0), spec.points)
            status = "passed" if earned == spec.points else ("partial" if earned > 0 else "failed")
            return _entry(spec, earned, status, None, checks)
    return _entry(spec, spec.points, "passed", None, checks)


def _grade_cells_of(data: bytes) -> tuple[dict[str, list[dict]], str | None]:
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}, "the graded notebook is not valid JSON"
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return {}, "the graded notebook has no list of cells"
    by_id: dict[str, list[dict]] = {}
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("metadata"), dict):
            continue
        meta = cell["metadata"].get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            by_id.setdefault(meta["grade_id"], []).append(cell)
    return by_id, None


def _number(output: dict) -> float | None:
    data = output.get("data")
    text = data.get("text/plain") if isinstance(data, dict) else None
    if isinstance(text, list):
        text = "".join(t for t in text if isinstance(t, str))
    if not isinstance(text, str) or len(text) > 100:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return 0.0 if math.isnan(value) else value


def _checks(outputs: list, spec: GradeCellSpec) -> list[dict]:
    """The instructor's checks of the cell with what the stdout lines say of them.

    Only names the instructor wrote are reported (a student's print cannot add a check);
    a failure's detail is kept for public checks only.
    """
    said: dict[str, tuple[bool, str | None]] = {}
    for output in outputs:
        if not isinstance(output, dict) or output.get("output_type") != "stream" or output.get("name") != "stdout":
            continue
        text = output.get("text", "")
        text = "".join(t for t in text if isinstance(t, str)) if isinstance(text, list) else text
        if not isinstance(text, str):
            continue
        for line in text.splitlines():
            match = CHECK_LINE.match(line)
            if match:
                said.setdefault(match.group(2), (match.group(1) == "PASS", match.group(5)))
    checks = []
    for check in spec.checks:
        passed, detail = said.get(check.name, (None, None))
        checks.append({"name": check.name, "hidden": check.hidden, "points": check.points, "passed": passed,
                       "detail": None if (check.hidden or passed or not detail) else detail[:MAX_DETAIL]})
    return checks


def _entry(spec: GradeCellSpec, score: float, status: str, reason: str | None, checks: list[dict]) -> dict:
    return {"grade_id": spec.grade_id, "title": spec.title, "points": spec.points, "score": float(score),
            "status": status, "reason": reason, "checks": checks}


def _lost(spec: GradeCellSpec, status: str, reason: str) -> dict:
    checks = [{"name": c.name, "hidden": c.hidden, "points": c.points, "passed": None, "detail": None}
              for c in spec.checks]
    return _entry(spec, 0.0, status, reason, checks)
