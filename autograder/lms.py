"""Grades into the LMS: the gradebook CSV that Canvas or Moodle imports, built on the LMS's own roster.

The instructor exports the course's gradebook from the LMS (Canvas: Grades > Export > Export
Entire Gradebook; Moodle: Grades > Export > Plain text file) and passes it as the roster. Its
header tells which LMS it came from (:data:`FORMATS`). The kit writes the same file back
with one column for the assignment, in the LMS's import format:

- Canvas: ``Student, ID, SIS User ID, SIS Login ID, Section``, then the assignment's column
  (the roster's column of that name, ``conv_pool (123456)``, so Canvas updates that
  assignment; else a new column, which Canvas creates as a new assignment), and the
  ``Points Possible`` row Canvas's own export has;
- Moodle: ``First name, Last name, ID number, Email address``, then the assignment's
  column; Moodle's import maps the identifier column and the grade column by hand.

Rules, and why:

- every graded student must match exactly one roster row, by the LMS's user id, SIS id,
  login or email (or the local part of a login or email), or, on Canvas, by the name Canvas
  gives submission downloads (``lastfirst``): otherwise the export refuses and lists them,
  since a grade left out of the LMS looks like a missing submission;
- every roster row is written back: a student without a submission gets an empty cell (the
  LMS leaves an empty cell as it is);
- a grade goes to the LMS only when it is final. A student with written answers still to
  grade by a TA, a notebook held for review, or a grader failure gets an empty cell, never a
  0 or a partial score, and the export lists them with the reason.
"""

import csv
import dataclasses
import io
import re
from pathlib import Path

from .course import Layout
from .files import write_bytes_atomically
from .report import graded_results

ROSTER_MAX_BYTES = 50 * 2**20   # a gradebook export of a very large course is a few MB


class RosterError(ValueError):
    """The roster cannot be used, or a graded student matches no roster row or several."""


@dataclasses.dataclass(frozen=True)
class LmsFormat:
    name: str
    identity: tuple[str, ...]       # roster columns copied into the import file, in this order
    required: tuple[str, ...]       # columns that tell this LMS's export apart
    match_by: tuple[str, ...]       # columns a student id is matched against
    name_columns: tuple[str, ...]   # Canvas: "Last, First" in one column, the name in its downloads
    points_row: bool                # Canvas's second row: each column's points possible


CANVAS = LmsFormat("canvas", identity=("Student", "ID", "SIS User ID", "SIS Login ID", "Section"),
                   required=("Student", "ID", "SIS Login ID"), match_by=("ID", "SIS User ID", "SIS Login ID"),
                   name_columns=("Student",), points_row=True)
MOODLE = LmsFormat("moodle", identity=("First name", "Last name", "ID number", "Email address"),
                   required=("First name", "Last name", "Email address"), match_by=("ID number", "Email address"),
                   name_columns=(), points_row=False)
FORMATS = (CANVAS, MOODLE)
CANVAS_POINTS_POSSIBLE = "Points Possible"


@dataclasses.dataclass
class LmsExport:
    path: Path
    lms: str
    column: str
    written: dict[str, float] = dataclasses.field(default_factory=dict)       # student -> score in the file
    not_final: dict[str, str] = dataclasses.field(default_factory=dict)       # student -> why the cell is empty
    without_submission: list[str] = dataclasses.field(default_factory=list)   # roster rows left empty


def export_lms_gradebook(layout: Layout, assignment: str, roster: Path, column: str | None = None) -> LmsExport:
    """Write ``exports/<a>/<lms>_grades.csv`` from ``roster`` (the LMS's gradebook export) and the results.

    ``column``: the roster's column for this assignment (default: the one named after the
    assignment, ``conv_pool`` or ``conv_pool (123456)``, else a new column ``conv_pool``).
    Raises :class:`RosterError` naming every graded student it cannot match.
    """
    lms, header, rows = read_roster(roster)
    results = graded_results(layout, assignment)
    matched = match_students(lms, rows, sorted(results))
    column = column or _assignment_column(header, assignment)
    export = LmsExport(layout.assignment_exports(assignment) / f"{lms.name}_grades.csv", lms.name, column)
    cells = {}
    for student, index in matched.items():
        result = results[student]
        why = not_final(result)
        if why:
            export.not_final[student] = why
            cells[index] = ""
        else:
            export.written[student] = result["score"]
            cells[index] = f"{result['score']:g}"
    identity = [name for name in lms.identity if name in header]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(identity + [column])
    if lms.points_row:
        max_scores = {result["max_score"] for result in results.values()}
        points = f"{max_scores.pop():g}" if len(max_scores) == 1 else ""
        writer.writerow([CANVAS_POINTS_POSSIBLE] + [""] * (len(identity) - 1) + [points])
    for index, row in enumerate(rows):
        if index not in cells:
            export.without_submission.append(_display_name(lms, row))
        writer.writerow([row.get(name, "") for name in identity] + [cells.get(index, "")])
    write_bytes_atomically(export.path, buffer.getvalue().encode("utf-8"))
    return export


def not_final(result: dict) -> str | None:
    """Why ``result``'s score must not reach the LMS yet, or None when it is final."""
    if result.get("grader_error"):
        return f"not graded: {result['grader_error']}"
    if result["notebook"].get("held"):
        return f"notebook {result['notebook']['held']}"
    if result.get("pending_manual_points"):
        return f"{result['pending_manual_points']:g} point(s) of written answers still to grade by a TA"
    return None


def read_roster(path: Path) -> tuple[LmsFormat, list[str], list[dict[str, str]]]:
    """(format, header, student rows) of an LMS gradebook export; Canvas's Points Possible row left out."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RosterError(f"--roster {path}: cannot read it ({error.strerror or error})") from None
    if len(data) > ROSTER_MAX_BYTES:
        raise RosterError(f"--roster {path}: {len(data)} bytes, more than a gradebook export "
                          f"({ROSTER_MAX_BYTES} at most)")
    try:
        text = data.decode("utf-8-sig")   # Excel saves CSV with a byte-order mark
    except UnicodeDecodeError as error:
        raise RosterError(f"--roster {path}: expected UTF-8 text (as Canvas and Moodle export), "
                          f"byte {error.start} is not") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    lms = next((lms for lms in FORMATS if all(name in header for name in lms.required)), None)
    if lms is None:
        raise RosterError(f"--roster {path}: expected the LMS's gradebook export, with the columns "
                          + " or ".join(f"{', '.join(f.required)} ({f.name})" for f in FORMATS)
                          + f"; its header is: {', '.join(header) or '(empty)'}")
    rows = []
    for row in reader:
        row = {name: (value or "").strip() for name, value in row.items() if name is not None}
        if lms.points_row and row.get("Student") == CANVAS_POINTS_POSSIBLE:
            continue
        if any(row.values()):
            rows.append(row)
    return lms, header, rows


def match_students(lms: LmsFormat, rows: list[dict[str, str]], students: list[str]) -> dict[str, int]:
    """{student: index of their roster row}; raises :class:`RosterError` listing every student
    who matches no row or several, and every row claimed by several students."""
    keys = [_row_keys(lms, row) for row in rows]
    matched, unmatched, ambiguous = {}, [], []
    for student in students:
        found = [index for index, row_keys in enumerate(keys) if student.lower() in row_keys]
        if len(found) == 1:
            matched[student] = found[0]
        elif found:
            ambiguous.append(f"{student} (rows of {', '.join(_display_name(lms, rows[i]) for i in found)})")
        else:
            unmatched.append(student)
    claimed: dict[int, list[str]] = {}
    for student, index in matched.items():
        claimed.setdefault(index, []).append(student)
    shared = [f"{_display_name(lms, rows[index])} ({', '.join(names)})"
              for index, names in claimed.items() if len(names) > 1]
    problems = []
    if unmatched:
        problems.append(f"{len(unmatched)} graded student(s) match no roster row: {', '.join(unmatched)}")
    if ambiguous:
        problems.append(f"{len(ambiguous)} match several rows: {'; '.join(ambiguous)}")
    if shared:
        problems.append(f"{len(shared)} roster row(s) match several graded students: {'; '.join(shared)}")
    if problems:
        raise RosterError(f"no {lms.name} gradebook written: " + "; ".join(problems)
                          + f". A student is matched by {', '.join(lms.match_by)}"
                          + (" or the name in the LMS's submission downloads (lastfirst)" if lms.name_columns else "")
                          + "; fix the roster or the student's folder name in course/submitted/")
    return matched


def _row_keys(lms: LmsFormat, row: dict[str, str]) -> set[str]:
    keys = set()
    for name in lms.match_by:
        value = row.get(name, "").lower()
        if value:
            keys |= {value, value.split("@")[0]}
    for name in lms.name_columns:   # "Last, First" -> "lastfirst", as Canvas names submission files
        squashed = re.sub(r"[^a-z0-9]", "", row.get(name, "").lower())
        if squashed:
            keys.add(squashed)
    return keys


def _assignment_column(header: list[str], assignment: str) -> str:
    """The roster's column for ``assignment`` (Canvas adds the assignment's id: ``conv_pool (123456)``)."""
    for name in header:
        if name == assignment or re.fullmatch(re.escape(assignment) + r" \(\d+\)", name):
            return name
    return assignment


def _display_name(lms: LmsFormat, row: dict[str, str]) -> str:
    if lms is CANVAS:
        return row.get("Student") or row.get("SIS Login ID") or row.get("ID", "?")
    return " ".join(filter(None, (row.get("First name"), row.get("Last name")))) or row.get("Email address", "?")
