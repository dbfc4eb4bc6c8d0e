"""Where grading reads and writes inside nbgrader's course directory.

nbgrader's own folders keep their meaning (``submitted/``, ``autograded/``, ``feedback/``,
``gradebook.db``); what nbgrader has no place for lives under ``course/grading/``:

    grading/results/<a>/<student>.json   one student's combined grade (notebook + library)
    grading/library/<a>/<student>.json   the library grading's own result (clean room)
    grading/templates/<a>/               the mini course every student's sandbox starts from
    grading/.grading_secret              the seed of each student's hidden library inputs (0600)
    exports/                             CSV files and Gradescope results
"""

import dataclasses
from pathlib import Path

from .layout import KitLayout

GRADEBOOK_NAME = "gradebook.db"


@dataclasses.dataclass(frozen=True)
class GradingLayout:
    course_dir: Path
    assignments_dir: Path     # the public student release, assignments/<a>/
    kit: KitLayout

    @classmethod
    def of(cls, kit: KitLayout | None = None, course_dir: Path | None = None) -> "GradingLayout":
        kit = (kit or KitLayout.of_repo()).with_outputs(course_dir=course_dir)
        return cls(course_dir=Path(kit.course_dir).resolve(), assignments_dir=Path(kit.assignments_dir).resolve(),
                   kit=kit)

    @property
    def gradebook(self) -> Path:
        return self.course_dir / GRADEBOOK_NAME

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.gradebook}"

    @property
    def grading_dir(self) -> Path:
        return self.course_dir / "grading"

    @property
    def secret_file(self) -> Path:
        return self.grading_dir / ".grading_secret"

    @property
    def library_results_dir(self) -> Path:
        return self.grading_dir / "library"

    @property
    def exports_dir(self) -> Path:
        return self.course_dir / "exports"

    def results_dir(self, assignment: str) -> Path:
        return self.grading_dir / "results" / assignment

    def result_file(self, assignment: str, student: str) -> Path:
        return self.results_dir(assignment) / f"{student}.json"

    def template_dir(self, assignment: str) -> Path:
        return self.grading_dir / "templates" / assignment

    def submitted_dir(self, assignment: str, student: str) -> Path:
        return self.course_dir / "submitted" / student / assignment

    def autograded_dir(self, assignment: str, student: str) -> Path:
        return self.course_dir / "autograded" / student / assignment

    def feedback_dir(self, assignment: str, student: str) -> Path:
        return self.course_dir / "feedback" / student / assignment

    def release_dir(self, assignment: str) -> Path:
        return self.assignments_dir / assignment

    def source_notebook(self, assignment: str, notebook: str) -> Path:
        """The instructor's notebook as nbgrader's source (stable cell ids); falls back to solutions/."""
        built = self.course_dir / "source" / assignment / notebook
        return built if built.is_file() else self.kit.solutions_dir / assignment / notebook

    def students_with_submissions(self, assignment: str) -> list[str]:
        root = self.course_dir / "submitted"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir() and not p.name.startswith("."))
