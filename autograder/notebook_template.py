"""The mini course every student's notebook grading starts from (built once, by the trusted parent).

nbgrader's ``autograde`` needs a course directory whose gradebook knows the assignment's
cells (it puts the instructor's grade cells, hidden tests included, back into the
submitted notebook). The real course directory cannot go into a sandbox: it holds the
reference library and every student's grades. So the kit builds a second, minimal one:

    grading/templates/<a>/course/nbgrader_config.py
    grading/templates/<a>/course/source/<a>/<Notebook>.ipynb   (the source notebook only)
    grading/templates/<a>/course/gradebook.db                  (cells only: no students)
    grading/templates/<a>/template.json                        (what it was built from)

``generate_assignment`` runs here on the instructor's notebook alone, in this trusted
process (no student code), and is redone when the source notebook or nbgrader changes.
Each student's sandbox gets a throwaway copy of it.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import nbgrader

from .course import COURSE_ID
from .generate import generate_assignment
from .grading_layout import GradingLayout
from .notebook_spec import NotebookSpec, read_source_notebook
from .notebooks import write_notebook
from .tasks import Assignment

STAMP = "template.json"
COURSE = "course"

TEMPLATE_CONFIG = f"""\
# The throwaway course of one student's notebook grading (made by the kit; see notebook_template.py).
import os
c = get_config()  # noqa: F821
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = {COURSE_ID!r}
"""


def ensure_template(layout: GradingLayout, assignment: Assignment, spec: NotebookSpec) -> Path:
    """The template's course folder for ``assignment``, built or rebuilt when out of date."""
    root = layout.template_dir(assignment.name)
    wanted = {"source_sha256": spec.sha256, "nbgrader": nbgrader.__version__, "notebook": assignment.notebook}
    if _stamp(root) == wanted and (root / COURSE / "gradebook.db").is_file():
        return root / COURSE
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".building-{assignment.name}-", dir=root.parent))
    try:
        course = building / COURSE
        source = course / "source" / assignment.name
        source.mkdir(parents=True)
        write_notebook(read_source_notebook(layout.kit, assignment), source / assignment.notebook)
        (course / "nbgrader_config.py").write_text(TEMPLATE_CONFIG, encoding="utf-8")
        generate_assignment(course, assignment.name)
        shutil.rmtree(course / "release", ignore_errors=True)   # the sandbox needs source + gradebook only
        (building / STAMP).write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")
        _make_readable(building)
        if root.exists():
            retired = root.with_name(f".retired-{root.name}-{os.getpid()}")
            os.rename(root, retired)
            os.rename(building, root)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(building, root)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return root / COURSE


def _stamp(root: Path) -> dict | None:
    try:
        return json.loads((root / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _make_readable(root: Path) -> None:
    """Sandboxed runs use another uid: the template must be world-readable (it is copied, never written)."""
    for folder, dirnames, filenames in os.walk(root):
        os.chmod(folder, 0o755)
        for name in filenames:
            os.chmod(os.path.join(folder, name), 0o644)
