"""Files a student controls, and files the grader writes: one module, one table of limits.

Everything that reaches the grader from a student (a submitted folder, an LMS zip, a
notebook) is hostile data: it may hold symlinks to the grader's secrets, special files,
enormous files, zip bombs, or folder trees thousands of levels deep. So here:

- every read opens each path component with ``O_NOFOLLOW`` and reads regular files only,
  up to a size (:func:`read_regular_file`);
- every walk is iterative and bounded in depth, count and bytes, and never follows links
  (:func:`regular_files`): no recursion on attacker-shaped data;
- zips are unpacked entry by entry with the sizes counted while reading, never trusting the
  headers (:func:`extract_zip`);
- folders are removed by ``rm -rf`` (coreutils walks any depth without recursion limits) and
  a failure to remove is reported, never raised (:func:`remove_tree`);
- what the grader writes is written whole or not at all (:func:`write_bytes_atomically`),
  and folders are replaced by renames (:func:`swap_in`).

Every bound is in :data:`LIMITS`, the one place to change them.
"""

import dataclasses
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .course import is_ignored


@dataclasses.dataclass(frozen=True)
class FileLimits:
    notebook_bytes: int = 50 * 2**20       # a submitted notebook (plots included)
    library_files: int = 500               # a submitted cs231n_lib/
    library_bytes: int = 20 * 2**20
    submission_files: int = 2000           # a whole submitted folder
    submission_bytes: int = 100 * 2**20
    depth: int = 32                        # folders inside folders, anywhere
    source_bytes: int = 2 * 2**20          # one source file the integrity scan reads
    zip_entries: int = 2000
    zip_file_bytes: int = 50 * 2**20       # one unpacked entry
    zip_total_bytes: int = 100 * 2**20     # everything unpacked from one zip
    # What the grader holds and writes for one student, whatever the student's code returns or shows.
    held_answer_bytes: int = 256 * 2**20   # arrays of the student's answers in the grader's memory at once
    cell_output_chars: int = 2**20         # the outputs of one cell in the graded copy
    graded_copy_chars: int = 32 * 2**20    # a whole graded copy: cells' text and outputs


LIMITS = FileLimits()
SKIPPED_NAMES = frozenset({"__pycache__", ".ipynb_checkpoints", ".git", "__MACOSX", ".DS_Store"})
CHUNK = 2**16


class UnsafeFileError(Exception):
    """A file the grader wanted is missing, a link, not a regular file, or beyond a limit."""


class UnsafeArchiveError(Exception):
    """An archive cannot be unpacked safely; the message says which entry and why."""


# ----------------------------------------------------------------------------- reading

def read_regular_file(root: Path, relative: str, max_bytes: int) -> bytes:
    """The bytes of ``root/relative``, refusing symlinks anywhere below ``root`` and big files."""
    parts = [part for part in Path(relative).parts if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts) or Path(relative).is_absolute():
        raise UnsafeFileError(f"{relative!r}: expected a relative path inside {root}")
    try:
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise UnsafeFileError(f"{root}: not a readable folder ({error.strerror})") from None
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
        raise UnsafeFileError(f"{relative}: larger than the limit of {max_bytes / 2**20:g} MB")
    return data


def regular_files(root: Path, max_files: int, max_bytes: int, max_depth: int | None = None,
                  skip=SKIPPED_NAMES) -> list[tuple[str, Path]]:
    """(relative posix path, host path) of the regular files under ``root``, sorted; links skipped.

    Iterative (an explicit stack, no recursion), so a tree of any shape costs at most the
    limits: raises :class:`UnsafeFileError` past ``max_files`` files, ``max_bytes`` in all, or
    folders nested deeper than ``max_depth`` (default ``LIMITS.depth``).
    """
    max_depth = LIMITS.depth if max_depth is None else max_depth
    root = Path(root)
    found, total = [], 0
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            raise UnsafeFileError(f"{folder}: cannot be listed ({error.strerror})") from None
        for entry in entries:
            if entry.name in skip or entry.name.endswith((".pyc", ".pyo")):
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 > max_depth:
                    raise UnsafeFileError(f"{root}: folders nested more than {max_depth} deep")
                stack.append((Path(entry.path), depth + 1))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
                found.append((Path(entry.path).relative_to(root).as_posix(), Path(entry.path)))
                if len(found) > max_files or total > max_bytes:
                    raise UnsafeFileError(f"{root}: more than {max_files} files or {max_bytes / 2**20:g} MB")
    return sorted(found)


def copy_regular_file(source: Path, destination: Path) -> None:
    info = Path(source).lstat()
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(f"{source}: expected a regular file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination, follow_symlinks=False)


def assemble_library(release_library: Path, submission: Path, own_files, destination: Path,
                     library_name: str) -> list[str]:
    """``destination/<library>``: the release's library with the student's copies of ``own_files`` put in.

    ``own_files`` are paths relative to the library (the files that hold tasks). A missing
    or unsafe student file leaves the release's stub in place. Returns the student files used.
    """
    target = Path(destination) / library_name
    for relative, path in regular_files(release_library, LIMITS.library_files, LIMITS.library_bytes):
        _write_readable(target / relative, read_regular_file(Path(release_library), relative, LIMITS.library_bytes))
    used = []
    for relative in sorted(own_files):
        try:
            data = read_regular_file(Path(submission), f"{library_name}/{relative}", LIMITS.library_bytes)
        except UnsafeFileError:
            continue
        _write_readable(target / relative, data)
        used.append(relative)
    return used


def _write_readable(path: Path, data: bytes) -> None:
    """Write a file the sandbox's own uid can read (folders 755, files 644, whatever the umask)."""
    missing = [parent for parent in reversed(path.parents) if not parent.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(0o755)
    path.write_bytes(data)
    path.chmod(0o644)


# ----------------------------------------------------------------------------- writing

def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place (never half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name says which host and process wrote it, so a later run can tell it is stale.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent,
                                             prefix=f".{path.name}.partial-{socket.gethostname()}-{os.getpid()}-")
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


def write_json_atomically(path: Path, data: dict) -> None:
    write_bytes_atomically(path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the temporary files of :func:`write_bytes_atomically` that a dead process of this host left."""
    removed = []
    host = socket.gethostname()
    for path in Path(folder).glob(".*.partial-*"):
        owner = path.name.rsplit(".partial-", 1)[1]            # HOST-PID-RANDOM
        owner_host, _, rest = owner.rpartition("-")[0].rpartition("-")
        if owner_host == host and rest.isdigit() and not _alive(int(rest)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def swap_in(new: Path, target: Path) -> None:
    """Replace the folder ``target`` by ``new`` with renames (same filesystem): never half of either."""
    new, target = Path(new), Path(target)
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".retired-{target.name}-", dir=target.parent))
        retired.rmdir()   # mkdtemp only reserved a unique name
        os.rename(target, retired)
        os.rename(new, target)
        remove_tree(retired)
    else:
        os.rename(new, target)


def remove_tree(path: Path) -> str | None:
    """Remove a folder of any shape; returns None, or why it could not be removed (never raises)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    try:
        result = subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], capture_output=True,
                                text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{path} could not be removed: {error}"
    if result.returncode != 0 or path.exists():
        return f"{path} could not be removed: {result.stderr.strip()[-300:]}"
    return None


# ----------------------------------------------------------------------------- the kit's own files

def copy_tree(source: Path, destination: Path) -> None:
    """Copy a folder without caches or checkpoints; file modes normalised to 644/755."""
    source, destination = Path(source), Path(destination)
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: expected a folder to copy, found none")
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if is_ignored(relative) or path.is_dir():
            continue
        copy_file(path, destination / relative)


def copy_file(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    destination.chmod(0o755 if is_executable(source) else 0o644)


def is_executable(path: Path) -> bool:
    """Shell scripts ship executable whatever mode a tool left them in; others keep their x bit."""
    return path.suffix == ".sh" or bool(Path(path).stat().st_mode & 0o100)


# ----------------------------------------------------------------------------- zips

def zip_members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The entries to extract, each with its checked relative path; raises on anything unsafe.

    Refused (the whole archive): absolute paths, ``..``, drive letters or backslashes,
    symlinks and other special files, paths nested deeper than ``LIMITS.depth``, more than
    ``LIMITS.zip_entries`` entries. Skipped: what an LMS or an OS adds (``__MACOSX/``, caches).
    """
    infos = archive.infolist()
    if len(infos) > LIMITS.zip_entries:
        raise UnsafeArchiveError(f"{len(infos)} entries; at most {LIMITS.zip_entries} are accepted")
    members = []
    for info in infos:
        name = info.filename
        if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise UnsafeArchiveError(f"entry {name!r}: absolute or Windows-style path")
        path = PurePosixPath(name)
        if any(part == ".." for part in path.parts):
            raise UnsafeArchiveError(f"entry {name!r}: '..' would leave the folder")
        if len(path.parts) > LIMITS.depth:
            raise UnsafeArchiveError(f"entry {name[:80]!r}...: nested more than {LIMITS.depth} folders deep")
        mode = info.external_attr >> 16
        if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchiveError(f"entry {name!r}: a symlink or special file, not a regular file")
        if info.is_dir() or any(part in SKIPPED_NAMES or part.startswith("._") for part in path.parts):
            continue
        if name.endswith((".pyc", ".pyo")):
            continue
        members.append((info, path))
    return members


def extract_zip(archive_path: Path, destination: Path) -> list[str]:
    """Unpack ``archive_path`` into the (new, empty) folder ``destination``; returns the files written.

    Sizes are counted while reading, not taken from the headers a zip bomb lies in.
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeArchiveError(f"not a readable zip file: {error}") from None
    written, total = [], 0
    with archive:
        for info, path in zip_members(archive):
            target = Path(destination, *path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with archive.open(info) as source, open(target, "xb") as sink:
                    while chunk := source.read(CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > LIMITS.zip_file_bytes or total > LIMITS.zip_total_bytes:
                            raise UnsafeArchiveError(
                                f"entry {info.filename!r}: expands beyond the limits "
                                f"({LIMITS.zip_file_bytes / 2**20:g} MB per file, "
                                f"{LIMITS.zip_total_bytes / 2**20:g} MB in all)")
                        sink.write(chunk)
            except FileExistsError:
                raise UnsafeArchiveError(f"entry {info.filename!r} appears twice") from None
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, ValueError) as error:
                raise UnsafeArchiveError(f"entry {info.filename!r} cannot be read: {error}") from None
            written.append(path.as_posix())
    return written
