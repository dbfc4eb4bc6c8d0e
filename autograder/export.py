"""Grades out of the kit: nbgrader's CSV, a per-function CSV, and Gradescope's ``results.json``.

- ``exports/grades.csv``: ``nbgrader export`` of the gradebook (one row per student and
  assignment; the library counts in ``score`` and ``max_score`` through the ``cs231n_lib``
  gradebook notebook);
- ``exports/<a>/per_function.csv``: student, assignment, part, item, check, points, max, for
  instructors (every notebook check and every library check);
- ``exports/<a>/gradescope/<student>/results.json``: Gradescope's autograder format
  (``score``, ``tests`` with ``name``, ``score``, ``max_score``, ``output``, ``visibility``),
  with the same texts a student sees in the HTML feedback (hidden checks by name only).
"""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from .course import COURSE_ID
from .feedback import WITHHELD, instructor_text
from .leak_scan import InstructorText
from .grading_layout import GradingLayout
from .generate import nbgrader_environment
from .files import write_bytes_atomically
from .student_grading import read_results

PER_FUNCTION_HEADER = ["student", "assignment", "part", "item", "check", "points", "max"]


def export_nbgrader_csv(layout: GradingLayout, path: Path | None = None) -> Path:
    """``nbgrader export`` of the real gradebook to ``path`` (default ``exports/grades.csv``)."""
    path = Path(path or layout.exports_dir / "grades.csv").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "nbgrader", "export", f"--to={path}",
               f"--CourseDirectory.root={layout.course_dir}", f"--CourseDirectory.course_id={COURSE_ID}",
               f"--CourseDirectory.db_url=sqlite:///{layout.gradebook}"]
    result = subprocess.run(command, cwd=layout.course_dir, env=nbgrader_environment(),
                            capture_output=True, text=True)
    if result.returncode != 0 or not path.is_file():
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"nbgrader export failed (exit code {result.returncode}):\n{tail}")
    return path


def per_function_rows(results: dict[str, dict]) -> list[list]:
    rows = []
    for student, result in sorted(results.items()):
        assignment = result["assignment"]
        for cell in result["notebook"]["cells"]:
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
    return rows


def export_per_function_csv(layout: GradingLayout, assignment: str) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PER_FUNCTION_HEADER)
    writer.writerows(per_function_rows(read_results(layout, assignment)))
    path = layout.exports_dir / assignment / "per_function.csv"
    write_bytes_atomically(path, buffer.getvalue().encode("utf-8"))
    return path


def gradescope_results(result: dict, forbidden: InstructorText) -> dict:
    """One student's result in Gradescope's ``results.json`` format."""
    def clean(text) -> str:
        text = "" if text is None else str(text)
        return WITHHELD if forbidden.quoted_in(text) else text

    tests = []
    notebook = result["notebook"]
    for cell in notebook["cells"]:
        lines = [clean(cell["reason"])] if cell.get("reason") else []
        for check in cell["checks"]:
            mark = {True: "PASS", False: "FAIL", None: "----"}[check["passed"]]
            hidden = " (hidden check)" if check["hidden"] else ""
            detail = f": {clean(check['detail'])}" if check.get("detail") else ""
            lines.append(f"{mark} {check['name']}{hidden}{detail}")
        tests.append({"name": f"{notebook.get('name', 'notebook')}: {cell['title'] or cell['grade_id']}",
                      "score": cell["score"], "max_score": cell["points"], "output": "\n".join(lines),
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
    output = f"Score {result['score']:g} / {result['max_score']:g}."
    if notebook.get("held"):
        output += f" The notebook part is held for review: {clean(notebook['held'])}."
    return {"score": result["score"], "output": output, "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


def export_gradescope(layout: GradingLayout, assignment: str) -> list[Path]:
    forbidden = instructor_text(layout)
    written = []
    for student, result in sorted(read_results(layout, assignment).items()):
        path = layout.exports_dir / assignment / "gradescope" / student / "results.json"
        write_bytes_atomically(path, (json.dumps(gradescope_results(result, forbidden), indent=1) + "\n").encode())
        written.append(path)
    return written
