"""One HTML report per student and assignment: ``course/feedback/<student>/<assignment>/report.html``.

Built from the student's result file only (never from the autograded notebook, whose
cells hold the hidden tests nbgrader put back, nor nbgrader's own feedback, which shows
them). A report shows, per notebook grade cell, its score and the instructor's checks
(hidden ones by name only), and per library function its score, each check and the
diagnosis of each failure. Every piece of text that a run produced (failure details,
diagnoses, reasons) is HTML-escaped and dropped when it quotes an instructor-only line
(a hidden test, a solution, the reference library), however disguised
(:class:`~autograder.leak_scan.InstructorText`). The student's code never sees hidden tests
(they run in the grader), so this is a second line of defence, not the first.
"""

import datetime
import html
from pathlib import Path

from . import leak_scan
from .grading_layout import GradingLayout
from .notebook_spec import load_catalog_of, source_notebook_path
from .files import write_bytes_atomically
from .student_grading import read_results

WITHHELD = "[detail withheld: it quotes instructor-only text]"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
.ok { color: #1a7f37; } .bad { color: #b42318; } .muted { color: #777; }
.notice { background: #fff4e5; border: 1px solid #f0b36b; padding: 0.6em 1em; }
"""


def instructor_text(layout: GradingLayout) -> leak_scan.InstructorText:
    """What a report must never contain: hidden tests, solutions, reference solution bodies."""
    catalog = load_catalog_of(layout.kit)
    notebooks = [source_notebook_path(layout.kit, a) for a in catalog.assignments]
    rules = leak_scan.collect_rules([p for p in notebooks if p.is_file()], layout.kit.lib_dir)
    return leak_scan.InstructorText(rules.lines)


def write_feedback(layout: GradingLayout, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write every student's report of ``assignment`` (those with a result); returns the files."""
    catalog = load_catalog_of(layout.kit)
    title = catalog.get(assignment).title
    forbidden = instructor_text(layout)
    written = []
    for student, result in sorted(read_results(layout, assignment).items()):
        if students and student not in students:
            continue
        path = layout.feedback_dir(assignment, student) / "report.html"
        write_bytes_atomically(path, render(result, title, forbidden).encode("utf-8"))
        written.append(path)
    return written


def render(result: dict, title: str, forbidden: leak_scan.InstructorText) -> str:
    def text(value) -> str:
        """Escape run-produced text; withhold it when it quotes instructor-only text."""
        value = "" if value is None else str(value)
        if forbidden.quoted_in(value):
            return WITHHELD
        return html.escape(value)

    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(result['assignment'])}: "
             f"{e(result['student_id'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>Student <b>{e(result['student_id'])}</b>. Score <b>{_points(result['score'])} / "
             f"{_points(result['max_score'])}</b>. Graded {e(_when(result.get('graded_at')))}.</p>"]
    notebook = result["notebook"]
    if notebook.get("held"):
        parts.append(f"<p class='notice'>The notebook part is held for review by your instructor: "
                     f"{text(notebook['held'])}. The library part below is graded separately and stands.</p>")
    parts.append(f"<h2>Notebook {e(notebook.get('name', ''))}: {_points(notebook['score'])} / "
                 f"{_points(notebook['max_score'])}</h2>")
    run = notebook.get("run") or {}
    if run.get("status") not in (None, "ok"):
        parts.append(f"<p class='notice'>The notebook run {text(run.get('description'))}.</p>")
    parts.append("<table><tr><th>Cell</th><th>Score</th><th>Checks</th></tr>")
    for cell in notebook["cells"]:
        checks = "".join(_check_row(c, text) for c in cell["checks"])
        reason = f"<div class='bad'>{text(cell['reason'])}</div>" if cell.get("reason") else ""
        parts.append(f"<tr><td>{e(cell['title'] or cell['grade_id'])}</td>"
                     f"<td>{_points(cell['score'])} / {_points(cell['points'])}</td><td>{reason}{checks}</td></tr>")
    parts.append("</table>")
    library = result.get("library")
    if library:
        parts.append(f"<h2>Library cs231n_lib: {_points(library['score'])} / {_points(library['max_score'])}</h2>")
        parts.append("<p class='muted'>Your functions were called on fresh inputs and compared with the expected "
                     "results; backward passes were also checked against numerical gradients of your own forward.</p>")
        if library.get("error"):
            parts.append(f"<p class='notice'>{text(library['error'])}</p>")
        parts.append("<table><tr><th>Function</th><th>Score</th><th>Checks</th></tr>")
        for function in library["functions"]:
            rows = "".join(_library_check_row(c, text, library.get("error")) for c in function["checks"])
            notes = "".join(f"<div class='muted'>note: {text(n)}</div>" for n in function.get("notes", []))
            parts.append(f"<tr><td><code>{e(function['task'])}</code></td><td>{_points(function['score'])} / "
                         f"{_points(function['max_score'])}</td><td>{rows}{notes}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _check_row(check: dict, text) -> str:
    mark = {True: "<span class='ok'>passed</span>", False: "<span class='bad'>failed</span>",
            None: "<span class='muted'>not reached</span>"}[check["passed"]]
    hidden = " <span class='muted'>(hidden check)</span>" if check["hidden"] else ""
    points = f" ({_points(check['points'])} pt)" if check.get("points") is not None else ""
    detail = f"<div class='bad'>{text(check['detail'])}</div>" if check.get("detail") else ""
    return f"<div>{mark} {html.escape(check['name'])}{points}{hidden}{detail}</div>"


def _library_check_row(check: dict, text, everything_lost: str | None) -> str:
    mark = "<span class='ok'>passed</span>" if check["passed"] else "<span class='bad'>failed</span>"
    diagnosis = ""
    if not check["passed"] and check.get("diagnosis") and check["diagnosis"] != everything_lost:
        diagnosis = f"<div class='bad'>{text(check['diagnosis'])}</div>"
    return (f"<div>{mark} {html.escape(check['name'])} ({_points(check['score'])}/{_points(check['points'])})"
            f"{diagnosis}</div>")


def _points(value) -> str:
    return f"{float(value):g}"


def _when(stamp: str | None) -> str:
    if not stamp:
        return "at an unknown time"
    try:
        return datetime.datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp
