"""Put a checked release in ``assignments/<a>/`` without ever showing a half-written folder.

The release is built in a hidden folder beside its target (same filesystem, so a rename
moves it), checked there, then swapped in: the old folder is renamed aside, the new one
renamed into place, the old one deleted.
"""

import tempfile
from pathlib import Path

from .course import copy_tree
from .files import remove_tree

STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"


def stage(release_dir: Path, assignments_dir: Path, assignment: str) -> Path:
    """Copy nbgrader's release of one assignment into a fresh staging folder beside its target."""
    assignments_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{assignment}-", dir=assignments_dir))
    copy_tree(release_dir, staging)
    staging.chmod(0o755)
    return staging


def discard(folder: Path) -> None:
    remove_tree(folder)


def remove_leftovers(assignments_dir: Path) -> list[Path]:
    """Delete staging/retired folders an interrupted release left behind."""
    if not assignments_dir.is_dir():
        return []
    leftovers = [p for p in assignments_dir.iterdir()
                 if p.is_dir() and p.name.startswith((STAGING_PREFIX, RETIRED_PREFIX))]
    for folder in leftovers:
        remove_tree(folder)
    return leftovers
