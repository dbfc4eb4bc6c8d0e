"""Run ``nbgrader generate_assignment`` in a course directory.

nbgrader runs as its own process (its command line, its logging), started from this
interpreter's environment. Its folder goes first on PATH because nbgrader calls
``alembic`` by name to set up the gradebook.
"""

import os
import subprocess
import sys
from pathlib import Path

from .errors import ReleaseError


def nbgrader_environment() -> dict:
    """This process's environment with the interpreter's folder first on PATH (nbgrader calls alembic)."""
    bin_dir = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))


def generate_assignment(course_dir: Path, assignment: str, gradebook: Path | None = None) -> str:
    """Release ``source/<assignment>`` into ``release/<assignment>``; returns nbgrader's log.

    ``gradebook``: the SQLite file nbgrader records the assignment's cells in (default: the
    course directory's ``gradebook.db``).
    """
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"]
    if gradebook is not None:
        command.append(f"--CourseDirectory.db_url=sqlite:///{Path(gradebook).resolve()}")
    result = subprocess.run(command, cwd=course_dir, env=nbgrader_environment(), capture_output=True, text=True)
    log = result.stdout + result.stderr
    # nbgrader logs some failures and still exits 0; any ERROR line stops the release.
    errors = [line for line in log.splitlines() if "| ERROR]" in line or "| CRITICAL]" in line]
    if result.returncode != 0 or errors:
        tail = "\n".join(log.splitlines()[-30:])
        raise ReleaseError(f"nbgrader generate_assignment {assignment} failed (exit code {result.returncode}) "
                           f"in {course_dir}:\n{tail}")
    return log
