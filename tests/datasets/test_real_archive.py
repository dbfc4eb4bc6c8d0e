"""The course's local copy of CIFAR-10 installs through --archive and passes the full verify.

That copy (``../shared/data/cifar-10-python.tar.gz``, or ``$CS231N_SHARED_ARCHIVE``) is a
reassembled mirror, NOT the official archive (see its README): it is checked against its own
SHA-256, and the test also asserts that the official MD5 rejects it.
"""

import os
import pathlib

import pytest

from cs231n_lib.datasets import OFFICIAL_MD5, verify_folder
from cs231n_lib.datasets.checksum import file_digest

from .helpers import run_cli

SHARED_SHA256 = "583bde55ddf5c58fede5766329cbe1fb1aa0d5f21d062ab0db4b31905302fc63"
REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_ARCHIVE = pathlib.Path(os.environ.get("CS231N_SHARED_ARCHIVE")
                              or REPO.parent / "shared" / "data" / "cifar-10-python.tar.gz")


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_ARCHIVE.is_file(),
                    reason=f"the course's CIFAR-10 copy is not at {SHARED_ARCHIVE} "
                           f"(set CS231N_SHARED_ARCHIVE to its path to run this test)")
def test_shared_copy_installs_with_its_sha256_and_passes_full_verify(capsys, tmp_path):
    run = run_cli(capsys, "fetch", "cifar10", "--archive", SHARED_ARCHIVE,
                  "--sha256", SHARED_SHA256, "--dest", tmp_path, "--quiet")
    assert run.code == 0, run.err
    installed = tmp_path / "cifar-10-batches-py"
    report = verify_folder(installed)  # the real defaults: 5 x 10,000 + 10,000, 5,000 / 1,000 per class
    assert (report.train_images, report.test_images) == (50_000, 10_000)
    assert file_digest(installed / "data_batch_1", "md5") == "16b3106bbc8c0f93225135fb31f1325c"
    assert sorted(os.listdir(tmp_path)) == ["cifar-10-batches-py"]
    assert file_digest(SHARED_ARCHIVE, "md5") != OFFICIAL_MD5  # never mistaken for the official one
