"""A student's submitted library, fingerprinted: what a stored library result depends on."""

import hashlib
from pathlib import Path

from ..files import LIMITS, UnsafeFileError, regular_files

LIBRARY = "cs231n_lib"


def submission_hash(submission_dir: Path) -> str:
    """SHA-256 over the library's relative paths and contents (links skipped, sizes bounded)."""
    digest = hashlib.sha256()
    root = Path(submission_dir) / LIBRARY
    try:
        if root.is_symlink() or not root.is_dir():
            raise UnsafeFileError(f"the submission has no {LIBRARY}/ folder")
        found = regular_files(root, LIMITS.library_files, LIMITS.library_bytes)
    except UnsafeFileError as error:
        digest.update(f"unusable: {error}".encode())
        return digest.hexdigest()
    for relative, path in found:
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
