"""Where everything is: the kit's sources, nbgrader's course directory, the student release, grading's files.

One frozen value, :class:`Layout`, is the only place a module asks for a path (or for the
task catalog), so tests can point the same code at a synthetic library or write into a
temporary folder::

    cs231n_lib/                              lib_dir: the reference library (its name: lib_name)
    solutions/tasks.toml, solutions/<a>/     the task catalog; the instructor's notebooks
    datasets/get_datasets.sh                 the data script shipped with every assignment
    assignments/<a>/                         the student bundle (student_release_dir)
    dist/<a>.zip                             the bundle as a zip (bundle_zip; git-ignored)
    course/                                  nbgrader's course directory (git-ignored):
        nbgrader_config.py, gradebook.db
        source/<a>/, release/<a>/            what generate_assignment reads and writes
        submitted/<s>/<a>/                   collected submissions
        autograded/<s>/<a>/                  the graded copy of each notebook, for instructors
        feedback/<s>/<a>/report.html         what students get
        grading/results/<a>/<s>.json         one result per student: the grade (trusted)
        grading/.grading_secret              the seed of each student's hidden inputs (0600)
        exports/grades.csv                   nbgrader's gradebook export
        exports/<a>/                         per_function.csv, integrity.csv, gradescope/<s>/results.json,
                                             similarity/ (index.html, pairs.csv, reference.csv),
                                             leaderboard/ (index.html, leaderboard.csv)
"""

import dataclasses
import fnmatch
from pathlib import Path

from .errors import ReleaseError
from .tasks import Assignment, Catalog, load_catalog

# The folder that holds this autograder package: the kit's checkout when run from one (or from an
# editable install), site-packages when the kit is installed; then the course's sources are found
# only through --kit (:func:`kit_root`).
REPO_ROOT = Path(__file__).resolve().parent.parent
# A folder is a course kit when it holds the task catalog.
KIT_MARKER = Path("solutions") / "tasks.toml"
LIBRARY = "cs231n_lib"          # the library's package name (the folder students edit)
COURSE_ID = "cs231n_convnet"
# The checkpoint part of a grade (the submitted model, evaluated by the grader): its gradebook notebook,
# with one grade cell, and its graded copy beside the student's notebook.
CHECKPOINT_PART = "checkpoint"
CHECKPOINT_CELL = "held-out-accuracy"
# Files and folders that never belong in a course directory or a release.
IGNORED_NAMES = ("__pycache__", ".ipynb_checkpoints", "*.pyc", ".DS_Store")


def is_ignored(relative: Path) -> bool:
    """True when any part of ``relative`` matches :data:`IGNORED_NAMES`."""
    return any(fnmatch.fnmatch(part, pattern) for part in Path(relative).parts for pattern in IGNORED_NAMES)


def kit_root(given: Path | None = None) -> Path:
    """The course kit's folder (``cs231n_lib/``, ``solutions/``, ``assignments/``, ``course/``):
    ``given`` (the ``--kit`` option), else the checkout this autograder runs from.

    An installed autograder (``pip install .``) lives in site-packages, away from the course's
    sources: it needs ``given``, and says so rather than guessing from the current directory.
    """
    if given is None:
        if (REPO_ROOT / KIT_MARKER).is_file():
            return REPO_ROOT
        raise ReleaseError(f"the autograder is installed at {REPO_ROOT / 'autograder'}, away from the course kit's "
                           f"sources: pass --kit DIR, the kit's folder (the one with {KIT_MARKER}, "
                           f"{LIBRARY}/ and assignments/)")
    root = Path(given).expanduser().resolve()
    if not (root / KIT_MARKER).is_file():
        raise ReleaseError(f"--kit {given}: expected the course kit's folder, with {KIT_MARKER}; "
                           f"{root / KIT_MARKER} does not exist")
    return root


@dataclasses.dataclass(frozen=True)
class Layout:
    lib_dir: Path            # the reference library, cs231n_lib/
    solutions_dir: Path      # solutions/<assignment>/<notebook>
    tasks_file: Path         # solutions/tasks.toml
    data_script: Path        # datasets/get_datasets.sh (shipped when it exists)
    course_dir: Path         # nbgrader's course directory (git-ignored)
    assignments_dir: Path    # the committed student release: one bundle folder per assignment
    dist_dir: Path           # the bundles as zips (git-ignored)

    # Where the data script lands inside a release, relative to the assignment folder.
    data_script_release_path = Path("datasets") / "get_datasets.sh"

    @classmethod
    def of_repo(cls, root: Path | None = None) -> "Layout":
        """The layout of the kit at ``root`` (default: the checkout this autograder runs from; see :func:`kit_root`)."""
        root = kit_root(root)
        return cls(lib_dir=root / LIBRARY, solutions_dir=root / "solutions",
                   tasks_file=root / "solutions" / "tasks.toml", data_script=root / "datasets" / "get_datasets.sh",
                   course_dir=root / "course", assignments_dir=root / "assignments", dist_dir=root / "dist")

    def with_outputs(self, course_dir=None, assignments_dir=None, dist_dir=None) -> "Layout":
        """The same sources, with the course directory and/or the release elsewhere.

        A release moved elsewhere gets its zips beside it (``<assignments_dir>/../dist``)
        unless ``dist_dir`` says otherwise.
        """
        changes = {}
        if course_dir is not None:
            changes["course_dir"] = Path(course_dir).resolve()
        if assignments_dir is not None:
            changes["assignments_dir"] = Path(assignments_dir).resolve()
            changes["dist_dir"] = changes["assignments_dir"].parent / "dist"
        if dist_dir is not None:
            changes["dist_dir"] = Path(dist_dir).resolve()
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ the kit

    @property
    def pyproject(self) -> Path:
        """The kit's pyproject.toml beside solutions/: its dependencies go into each bundle's requirements.txt."""
        return self.solutions_dir.parent / "pyproject.toml"

    @property
    def lib_name(self) -> str:
        return self.lib_dir.name

    def catalog(self) -> Catalog:
        """``solutions/tasks.toml``, checked against the library (which function each assignment asks for)."""
        return load_catalog(self.tasks_file, self.lib_dir)

    def source_notebook(self, assignment: Assignment) -> Path:
        """The instructor's notebook: solutions, public checks and hidden tests."""
        return self.solutions_dir / assignment.name / assignment.notebook

    def student_release_dir(self, assignment: str) -> Path:
        """``assignments/<a>/``: the student bundle (stub notebook, stubbed library, scripts, README)."""
        return self.assignments_dir / assignment

    def bundle_zip(self, assignment: str) -> Path:
        """``dist/<a>.zip``: the bundle as students download it."""
        return self.dist_dir / f"{assignment}.zip"

    # ------------------------------------------------------------------ nbgrader's course directory

    @property
    def gradebook(self) -> Path:
        return self.course_dir / "gradebook.db"

    def nbgrader_source_dir(self, assignment: str) -> Path:
        return self.course_dir / "source" / assignment

    def nbgrader_release_dir(self, assignment: str) -> Path:
        """Where ``nbgrader generate_assignment`` writes, before the kit checks it and copies it out."""
        return self.course_dir / "release" / assignment

    def submitted_dir(self, assignment: str, student: str) -> Path:
        return self.course_dir / "submitted" / student / assignment

    def autograded_dir(self, assignment: str, student: str) -> Path:
        return self.course_dir / "autograded" / student / assignment

    def feedback_dir(self, assignment: str, student: str) -> Path:
        return self.course_dir / "feedback" / student / assignment

    def students_with_submissions(self, assignment: str) -> list[str]:
        root = self.course_dir / "submitted"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir() and not p.name.startswith("."))

    # ------------------------------------------------------------------ grading's own files

    @property
    def secret_file(self) -> Path:
        return self.course_dir / "grading" / ".grading_secret"

    def results_dir(self, assignment: str) -> Path:
        return self.course_dir / "grading" / "results" / assignment

    def result_file(self, assignment: str, student: str) -> Path:
        return self.results_dir(assignment) / f"{student}.json"

    @property
    def exports_dir(self) -> Path:
        return self.course_dir / "exports"

    def assignment_exports(self, assignment: str) -> Path:
        """Per-function CSV, Gradescope results, integrity and similarity reports of one assignment."""
        return self.exports_dir / assignment

    def similarity_dir(self, assignment: str) -> Path:
        return self.assignment_exports(assignment) / "similarity"

    def leaderboard_dir(self, assignment: str) -> Path:
        """The class's ranking by the held-out accuracy of the submitted models (index.html, leaderboard.csv)."""
        return self.assignment_exports(assignment) / "leaderboard"
