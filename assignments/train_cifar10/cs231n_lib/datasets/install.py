"""Atomic install: build the folder in a staging folder beside the destination, check it, rename.

The staging folder lives inside the destination folder, so the final ``os.rename`` stays on one
file system and is atomic: a reader sees either no ``cifar-10-batches-py/`` or a complete,
verified one, never a half-extracted one. A failure at any step deletes the staging folder.
"""

import os
import pathlib
import shutil
import stat
import tempfile

from .archive import check_layout, safe_extract
from .cifar10 import CIFAR10, FOLDER_NAME, REQUIRED_FILES
from .errors import DatasetError, InstallError, VerificationError, describe_os_error
from .manifest import MANIFEST_NAME
from .verify import verify_folder

STAGING_PREFIX = f".{FOLDER_NAME}.staging-"


def ensure_writable_dir(folder):
    """Create ``folder`` if needed and prove we can write there (before a 170 MB download).

    A probe file is created and removed because os.access says yes to root on a read-only
    mount and does not see ACLs.
    """
    folder = pathlib.Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_fd, probe_path = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        os.close(probe_fd)
        os.remove(probe_path)
    except OSError as error:
        raise InstallError(describe_os_error(error, f"preparing the folder {folder}")) from None
    return folder


def remove_tree(path):
    """Delete ``path`` even when it was published read-only: unlinking needs write permission
    on each folder (0555 after publish), so folders are made writable first."""
    if not os.path.lexists(path):
        return
    for folder, _subfolders, _files in os.walk(path):
        os.chmod(folder, stat.S_IRWXU)
    shutil.rmtree(path)


def _move_into_place(new_folder, target):
    """Rename ``new_folder`` to ``target``; an existing (broken) target is set aside first
    and restored if the rename fails, so the old copy is never lost half-way."""
    if not target.exists():
        os.rename(new_folder, target)
        return
    aside = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    os.rename(target, aside)
    try:
        os.rename(new_folder, target)
    except OSError:
        os.rename(aside, target)
        raise
    remove_tree(aside)


def install(dest_dir, *, archive=None, source_folder=None, expectations=CIFAR10, finalize=None):
    """Install CIFAR-10 as ``dest_dir/cifar-10-batches-py`` from an archive or a folder.

    archive: path of a checksum-verified cifar-10-python.tar.gz; source_folder: an existing
    ``cifar-10-batches-py`` to copy (used by publish). finalize(folder) runs on the verified
    staging copy just before the rename (publish writes its manifest there).
    Returns (installed_folder, VerifyReport).
    """
    if (archive is None) == (source_folder is None):
        raise ValueError("install needs exactly one of archive= or source_folder=")
    dest_dir = ensure_writable_dir(dest_dir)
    target = dest_dir / FOLDER_NAME
    try:
        staging = pathlib.Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest_dir))
    except OSError as error:
        raise InstallError(describe_os_error(error, f"creating a staging folder in {dest_dir}")) from None
    try:
        if archive is not None:
            safe_extract(archive, staging)
            folder = check_layout(staging, FOLDER_NAME, REQUIRED_FILES)
        else:
            folder = staging / FOLDER_NAME
            # The old manifest is not copied: publish writes a fresh one for the new copy.
            shutil.copytree(source_folder, folder, ignore=shutil.ignore_patterns(MANIFEST_NAME),
                            symlinks=False)
        try:
            report = verify_folder(folder, expectations)
        except VerificationError as error:
            # Name what the TA gave, not the staging folder that is about to disappear.
            origin = f"{FOLDER_NAME}/ in {archive}" if archive is not None else str(source_folder)
            raise VerificationError(origin, error.problems) from None
        if finalize is not None:
            finalize(folder)
        _move_into_place(folder, target)
    except DatasetError:
        raise
    except OSError as error:
        raise InstallError(describe_os_error(error, f"installing into {dest_dir}")
                           + "; nothing was installed") from None
    finally:
        remove_tree(staging)
    report.folder = target
    return target, report
