"""A student's submitted library: find it, copy it safely for the sandbox, fingerprint it.

Only regular files under ``cs231n_lib/`` are copied. Symlinks are dropped, never followed:
a link to ``/work/main/cs231n_lib/layers.py`` would otherwise smuggle the reference into
the sandbox. Caches are skipped (a stale ``.pyc`` is not what the student wrote), and size
caps keep a giant submission from filling the grader's disk.
"""

import hashlib
import os
import shutil
import stat
from pathlib import Path

LIBRARY = "cs231n_lib"
MAX_FILES = 500
MAX_BYTES = 20 * 2**20
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git"}


class SubmissionError(Exception):
    """The submission has no usable library; the message is for the student."""


def library_files(submission_dir: Path) -> list[tuple[str, Path]]:
    """(relative path, host path) of every regular file of the submitted library, sorted."""
    root = Path(submission_dir) / LIBRARY
    if root.is_symlink() or not root.is_dir():
        raise SubmissionError(f"the submission has no {LIBRARY}/ folder (expected {LIBRARY}/layers.py and the rest)")
    found, total = [], 0
    for folder, dirnames, filenames in os.walk(root):   # os.walk does not follow directory links
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            path = Path(folder) / name
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or name.endswith((".pyc", ".pyo")):
                continue   # links, devices, fifos: not code the student wrote
            total += info.st_size
            found.append((path.relative_to(root).as_posix(), path))
            if len(found) > MAX_FILES or total > MAX_BYTES:
                raise SubmissionError(f"{LIBRARY}/ is too large to grade (more than {MAX_FILES} files "
                                      f"or {MAX_BYTES // 2**20} MB)")
    return found


def copy_library(submission_dir: Path, work_dir: Path) -> None:
    """Copy the submitted library into ``work_dir/cs231n_lib`` (the sandbox's home)."""
    target = Path(work_dir) / LIBRARY
    for relative, path in library_files(submission_dir):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination, follow_symlinks=False)


def submission_hash(submission_dir: Path) -> str:
    """SHA-256 over the library's relative paths and contents: what grading depends on."""
    digest = hashlib.sha256()
    try:
        files = library_files(submission_dir)
    except SubmissionError as error:
        digest.update(f"unusable: {error}".encode())
        return digest.hexdigest()
    for relative, path in files:
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
