"""Where the kit's sources are and where the release goes.

One frozen value instead of module-level paths, so tests can point the same pipeline at
a synthetic library or write the release into a temporary folder.
"""

import dataclasses
import fnmatch
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Files and folders that never belong in a course directory or a release.
IGNORED_NAMES = ("__pycache__", ".ipynb_checkpoints", "*.pyc", ".DS_Store")


def is_ignored(relative: Path) -> bool:
    """True when any part of ``relative`` matches :data:`IGNORED_NAMES`."""
    return any(fnmatch.fnmatch(part, pattern) for part in Path(relative).parts for pattern in IGNORED_NAMES)


@dataclasses.dataclass(frozen=True)
class KitLayout:
    lib_dir: Path            # the reference library, cs231n_lib/
    solutions_dir: Path      # solutions/<assignment>/<notebook>
    tasks_file: Path         # solutions/tasks.toml
    data_script: Path        # datasets/get_datasets.sh (shipped when it exists)
    course_dir: Path         # nbgrader's course directory (git-ignored)
    assignments_dir: Path    # the committed student release

    @property
    def lib_name(self) -> str:
        return self.lib_dir.name

    # Where the data script lands inside a release, relative to the assignment folder.
    data_script_release_path = Path("datasets") / "get_datasets.sh"

    @classmethod
    def of_repo(cls, root: Path = REPO_ROOT) -> "KitLayout":
        root = Path(root)
        return cls(
            lib_dir=root / "cs231n_lib",
            solutions_dir=root / "solutions",
            tasks_file=root / "solutions" / "tasks.toml",
            data_script=root / "datasets" / "get_datasets.sh",
            course_dir=root / "course",
            assignments_dir=root / "assignments",
        )

    def with_outputs(self, course_dir=None, assignments_dir=None) -> "KitLayout":
        """The same sources, writing the course directory and/or the release elsewhere."""
        changes = {}
        if course_dir is not None:
            changes["course_dir"] = Path(course_dir)
        if assignments_dir is not None:
            changes["assignments_dir"] = Path(assignments_dir)
        return dataclasses.replace(self, **changes)
