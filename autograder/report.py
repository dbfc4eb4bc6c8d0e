"""What grading reports, read from the result files only: feedback, exports, integrity, the grade table.

Nothing here runs student code or re-grades: every page and file is made from the results
(``grading/results/<a>/<s>.json``), never from the graded notebooks (their grade cells hold
the hidden tests) nor from nbgrader's own feedback (which shows them).

- :func:`write_feedback`: ``course/feedback/<student>/<assignment>/report.html``, per grade
  cell its score and the instructor's checks (hidden ones by name and outcome only), per
  library function its score, each check and the diagnosis of each failure;
- :func:`export_per_function_csv`: ``exports/<a>/per_function.csv`` for instructors; the
  nbgrader CSV is :func:`autograder.nbgrader.export_csv`;
- :func:`export_gradescope`: ``exports/<a>/gradescope/<student>/results.json``, Gradescope's
  autograder format, with the texts a student sees in the HTML feedback;
- :func:`integrity_report`: static findings and what the runs recorded, with its CSV;
- :func:`grade_table`: the table printed after grading.

Every piece of text a run produced (failure details, diagnoses, reasons) is HTML-escaped and
withheld when it quotes instructor-only text (a hidden test, a solution, the reference
library), however disguised (:class:`~autograder.leak_scan.InstructorText`). The student's
code never sees hidden tests (they run in the grader), so this is a second line of defence.
"""

import csv
import datetime
import html
import io
import json
from pathlib import Path

from . import leak_scan, nbgrader
from .cli_support import for_terminal
from .course import Layout
from .files import write_bytes_atomically
from .grading.integrity import Finding, recorded_findings, scan_submission
from .grading.notebook_run import pending_manual_points
from .grading.results import parts_total, read_results
from .leaderboard import student_pseudonym
from .notebook_spec import notebook_spec

# ----------------------------------------------------------------------------- results, with what TAs gave

def graded_results(layout: Layout, assignment: str) -> dict[str, dict]:
    """Every result of ``assignment``, with the scores and comments TAs gave written answers in formgrader.

    The grader scores a written answer only when it was deleted or left as the placeholder (0);
    any other answer says "needs manual grading". A TA's score, once in the gradebook, counts
    everywhere a result is reported; until then the points are pending, neither 0 nor full
    (``pending_manual_points``).
    """
    results = read_results(layout, assignment)
    spec = notebook_spec(layout, layout.catalog().get(assignment))
    grades = {}
    if spec.manual_cells and layout.gradebook.is_file():
        with nbgrader.open_gradebook(layout.gradebook) as gradebook:
            grades = nbgrader.manual_grades(gradebook, assignment, spec.notebook,
                                            [cell.grade_id for cell in spec.manual_cells])
    for student, result in results.items():
        with_manual_grades(result, grades.get(student, {}))
    return results


def with_manual_grades(result: dict, grades: dict) -> dict:
    """Fill ``result``'s written answers with a TA's ``grades`` ({grade_id: {score, comment}}); returns it."""
    notebook = result["notebook"]
    for cell in notebook["cells"]:
        if not cell.get("manual"):
            continue
        given = grades.get(cell["grade_id"]) or {}
        cell["comment"] = given.get("comment")
        if given.get("score") is not None:
            cell.update(score=float(given["score"]), status="graded by hand")
        elif cell["score"] is None:   # neither missing nor left unanswered: a person's to grade
            cell["status"] = "needs manual grading"
    notebook["score"] = sum(cell["score"] or 0.0 for cell in notebook["cells"])
    result["score"] = parts_total(result)
    result["pending_manual_points"] = pending_manual_points(notebook["cells"])
    return result


# ----------------------------------------------------------------------------- feedback

WITHHELD = "[detail withheld: it quotes instructor-only text]"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
.ok { color: #1a7f37; } .bad { color: #b42318; } .muted { color: #777; }
.notice { background: #fff4e5; border: 1px solid #f0b36b; padding: 0.6em 1em; }
"""


def instructor_text(layout: Layout) -> leak_scan.InstructorText:
    """What a report must never contain: hidden tests, solutions, reference solution bodies."""
    catalog = layout.catalog()
    notebooks = [layout.source_notebook(a) for a in catalog.assignments]
    rules = leak_scan.collect_rules([p for p in notebooks if p.is_file()], layout.lib_dir)
    return leak_scan.InstructorText(rules.lines)


def write_feedback(layout: Layout, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write every student's report of ``assignment`` (those with a result); returns the files."""
    catalog = layout.catalog()
    title = catalog.get(assignment).title
    forbidden = instructor_text(layout)
    written = []
    for student, result in sorted(graded_results(layout, assignment).items()):
        if students and student not in students:
            continue
        path = layout.feedback_dir(assignment, student) / "report.html"
        name = student_pseudonym(layout, student) if result.get("checkpoint") else None
        write_bytes_atomically(path, render(result, title, forbidden, leaderboard_name=name).encode("utf-8"))
        written.append(path)
    return written


def render(result: dict, title: str, forbidden: leak_scan.InstructorText, leaderboard_name: str | None = None) -> str:
    def text(value) -> str:
        """Escape run-produced text; withhold it when it quotes instructor-only text."""
        value = "" if value is None else str(value)
        if forbidden.quoted_in(value):
            return WITHHELD
        return html.escape(value)

    e = html.escape
    pending = result.get("pending_manual_points") or 0.0
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(result['assignment'])}: "
             f"{e(result['student_id'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f"<p>Student <b>{e(result['student_id'])}</b>. Score <b>{_points(result['score'])} / "
             f"{_points(result['max_score'])}</b>"
             + (f", with {_points(pending)} point(s) of written answers not graded yet" if pending else "")
             + f". Graded {e(_when(result.get('graded_at')))}.</p>"]
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
        if cell.get("manual"):
            parts.append(_answer_row(cell))
            continue
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
    parts += checkpoint_html(result.get("checkpoint"), text, leaderboard_name)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def checkpoint_part_line(part: dict) -> str:
    """One line about the checkpoint part: the accuracy and tier, or why there is none."""
    if part["status"] == "graded":
        return (f"held-out accuracy {part['accuracy']:.1%} on the {part['held_out']}: tier {part['tier']}, "
                f"{part['score']:g} / {part['max_score']:g} points")
    return f"{part['score']:g} / {part['max_score']:g} points: {part['reason']}"


def checkpoint_html(part: dict | None, text, leaderboard_name: str | None = None) -> list[str]:
    """The feedback's section on the submitted model (``text`` escapes and withholds run-made text), with
    the student's name on a leaderboard posted with pseudonyms."""
    if not part:
        return []
    e = html.escape
    rows = [f"<h2>Trained model {e(part['file'])}: {_points(part['score'])} / {_points(part['max_score'])}</h2>",
            "<p class='muted'>The grader rebuilt your model from the checkpoint with the course's own library "
            "and measured its accuracy on a held-out set you have not seen; none of your code ran for this "
            "part.</p>"]
    css = "ok" if part["status"] == "graded" and part["score"] > 0 else \
        ("muted" if part["status"] == "not graded" else "bad")
    rows.append(f"<p class='{css}'>{text(checkpoint_part_line(part))}</p>")
    if part.get("spec"):
        rows.append(f"<p class='muted'>architecture: <code>{text(part['spec'])}</code>, "
                    f"{part['parameters']:,} parameters, {part['flops_per_image']:,} FLOPs per image</p>")
    if leaderboard_name and part["status"] == "graded":
        rows.append(f"<p class='muted'>On the class leaderboard posted with pseudonyms, you are "
                    f"<b>{html.escape(leaderboard_name)}</b>.</p>")
    return rows


def _answer_row(cell: dict) -> str:
    """A written answer: graded by a TA (their score and comment) or waiting for one."""
    e = html.escape
    score = "pending" if cell["score"] is None else _points(cell["score"])
    if cell["status"] == "graded by hand":
        state = "<span class='ok'>graded by your TA</span>"
    elif cell["score"] is None:
        state = "<span class='muted'>written answer: graded by hand, not graded yet</span>"
    else:   # missing, or left unanswered
        state = f"<span class='bad'>{e(cell.get('reason') or cell['status'])}</span>"
    comment = f"<div>TA: {e(cell['comment'])}</div>" if cell.get("comment") else ""
    return (f"<tr><td>{e(cell['title'] or cell['grade_id'])}</td><td>{score} / {_points(cell['points'])}</td>"
            f"<td>{state}{comment}</td></tr>")


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


# ----------------------------------------------------------------------------- exports

PER_FUNCTION_HEADER = ["student", "assignment", "part", "item", "check", "points", "max"]


def per_function_rows(results: dict[str, dict]) -> list[list]:
    rows = []
    for student, result in sorted(results.items()):
        assignment = result["assignment"]
        for cell in result["notebook"]["cells"]:
            if cell.get("manual"):   # a written answer: a TA's score, or pending (never 0 nor full)
                rows.append([student, assignment, "answer", cell["grade_id"], "(graded by hand)",
                             "pending" if cell["score"] is None else cell["score"], cell["points"]])
                continue
            rows.append([student, assignment, "notebook", cell["grade_id"], "(cell)", cell["score"], cell["points"]])
            for check in cell["checks"]:
                passed = {True: "passed", False: "failed", None: "not reached"}[check["passed"]]
                rows.append([student, assignment, "notebook", cell["grade_id"], check["name"],
                             passed, check["points"] if check["points"] is not None else ""])
        for function in (result.get("library") or {}).get("functions", []):
            rows.append([student, assignment, "library", function["task"], "(function)", function["score"],
                         function["max_score"]])
            for check in function["checks"]:
                rows.append([student, assignment, "library", function["task"], check["name"], check["score"],
                             check["points"]])
        rows += checkpoint_rows(student, assignment, result.get("checkpoint"))
    return rows


def checkpoint_rows(student: str, assignment: str, part: dict | None) -> list[list]:
    """The per-function CSV's rows of the checkpoint part: its score, then the measured accuracy and tier."""
    if not part:
        return []
    accuracy = "" if part["accuracy"] is None else f"{part['accuracy']:.4f}"
    return [[student, assignment, "checkpoint", part["file"], "(model)", part["score"], part["max_score"]],
            [student, assignment, "checkpoint", part["file"],
             f"held-out accuracy {accuracy} tier {part['tier']}" if part["status"] == "graded"
             else f"{part['status']}: {part['reason']}", part["accuracy"] if part["accuracy"] is not None else "",
             ""]]


def export_per_function_csv(layout: Layout, assignment: str) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PER_FUNCTION_HEADER)
    writer.writerows(per_function_rows(graded_results(layout, assignment)))
    path = layout.assignment_exports(assignment) / "per_function.csv"
    write_bytes_atomically(path, buffer.getvalue().encode("utf-8"))
    return path


def gradescope_results(result: dict, forbidden: leak_scan.InstructorText) -> dict:
    """One student's result in Gradescope's ``results.json`` format."""
    def clean(text) -> str:
        text = "" if text is None else str(text)
        return WITHHELD if forbidden.quoted_in(text) else text

    tests = []
    notebook = result["notebook"]
    for cell in notebook["cells"]:
        name = f"{notebook.get('name', 'notebook')}: {cell['title'] or cell['grade_id']}"
        if cell.get("manual"):
            if cell["score"] is None:
                said = "not graded yet"
            elif cell["status"] == "graded by hand":
                said = f"TA: {cell.get('comment') or 'no comment'}"
            else:
                said = cell.get("reason") or cell["status"]
            test = {"name": name, "max_score": cell["points"], "visibility": "visible",
                    "output": f"written answer, graded by hand: {said}"}
            if cell["score"] is not None:   # Gradescope shows a test without a score as ungraded
                test["score"] = cell["score"]
            tests.append(test)
            continue
        lines = [clean(cell["reason"])] if cell.get("reason") else []
        for check in cell["checks"]:
            mark = {True: "PASS", False: "FAIL", None: "----"}[check["passed"]]
            hidden = " (hidden check)" if check["hidden"] else ""
            detail = f": {clean(check['detail'])}" if check.get("detail") else ""
            lines.append(f"{mark} {check['name']}{hidden}{detail}")
        tests.append({"name": name, "score": cell["score"], "max_score": cell["points"], "output": "\n".join(lines),
                      "visibility": "visible"})
    library = result.get("library") or {}
    for function in library.get("functions", []):
        lines = []
        for check in function["checks"]:
            mark = "PASS" if check["passed"] else "FAIL"
            diagnosis = f": {clean(check['diagnosis'])}" if not check["passed"] and check.get("diagnosis") else ""
            lines.append(f"{mark} {check['name']} ({check['score']:g}/{check['points']:g}){diagnosis}")
        lines += [f"note: {clean(note)}" for note in function.get("notes", [])]
        tests.append({"name": f"cs231n_lib: {function['task']}", "score": function["score"],
                      "max_score": function["max_score"], "output": "\n".join(lines), "visibility": "visible"})
    part = result.get("checkpoint")
    if part:
        test = {"name": f"trained model: {part['file']}", "max_score": part["max_score"], "visibility": "visible",
                "output": clean(checkpoint_part_line(part))}
        if part["status"] != "not graded":   # Gradescope shows a test without a score as ungraded
            test["score"] = part["score"]
        tests.append(test)
    output = f"Score {result['score']:g} / {result['max_score']:g}."
    if result.get("pending_manual_points"):
        output += f" {result['pending_manual_points']:g} point(s) of written answers are not graded yet."
    if notebook.get("held"):
        output += f" The notebook part is held for review: {clean(notebook['held'])}."
    return {"score": result["score"], "output": output, "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


def export_gradescope(layout: Layout, assignment: str) -> list[Path]:
    forbidden = instructor_text(layout)
    written = []
    for student, result in sorted(graded_results(layout, assignment).items()):
        path = layout.assignment_exports(assignment) / "gradescope" / student / "results.json"
        write_bytes_atomically(path, (json.dumps(gradescope_results(result, forbidden), indent=1) + "\n").encode())
        written.append(path)
    return written


# ----------------------------------------------------------------------------- integrity

def integrity_report(layout: Layout, assignment_name: str) -> dict[str, list[Finding]]:
    """{student: findings} for every submission of the assignment (students without findings too)."""
    assignment = layout.catalog().get(assignment_name)
    results = read_results(layout, assignment_name)
    report = {}
    for student in layout.students_with_submissions(assignment_name):
        findings = scan_submission(layout.submitted_dir(assignment_name, student),
                                   layout.student_release_dir(assignment_name), assignment.notebook)
        report[student] = findings + recorded_findings(results.get(student))
    return report


def write_integrity_csv(layout: Layout, assignment: str, report: dict[str, list[Finding]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "kind", "hold", "where", "what"])
    for student, findings in sorted(report.items()):
        for finding in findings:
            writer.writerow([student, finding.kind, "yes" if finding.hold else "no", finding.where, finding.what])
    path = layout.assignment_exports(assignment) / "integrity.csv"
    write_bytes_atomically(path, buffer.getvalue().encode("utf-8"))
    return path


def integrity_text(report: dict[str, list[Finding]]) -> str:
    lines = []
    for student, findings in sorted(report.items()):
        if not findings:
            lines.append(f"{student}: nothing flagged")
            continue
        held = any(f.hold for f in findings)
        lines.append(f"{student}: {len(findings)} finding(s){' - notebook held for review' if held else ''}")
        for finding in findings[:20]:
            lines.append(f"  [{finding.kind}] {for_terminal(finding.where)}: {for_terminal(finding.what)}")
        if len(findings) > 20:
            lines.append(f"  ... and {len(findings) - 20} more (see the CSV)")
    return "\n".join(lines) or "(no submissions)"


# ----------------------------------------------------------------------------- the grade table

def grade_table(results: dict[str, dict]) -> str:
    """Aligned text: student, notebook, library, total, and what went wrong.

    >>> print(grade_table({}))
    (no graded students)
    """
    if not results:
        return "(no graded students)"
    with_model = any(result.get("checkpoint") for result in results.values())
    rows = [("student", "notebook", "library") + (("model",) if with_model else ()) + ("total", "notes")]
    for student, result in sorted(results.items()):
        notebook, library = result["notebook"], result.get("library")
        rows.append((student, f"{notebook['score']:g}/{notebook['max_score']:g}",
                     f"{library['score']:g}/{library['max_score']:g}" if library else "-")
                    + ((model_column(result.get("checkpoint")),) if with_model else ())
                    + (f"{result['score']:g}/{result['max_score']:g}", for_terminal(_notes(result))))
    columns = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:columns], widths)) + "  " + row[columns]
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


def model_column(part: dict | None) -> str:
    """The grade table's cell for the checkpoint part: points and held-out accuracy, or why none."""
    if not part:
        return "-"
    if part["status"] == "not graded":
        return "not graded"
    accuracy = f" ({part['accuracy']:.1%})" if part["accuracy"] is not None else ""
    return f"{part['score']:g}/{part['max_score']:g}{accuracy}"


def _notes(result: dict) -> str:
    notes = []
    pending = [cell for cell in result["notebook"]["cells"] if cell.get("manual") and cell["score"] is None]
    if pending:
        notes.append(f"{len(pending)} written answer(s) to grade by hand ({pending_manual_points(pending):g} pt)")
    if result.get("grader_error"):
        notes.append("COULD NOT BE GRADED: " + result["grader_error"][len("could not be graded: "):][:80])
    if result.get("regraded_alone_failed"):
        notes.append("grading again alone failed inside the grader: this first result stands")
    notebook = result["notebook"]
    if notebook.get("held"):
        notes.append("notebook held for review (integrity)")
    statuses = [cell["status"] for cell in notebook["cells"]]
    if "timeout" in statuses:
        notes.append(f"{statuses.count('timeout')} cell(s) timed out")
    run = notebook.get("run") or {}
    if run.get("status") not in (None, "ok"):
        notes.append(f"notebook run: {run.get('description')}")
    library = result.get("library") or {}
    library_run = library.get("run") or {}
    if library.get("error"):
        notes.append(f"library: {library['error'][:60]}")
    elif library_run.get("status") not in (None, "ok"):
        notes.append(f"library run: {library_run.get('status')}")
    part = result.get("checkpoint") or {}
    if part.get("reason"):
        notes.append(f"model: {part['reason'][:80]}")
    if not result.get("sandboxed", True):
        notes.append("NOT SANDBOXED")
    return "; ".join(notes)
