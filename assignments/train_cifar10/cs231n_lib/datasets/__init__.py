"""Data tools for the course: fetch, verify and publish CIFAR-10, and find it for the loaders.

Command line (``python -m cs231n_lib.datasets --help``)::

    fetch cifar10 [--dest DIR] [--mirror URL | --archive PATH] [--sha256 HEX | --md5 HEX]
    verify [--dest DIR]
    publish --to DIR [--from DIR | --archive PATH --sha256 HEX]
    where

One concern per module: ``download`` (HTTP, resume, retries), ``archive`` (safe extraction),
``verify`` (format checks), ``install`` (atomic install), ``publish`` (read-only course copy),
``locate`` (search order), ``fetch`` (the checksum policy tying them together).
"""

from .cifar10 import CIFAR10, FOLDER_NAME, LABEL_NAMES, OFFICIAL_MD5, OFFICIAL_URL, Expectations
from .errors import (ChecksumMismatchError, CorruptArchiveError, DatasetError, DownloadError,
                     InstallError, UnsafeArchiveError, VerificationError)
from .fetch import choose_source, fetch_cifar10
from .locate import DataNotFoundError, find_cifar10, repo_datasets_dir
from .publish import publish
from .verify import verify_folder

__all__ = [
    "CIFAR10", "FOLDER_NAME", "LABEL_NAMES", "OFFICIAL_MD5", "OFFICIAL_URL", "Expectations",
    "ChecksumMismatchError", "CorruptArchiveError", "DatasetError", "DownloadError",
    "InstallError", "UnsafeArchiveError", "VerificationError", "DataNotFoundError",
    "choose_source", "fetch_cifar10", "find_cifar10", "repo_datasets_dir", "publish",
    "verify_folder",
]
