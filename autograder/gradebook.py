"""The real nbgrader gradebook (``course/gradebook.db``): written only here, by the trusted parent.

Each assignment gets, beside its notebook, one extra gradebook notebook named
``cs231n_lib`` with one grade cell per library function (max score = that function's
points). nbgrader then counts the library in every total it computes: ``nbgrader export``,
formgrader, ``SubmittedAssignment.score``.

One student's grades are written in a single transaction: the submission, its notebooks
and every grade either all land or none do (SQLite rolls back a transaction cut short by
a kill). Only ``auto_score`` is set; a TA's ``manual_score`` or comment survives a re-grade.
"""

import os
import sys
from pathlib import Path

from nbgrader.api import (Assignment, Comment, Grade, GradeCell, Gradebook, MissingEntry, Notebook, Student,
                          SubmittedAssignment, SubmittedNotebook)
from nbgrader.utils import parse_utc

from .course import COURSE_ID
from .errors import ReleaseError
from .notebook_spec import NotebookSpec

LIBRARY_NOTEBOOK = "cs231n_lib"


def open_gradebook(path: Path) -> Gradebook:
    """nbgrader's Gradebook on ``path`` (created when missing, which runs ``alembic``: put it on PATH)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    return Gradebook(f"sqlite:///{Path(path).resolve()}", COURSE_ID)


def register_students(gradebook: Gradebook, students: list[str]) -> None:
    for student in students:
        gradebook.update_or_create_student(student)


def ensure_structure(gradebook: Gradebook, spec: NotebookSpec, library_max: dict[str, float]) -> None:
    """The assignment, its notebook's grade cells, and the library notebook with one cell per function.

    Usually ``release`` has made the assignment and notebook (generate_assignment); this fills
    in whatever is missing, so that a course directory graded elsewhere works too.
    """
    notebook_name = Path(spec.notebook).stem
    gradebook.update_or_create_assignment(spec.assignment)
    gradebook.update_or_create_notebook(notebook_name, spec.assignment)
    for cell in spec.grade_cells:
        _ensure_cell(gradebook, cell.grade_id, notebook_name, spec.assignment, cell.points)
    if library_max:
        gradebook.update_or_create_notebook(LIBRARY_NOTEBOOK, spec.assignment)
        for task, points in library_max.items():
            _ensure_cell(gradebook, task, LIBRARY_NOTEBOOK, spec.assignment, points)


def _ensure_cell(gradebook: Gradebook, name: str, notebook: str, assignment: str, points: float) -> None:
    try:
        cell = gradebook.find_grade_cell(name, notebook, assignment)
    except MissingEntry:
        gradebook.add_grade_cell(name, notebook, assignment, max_score=points, cell_type="code")
        return
    if cell.max_score != points:
        cell.max_score = points
        gradebook.db.commit()


def library_max_scores(result: dict) -> dict[str, float]:
    library = result.get("library") or {}
    return {f["task"]: float(f["max_score"]) for f in library.get("functions", [])}


def scores_of(result: dict, spec: NotebookSpec) -> dict[tuple[str, str], float]:
    """{(gradebook notebook, grade cell): auto score} of one combined result."""
    notebook_name = Path(spec.notebook).stem
    scores = {(notebook_name, cell["grade_id"]): float(cell["score"]) for cell in result["notebook"]["cells"]}
    for function in (result.get("library") or {}).get("functions", []):
        scores[(LIBRARY_NOTEBOOK, function["task"])] = float(function["score"])
    return scores


def write_student(gradebook: Gradebook, result: dict, spec: NotebookSpec, timestamp: str | None = None) -> None:
    """Put one student's combined result into the gradebook, in one transaction."""
    db = gradebook.db
    scores = scores_of(result, spec)
    try:
        with db.no_autoflush:
            assignment = db.query(Assignment).filter(Assignment.name == spec.assignment).one()
            student = db.get(Student, result["student_id"])
            if student is None:
                student = Student(id=result["student_id"])
                db.add(student)
            submission = (db.query(SubmittedAssignment)
                          .filter(SubmittedAssignment.assignment_id == assignment.id,
                                  SubmittedAssignment.student_id == student.id).one_or_none())
            if submission is None:
                submission = SubmittedAssignment(assignment=assignment, student=student)
                db.add(submission)
            if timestamp:
                submission.timestamp = parse_utc(timestamp)
            for notebook in assignment.notebooks:
                _write_notebook(db, submission, notebook, scores)
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _write_notebook(db, submission: SubmittedAssignment, notebook: Notebook, scores: dict) -> None:
    submitted = next((n for n in submission.notebooks if n.notebook_id == notebook.id), None)
    if submitted is None:
        submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
        db.add(submitted)
    grades = {grade.cell_id: grade for grade in submitted.grades}
    comments = {comment.cell_id for comment in submitted.comments}
    for cell in notebook.grade_cells:
        grade = grades.get(cell.id)
        if grade is None:
            grade = Grade(cell_id=cell.id, notebook=submitted)
            db.add(grade)
        score = scores.get((notebook.name, cell.name))
        # A cell the result does not know (the gradebook has cells this grader never saw) scores 0.
        grade.auto_score = 0.0 if score is None else score
        grade.needs_manual_grade = False
    for cell in notebook.solution_cells:
        if cell.id not in comments:
            db.add(Comment(cell_id=cell.id, notebook=submitted))


def gradebook_scores(gradebook: Gradebook, assignment: str) -> dict[str, dict[tuple[str, str], float]]:
    """{student: {(notebook, grade cell): score}} as stored (for checks and the grade table)."""
    found: dict[str, dict] = {}
    try:
        record = gradebook.find_assignment(assignment)
    except MissingEntry:
        return found
    for submission in record.submissions:
        cells = found.setdefault(submission.student_id, {})
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                cells[(notebook.name, grade.name)] = grade.score
    return found


def grade_cell_of(gradebook: Gradebook, name: str, notebook: str, assignment: str) -> GradeCell:
    return gradebook.find_grade_cell(name, notebook, assignment)


# nbgrader's cell tables, in the order its own SaveCells preprocessor writes them.
_CELL_KINDS = ("grade", "solution", "task", "source")


def copy_released_cells(released: Gradebook, target: Gradebook, assignment: str) -> None:
    """Copy what ``generate_assignment`` recorded in ``released`` (a scratch gradebook) into ``target``.

    Per notebook: its kernelspec and every grade, solution, task and source cell, with the
    fields nbgrader itself stores, so ``nbgrader autograde`` and formgrader work on ``target``
    as if nbgrader had written it. A notebook nobody submitted yet is replaced whole (as
    nbgrader does); one with submissions keeps its grades and has its cells updated in place,
    and losing a cell then is refused, as nbgrader refuses it. The library's grade notebook
    (``cs231n_lib``, which has no source notebook) is left alone.
    """
    source = released.find_assignment(assignment)
    target.update_or_create_assignment(assignment)
    for notebook in source.notebooks:
        cells = {kind: {cell.name: _cell_fields(cell) for cell in getattr(notebook, f"{kind}_cells")}
                 for kind in _CELL_KINDS}
        try:
            existing = target.find_notebook(notebook.name, assignment)
        except MissingEntry:
            existing = None
        if existing is not None and not existing.submissions:
            target.remove_notebook(notebook.name, assignment)
            existing = None
        if existing is None:
            target.add_notebook(notebook.name, assignment, kernelspec=notebook.kernelspec)
        else:
            _refuse_lost_cells(existing, cells, assignment)
            existing.kernelspec = notebook.kernelspec
        for kind in _CELL_KINDS:
            update = getattr(target, f"update_or_create_{kind}_cell")
            for name, fields in cells[kind].items():
                update(name, notebook.name, assignment, **fields)
    target.db.commit()


def _cell_fields(cell) -> dict:
    fields = cell.to_dict()
    for key in ("id", "name", "notebook", "assignment"):
        fields.pop(key, None)
    if hasattr(cell, "cell_type"):   # a task cell's to_dict() leaves it out
        fields["cell_type"] = cell.cell_type
    return fields


def _refuse_lost_cells(existing: Notebook, cells: dict, assignment: str) -> None:
    lost = sorted(cell.name for kind in _CELL_KINDS for cell in getattr(existing, f"{kind}_cells")
                  if cell.name not in cells[kind])
    if lost:
        raise ReleaseError(f"{assignment}/{existing.name} has graded submissions, and the new source notebook "
                         f"drops these cells of it: {', '.join(lost)}. Put them back, or release under a new "
                         f"assignment name (nbgrader refuses the same change).")
