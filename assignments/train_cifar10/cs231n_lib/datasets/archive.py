"""Safe extraction of a tar.gz: every member is checked before a single byte is written.

Refused: absolute names, names with a '..' part, and anything but plain files and folders
(symlinks, hard links, devices, FIFOs): the CIFAR-10 archive holds only files and folders, so a
link can only be a mistake or an attack. Truncated or non-gzip input is reported as corrupt.
Python's own ``filter='data'`` is applied on top as a second line of defence.
"""

import errno
import pathlib
import tarfile
import zlib

from .errors import CorruptArchiveError, InstallError, UnsafeArchiveError, describe_os_error

_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def _member_problem(member):
    """Why ``member`` must not be extracted, or None when it is a plain, contained entry."""
    name = member.name
    if name.startswith(("/", "\\")) or pathlib.PureWindowsPath(name).drive:
        return "has an absolute path"
    if ".." in pathlib.PurePosixPath(name.replace("\\", "/")).parts:
        return "has a '..' component"
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "is a device, FIFO or other special file"
    return None


def list_members(archive_path):
    """Read the whole archive's table of contents; raises CorruptArchiveError or UnsafeArchiveError."""
    try:
        with tarfile.open(archive_path, "r:*") as tar:
            members = tar.getmembers()
    except FileNotFoundError:
        raise CorruptArchiveError(f"archive {archive_path} does not exist") from None
    except _READ_ERRORS as error:
        raise CorruptArchiveError(f"{archive_path} is truncated or not a tar.gz archive "
                                  f"({type(error).__name__}: {error})") from None
    if not members:
        raise CorruptArchiveError(f"{archive_path} is an empty archive")
    unsafe = [f"{m.name!r} {problem}" for m in members if (problem := _member_problem(m))]
    if unsafe:
        raise UnsafeArchiveError(f"refusing to extract {archive_path}: member "
                                 + "; member ".join(unsafe[:5])
                                 + (f" (and {len(unsafe) - 5} more)" if len(unsafe) > 5 else ""))
    return members


def safe_extract(archive_path, into_dir):
    """Extract ``archive_path`` into the existing folder ``into_dir`` after checking every member.

    Returns the list of member names. On any failure ``into_dir`` may hold some files: the
    caller extracts into a temporary folder and deletes it.
    """
    members = list_members(archive_path)
    try:
        with tarfile.open(archive_path, "r:*") as tar:
            tar.extractall(into_dir, members=members, filter="data")
    except tarfile.FilterError as error:
        raise UnsafeArchiveError(f"refusing to extract {archive_path}: {error}") from None
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS):
            raise InstallError(describe_os_error(error, f"extracting {archive_path} into "
                                                        f"{into_dir}")) from None
        raise CorruptArchiveError(f"{archive_path} could not be extracted: {error}") from None
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise CorruptArchiveError(f"{archive_path} is truncated or corrupt "
                                  f"({type(error).__name__}: {error})") from None
    return [m.name for m in members]


def check_layout(extracted_dir, folder_name, required_files):
    """The archive must hold exactly one top-level folder ``folder_name`` with ``required_files``.

    Returns the path of that folder; raises CorruptArchiveError saying what was found instead.
    """
    extracted_dir = pathlib.Path(extracted_dir)
    top_level = sorted(p.name for p in extracted_dir.iterdir())
    if top_level != [folder_name]:
        raise CorruptArchiveError(f"the archive should hold one folder {folder_name}/, "
                                  f"found at its top level: {top_level or 'nothing'}")
    folder = extracted_dir / folder_name
    if not folder.is_dir():
        raise CorruptArchiveError(f"{folder_name} in the archive is a file, expected a folder")
    missing = [name for name in required_files if not (folder / name).is_file()]
    if missing:
        raise CorruptArchiveError(f"the archive's {folder_name}/ lacks {', '.join(missing)}")
    return folder

