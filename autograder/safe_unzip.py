"""Unpack a student's zip without trusting it.

Refused outright (the whole archive, with the reason): absolute paths, ``..`` components,
drive letters or backslashes, symlinks and other special files, more than
:data:`MAX_ENTRIES` entries, and archives that expand beyond :data:`MAX_TOTAL_BYTES` (counted
while reading, not from the headers a zip bomb lies in). Folders and files an LMS or an OS
adds (``__MACOSX/``, ``.DS_Store``, caches) are skipped.
"""

import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_ENTRIES = 2000
MAX_TOTAL_BYTES = 100 * 2**20
MAX_FILE_BYTES = 50 * 2**20
SKIPPED_PARTS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".DS_Store", ".git"}
CHUNK = 2**16


class UnsafeArchiveError(Exception):
    """The archive cannot be unpacked safely; the message says which entry and why."""


def safe_members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The entries to extract, each with its checked relative path; raises on anything unsafe."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise UnsafeArchiveError(f"{len(infos)} entries; at most {MAX_ENTRIES} are accepted")
    members = []
    for info in infos:
        name = info.filename
        if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise UnsafeArchiveError(f"entry {name!r}: absolute or Windows-style path")
        path = PurePosixPath(name)
        if any(part == ".." for part in path.parts):
            raise UnsafeArchiveError(f"entry {name!r}: '..' would leave the folder")
        mode = info.external_attr >> 16
        if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchiveError(f"entry {name!r}: a symlink or special file, not a regular file")
        if info.is_dir() or any(part in SKIPPED_PARTS or part.startswith("._") for part in path.parts):
            continue
        if name.endswith((".pyc", ".pyo")):
            continue
        members.append((info, path))
    return members


def extract(archive_path: Path, destination: Path) -> list[str]:
    """Unpack ``archive_path`` into the (new, empty) folder ``destination``; returns the files written."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeArchiveError(f"not a readable zip file: {error}") from None
    written, total = [], 0
    with archive:
        for info, path in safe_members(archive):
            target = Path(destination, *path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with archive.open(info) as source, open(target, "xb") as sink:
                    while chunk := source.read(CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                            raise UnsafeArchiveError(
                                f"entry {info.filename!r}: expands beyond the limits ({MAX_FILE_BYTES // 2**20} MB "
                                f"per file, {MAX_TOTAL_BYTES // 2**20} MB in all)")
                        sink.write(chunk)
            except FileExistsError:
                raise UnsafeArchiveError(f"entry {info.filename!r} appears twice") from None
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, ValueError) as error:
                raise UnsafeArchiveError(f"entry {info.filename!r} cannot be read: {error}") from None
            written.append(path.as_posix())
    return written
