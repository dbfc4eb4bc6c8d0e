"""The errors of the data tools: each says what was expected, what came, and what to do.

The CLI prints ``str(error)`` as its one line on stderr, so every message is written
to be read on its own by a TA who did not read the code.
"""

import errno


class DatasetError(Exception):
    """Base of every failure the data tools report (the CLI exits non-zero with its message)."""


class DownloadError(DatasetError):
    """The archive could not be downloaded (host unreachable, HTTP error, too many drops)."""


class ChecksumMismatchError(DatasetError):
    """The archive's digest differs from the one it was checked against."""


class UnsafeArchiveError(DatasetError):
    """An archive member would land outside the extraction folder, or is a link or device."""


class CorruptArchiveError(DatasetError):
    """The archive is truncated, not a tar.gz, or lacks the expected folder layout."""


class VerificationError(DatasetError):
    """The installed batches do not match the expected CIFAR-10 format; ``problems`` lists each."""

    def __init__(self, folder, problems):
        self.folder = folder
        self.problems = list(problems)
        listing = "; ".join(self.problems)
        super().__init__(f"{folder} is not a valid CIFAR-10 install: {listing}")


class InstallError(DatasetError):
    """The data could not be written where asked (no permission, disk full, not a folder)."""


def describe_os_error(error, doing):
    """One sentence for an OSError met while ``doing`` something, with the fix when known.

    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device"), "writing /d/x")
    'disk full while writing /d/x: free some space (CIFAR-10 needs about 350 MB: 170 MB archive + 180 MB batches) or choose another --dest'
    """
    if error.errno == errno.ENOSPC or error.errno == errno.EDQUOT:
        return (f"disk full while {doing}: free some space (CIFAR-10 needs about 350 MB: "
                f"170 MB archive + 180 MB batches) or choose another --dest")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"no write permission while {doing}: choose a --dest you can write to, "
                f"or ask the folder's owner ({error.strerror})")
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"cannot create a folder while {doing}: a file is in the way ({error.strerror})"
    return f"{doing} failed: {error.strerror or error}"
