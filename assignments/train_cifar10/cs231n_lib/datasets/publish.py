"""Publish CIFAR-10 into a shared course folder (e.g. on a JupyterHub) that students only read.

The published ``cifar-10-batches-py/`` is verified, carries a manifest with the size and SHA-256
of every file (``cs231n-manifest.json``), and is read-only: files 0444, folders 0555.
Students point nothing anywhere: loaders look in ``$CS231N_COURSE_DATA`` (default
``/srv/cs231n/data``) by themselves.
"""

import os
import pathlib
import stat

from .cifar10 import CIFAR10, FOLDER_NAME
from .errors import DatasetError, InstallError, VerificationError, describe_os_error
from .install import install
from .manifest import MANIFEST_NAME, build_manifest, read_manifest, write_manifest
from .verify import verify_folder

READ_ONLY_FILE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH                  # 0444
READ_ONLY_DIR = READ_ONLY_FILE | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH   # 0555


def _seal(folder, source):
    """Write the manifest, then make every file 0444 and every sub-folder 0555."""
    names = [p.name for p in pathlib.Path(folder).iterdir() if p.is_file()]
    write_manifest(folder, build_manifest(folder, names, source))
    for root, subfolders, files in os.walk(folder):
        for name in files:
            os.chmod(os.path.join(root, name), READ_ONLY_FILE)
        for name in subfolders:
            os.chmod(os.path.join(root, name), READ_ONLY_DIR)


def published_report(to_dir, expectations=CIFAR10):
    """The VerifyReport of a valid published copy in ``to_dir``, or None (with the reason)."""
    folder = pathlib.Path(to_dir) / FOLDER_NAME
    if not folder.is_dir():
        return None, "nothing published yet"
    if read_manifest(folder) is None:
        return None, f"no {MANIFEST_NAME} (not made by publish)"
    try:
        return verify_folder(folder, expectations), ""
    except VerificationError as error:
        return None, "; ".join(error.problems)


def publish(to_dir, *, archive=None, source_folder=None, source_label=None,
            expectations=CIFAR10, say=print):
    """Install CIFAR-10 into ``to_dir/cifar-10-batches-py`` read-only, with a manifest.

    archive: a checksum-verified tar.gz, or source_folder: an existing install. Idempotent:
    a valid published copy is left alone; a broken one is replaced atomically.
    Returns the VerifyReport of the published copy.
    """
    to_dir = pathlib.Path(to_dir)
    report, why_not = published_report(to_dir, expectations)
    if report is not None:
        say(f"already published and valid, nothing to do: {report}")
        return report
    if (to_dir / FOLDER_NAME).exists():
        say(f"replacing the copy in {to_dir / FOLDER_NAME}: {why_not}")
    if source_folder is not None and pathlib.Path(source_folder).resolve() == (to_dir / FOLDER_NAME).resolve():
        raise DatasetError(f"--from {source_folder} is the destination itself; "
                           f"publish from an archive or another install")
    label = source_label or str(archive or source_folder)
    target, report = install(to_dir, archive=archive, source_folder=source_folder,
                             expectations=expectations, finalize=lambda f: _seal(f, label))
    try:
        # Set after the rename: moving a folder to a new parent needs write permission on it.
        os.chmod(target, READ_ONLY_DIR)
    except OSError as error:
        raise InstallError(describe_os_error(error, f"making {target} read-only")) from None
    report.manifest_checked = True
    say(f"published read-only (files 0444, folders 0555) with {MANIFEST_NAME}: {report}")
    return report
