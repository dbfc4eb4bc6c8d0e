"""Reading and copying files a student controls, without following their links.

A sandbox can leave a symlink where the grader expects a notebook (``ConvPool.ipynb ->
/root/.ssh/id_rsa``); the grader reads it as root on the host, so every path component is
opened with ``O_NOFOLLOW`` and only regular files are read, up to a size cap.
"""

import os
import stat
import shutil
import tempfile
from pathlib import Path


class UnsafeFileError(Exception):
    """A file the grader wanted is missing, a link, not a regular file, or too large."""


def read_regular_file(root: Path, relative: str, max_bytes: int) -> bytes:
    """The bytes of ``root/relative``, refusing symlinks anywhere below ``root`` and big files."""
    parts = [part for part in Path(relative).parts if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts) or Path(relative).is_absolute():
        raise UnsafeFileError(f"{relative!r}: expected a relative path inside {root}")
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            except OSError as error:
                raise UnsafeFileError(f"{relative}: {part}/ is missing or not a plain folder ({error.strerror})") from None
            os.close(directory)
            directory = inner
        try:
            descriptor = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
        except OSError as error:
            raise UnsafeFileError(f"{relative}: missing or a link ({error.strerror})") from None
    finally:
        os.close(directory)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"{relative}: expected a regular file")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFileError(f"{relative}: larger than the limit of {max_bytes // 2**20} MB")
    return data


def regular_files(root: Path, max_files: int, max_bytes: int, skip_dirs=("__pycache__", ".ipynb_checkpoints", ".git")
                  ) -> list[tuple[str, Path]]:
    """(relative posix path, host path) of the regular files under ``root``; links are skipped.

    Raises :class:`UnsafeFileError` beyond ``max_files`` files or ``max_bytes`` in total.
    """
    found, total = [], 0
    root = Path(root)
    for folder, dirnames, filenames in os.walk(root):       # does not follow directory links
        dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
        for name in sorted(filenames):
            path = Path(folder) / name
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or name.endswith((".pyc", ".pyo")):
                continue
            total += info.st_size
            found.append((path.relative_to(root).as_posix(), path))
            if len(found) > max_files or total > max_bytes:
                raise UnsafeFileError(f"{root}: more than {max_files} files or {max_bytes // 2**20} MB")
    return found


def copy_regular_file(source: Path, destination: Path) -> None:
    info = Path(source).lstat()
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(f"{source}: expected a regular file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination, follow_symlinks=False)


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place (never half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.partial-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
