"""The class leaderboard of an assignment whose trained models the grader evaluated: ranked by held-out accuracy.

Read from the result files only (the checkpoint part of each, see
:mod:`autograder.grading.checkpoint_part`); nothing is graded again. Written to
``course/exports/<a>/leaderboard/``: ``index.html`` (one self-contained page: no script, no
external resource, every value escaped, a Content-Security-Policy that loads nothing) and
``leaderboard.csv``. With pseudonyms the page can be posted for the class: each student's
pseudonym is derived from the course secret (HMAC), so it is the same on every leaderboard of
the course, and only the instructor can tell whose it is (:func:`pseudonym`; the feedback page
tells each student theirs).
"""

import base64
import csv
import dataclasses
import hashlib
import hmac
import html
import io
from pathlib import Path

from .cli_support import for_terminal
from .course import Layout
from .errors import ReleaseError
from .files import write_bytes_atomically
from .grading.library.seeds import load_or_create_secret
from .grading.results import read_results

CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = ("body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}td.n{text-align:right}.muted{color:#777}")
CSV_COLUMNS = ["rank", "student", "accuracy", "tier", "points", "max_points", "parameters", "flops_per_image"]


@dataclasses.dataclass(frozen=True)
class Entry:
    rank: int            # 1 = best; students with equal accuracy share a rank
    name: str            # the student id, or their pseudonym
    accuracy: float
    tier: str
    points: float
    max_points: float
    parameters: int
    flops_per_image: int


@dataclasses.dataclass(frozen=True)
class Leaderboard:
    assignment: str
    held_out: str | None       # the set the accuracies were measured on
    entries: tuple[Entry, ...]
    without_model: int         # submissions whose model was not measured (missing, broken, over a bound)
    not_graded: str | None     # why nobody's model was measured (no held-out set), when so


def pseudonym(secret: bytes, student: str) -> str:
    """A stable public name for ``student``: 8 letters and digits from HMAC-SHA256(course secret, id).

    The same for every assignment of the course, so a student recognises theirs; unguessable
    without the secret, so nobody else can map it back.
    """
    digest = hmac.new(secret, f"leaderboard\x00{student}".encode("utf-8"), hashlib.sha256).digest()
    code = base64.b32encode(digest[:5]).decode("ascii")
    return f"{code[:4]}-{code[4:]}"


def student_pseudonym(layout: Layout, student: str) -> str:
    return pseudonym(load_or_create_secret(layout.secret_file), student)


def leaderboard(layout: Layout, assignment_name: str, pseudonyms: bool = False) -> Leaderboard:
    """The ranking of ``assignment_name`` from its results; ReleaseError when it grades no model."""
    if layout.catalog().get(assignment_name).checkpoint is None:
        raise ReleaseError(f"{assignment_name} has no [{assignment_name}.checkpoint] table in tasks.toml: "
                           f"no model of it is evaluated, so there is nothing to rank")
    secret = load_or_create_secret(layout.secret_file) if pseudonyms else None
    measured, without_model, not_graded, held_out = [], 0, None, None
    for student, result in sorted(read_results(layout, assignment_name).items()):
        part = result.get("checkpoint") or {}
        if part.get("status") == "graded":
            measured.append((student, part))
            held_out = part["held_out"]
        elif part.get("status") == "not graded":
            not_graded = part["reason"]
        else:
            without_model += 1
    measured.sort(key=lambda item: (-item[1]["accuracy"], item[0]))
    entries, rank = [], 0
    for position, (student, part) in enumerate(measured, start=1):
        if position == 1 or part["accuracy"] != measured[position - 2][1]["accuracy"]:
            rank = position
        entries.append(Entry(rank=rank, name=pseudonym(secret, student) if pseudonyms else student,
                             accuracy=part["accuracy"], tier=part["tier"], points=part["score"],
                             max_points=part["max_score"], parameters=part["parameters"],
                             flops_per_image=part["flops_per_image"]))
    if pseudonyms:   # equal accuracies are listed by id above: by pseudonym here, so the order reveals nothing
        entries.sort(key=lambda entry: (entry.rank, entry.name))
    return Leaderboard(assignment_name, held_out, tuple(entries), without_model, None if entries else not_graded)


def write_leaderboard(layout: Layout, board: Leaderboard, title: str) -> Path:
    """Write index.html and leaderboard.csv; returns the page."""
    folder = layout.leaderboard_dir(board.assignment)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in board.entries:
        writer.writerow([entry.rank, entry.name, f"{entry.accuracy:.4f}", entry.tier, entry.points, entry.max_points,
                         entry.parameters, entry.flops_per_image])
    write_bytes_atomically(folder / "leaderboard.csv", buffer.getvalue().encode("utf-8"))
    page = folder / "index.html"
    write_bytes_atomically(page, render(board, title).encode("utf-8"))
    return page


def render(board: Leaderboard, title: str) -> str:
    e = html.escape
    if board.entries:
        summary = f"Accuracy of each submitted model on the {e(board.held_out)}, measured by the grader."
    else:
        summary = e(board.not_graded or "No model has been measured yet.")
    rows = "".join(f"<tr><td class='n'>{entry.rank}</td><td>{e(entry.name)}</td>"
                   f"<td class='n'>{entry.accuracy:.1%}</td><td>{e(entry.tier)}</td>"
                   f"<td class='n'>{entry.points:g} / {entry.max_points:g}</td>"
                   f"<td class='n'>{entry.parameters:,}</td><td class='n'>{entry.flops_per_image:,}</td></tr>"
                   for entry in board.entries)
    table = ("<table><tr><th>rank</th><th>student</th><th>accuracy</th><th>tier</th><th>points</th>"
             f"<th>parameters</th><th>FLOPs per image</th></tr>{rows}</table>") if board.entries else ""
    missing = (f"<p class='muted'>{board.without_model} submission(s) without a measured model (missing, "
               f"unreadable or over a bound) are not listed.</p>") if board.without_model else ""
    heading = f"{title}: leaderboard"
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>{e(heading)}</title><style>{STYLE}</style></head>\n<body>\n<h1>{e(heading)}</h1>\n"
            f"<p>{summary}</p>\n{table}\n{missing}\n</body></html>\n")


def summary_lines(board: Leaderboard, page: Path, shown: int = 10) -> list[str]:
    """What the command prints: the top of the ranking and where the files are."""
    lines = [f"{entry.rank:>3}. {for_terminal(entry.name)}  {entry.accuracy:.1%}  tier {entry.tier}"
             for entry in board.entries[:shown]]
    if not board.entries:
        lines.append(for_terminal(board.not_graded or "no model has been measured yet"))
    if board.without_model:
        lines.append(f"{board.without_model} submission(s) without a measured model")
    return lines + [f"leaderboard: {page}"]
