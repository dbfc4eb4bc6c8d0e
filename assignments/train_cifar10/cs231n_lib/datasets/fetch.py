"""``fetch cifar10``: download (or take a local archive), check its checksum, install atomically.

Checksum policy, so a TA can trust what students load:
- the official URL is always checked against the official MD5;
- a ``--mirror`` URL or a local ``--archive`` must come with ``--sha256`` or ``--md5``; without
  one it is refused, unless ``--no-checksum`` is given, which prints a warning and still
  checks the content (shapes, labels, class counts) before installing.
A downloaded archive failing its checksum is renamed ``*.rejected`` (kept for inspection,
never installed); a local ``--archive`` is left untouched (it is not ours to rename).
"""

import dataclasses
import os
import pathlib

from .checksum import Checksum, mismatches
from .cifar10 import ARCHIVE_NAME, CIFAR10, FOLDER_NAME, OFFICIAL_MD5, OFFICIAL_URL
from .download import download
from .errors import (ChecksumMismatchError, CorruptArchiveError, DatasetError,
                     UnsafeArchiveError, VerificationError, describe_os_error)
from .install import ensure_writable_dir, install
from .verify import verify_folder

REJECTED_SUFFIX = ".rejected"


@dataclasses.dataclass(frozen=True)
class Source:
    """Where the archive comes from: a URL to download or a local path, and what to check it against."""
    url: str | None
    archive: pathlib.Path | None
    checksums: tuple
    official: bool

    def describe(self):
        where = self.url if self.url else str(self.archive)
        return f"{'official archive ' if self.official else ''}{where}"


def choose_source(*, mirror=None, archive=None, sha256=None, md5=None, no_checksum=False):
    """Apply the checksum policy above; raises DatasetError for a combination it refuses."""
    if mirror and archive:
        raise DatasetError("give either --mirror URL or --archive PATH, not both")
    checksums = []
    try:
        if sha256:
            checksums.append(Checksum.parse("sha256", sha256))
        if md5:
            checksums.append(Checksum.parse("md5", md5))
    except ValueError as error:
        raise DatasetError(str(error)) from None
    if not mirror and not archive:
        if no_checksum:
            raise DatasetError("--no-checksum only applies to --mirror or --archive: the official "
                               "archive is always checked against its official MD5")
        checksums.insert(0, Checksum("md5", OFFICIAL_MD5))
        return Source(OFFICIAL_URL, None, tuple(checksums), official=True)
    if not checksums and not no_checksum:
        what = f"--mirror {mirror}" if mirror else f"--archive {archive}"
        raise DatasetError(f"{what} needs the checksum of that copy (--sha256 HEX or --md5 HEX) so "
                           f"a corrupted or tampered copy cannot be installed; pass --no-checksum "
                           f"to install it unchecked (not recommended)")
    if mirror:
        return Source(mirror, None, tuple(checksums), official=False)
    return Source(None, pathlib.Path(archive), tuple(checksums), official=False)


def check_checksums(path, source, say):
    """Raise ChecksumMismatchError when ``path`` fails any checksum of ``source``."""
    if not source.checksums:
        say(f"WARNING: {path} is installed WITHOUT a checksum (--no-checksum); only its "
            f"content is checked. Pass --sha256 of your course's copy to make this safe.")
        return
    failed = mismatches(path, source.checksums)
    if failed:
        details = "; ".join(f"expected {c.algorithm} {c.hexdigest}, found {found}" for c, found in failed)
        raise ChecksumMismatchError(f"checksum mismatch for {source.describe()}: {details}")


def _reject(path):
    """Rename a bad download to *.rejected so it is neither resumed nor installed."""
    rejected = path.with_name(ARCHIVE_NAME + REJECTED_SUFFIX)
    os.replace(path, rejected)
    return rejected


def installed_report(dest_dir, expectations=CIFAR10):
    """(VerifyReport, '') for a valid install in dest_dir, else (None, why)."""
    folder = pathlib.Path(dest_dir) / FOLDER_NAME
    if not folder.exists():
        return None, "not installed"
    try:
        return verify_folder(folder, expectations), ""
    except VerificationError as error:
        return None, "; ".join(error.problems)


def _download_archive(source, dest_dir, *, timeout, retries, retry_wait, progress, say):
    """Download into dest_dir/<archive>.part, check it, and rename it to the archive name."""
    archive = dest_dir / ARCHIVE_NAME
    if archive.exists() and source.checksums and not mismatches(archive, source.checksums):
        say(f"reusing the already downloaded and checked {archive}")
        return archive
    part = dest_dir / (ARCHIVE_NAME + ".part")
    if part.exists():
        say(f"resuming {part} ({part.stat().st_size} bytes already downloaded)")
    say(f"downloading {source.url}")
    download(source.url, part, timeout=timeout, retries=retries, retry_wait=retry_wait,
             progress=progress, say=say)
    try:
        check_checksums(part, source, say)
    except ChecksumMismatchError as error:
        rejected = _reject(part)
        raise ChecksumMismatchError(f"{error}. The download is kept as {rejected} for inspection "
                                    f"and was NOT installed") from None
    os.replace(part, archive)
    return archive


def fetch_cifar10(dest_dir, source, *, keep_archive=False, timeout=30.0, retries=5,
                  retry_wait=1.0, progress=True, expectations=CIFAR10, say=print):
    """Install CIFAR-10 as ``dest_dir/cifar-10-batches-py`` from ``source`` (see choose_source).

    Idempotent: a valid install is reported and left alone. Returns the VerifyReport.
    Raises a DatasetError subclass; the destination then holds no new or partial data set.
    """
    dest_dir = pathlib.Path(dest_dir)
    report, why_not = installed_report(dest_dir, expectations)
    if report is not None:
        say(f"already installed and valid, nothing to do: {report}")
        return report
    if why_not != "not installed":
        say(f"the install in {dest_dir / FOLDER_NAME} is broken ({why_not}); reinstalling")
    dest_dir = ensure_writable_dir(dest_dir)

    if source.archive is not None:
        if not source.archive.is_file():
            raise DatasetError(f"--archive {source.archive} does not exist or is not a file")
        check_checksums(source.archive, source, say)
        target, report = install(dest_dir, archive=source.archive, expectations=expectations)
        say(f"installed {target} from {source.archive}: {report}")
        return report

    archive = _download_archive(source, dest_dir, timeout=timeout, retries=retries,
                                retry_wait=retry_wait, progress=progress, say=say)
    try:
        target, report = install(dest_dir, archive=archive, expectations=expectations)
    except (CorruptArchiveError, UnsafeArchiveError, VerificationError) as error:
        # The bytes matched the checksum we were given but are not a usable data set:
        # set them aside so the next run downloads afresh instead of reusing them.
        rejected = _reject(archive)
        error.args = (f"{error} (the download is kept as {rejected} and was NOT installed)",)
        raise
    if not keep_archive:
        try:
            archive.unlink()
        except OSError as error:
            say(f"note: could not remove {archive}: {describe_os_error(error, 'cleaning up')}")
    say(f"installed {target} from {source.describe()}: {report}")
    return report
