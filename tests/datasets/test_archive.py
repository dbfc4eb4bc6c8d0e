"""Installing from a local --archive: corrupt, truncated and malicious archives are refused."""

import errno
import hashlib
import os
import pickle
import tarfile

import pytest

from cs231n_lib.datasets import verify_folder

from .conftest import SMALL, Route, archive_entries, batch_dicts, tar_gz
from .helpers import SMALL_COUNTS, leftovers, run_cli


def install_archive(capsys, dest, archive_path, *extra):
    digest = hashlib.sha256(archive_path.read_bytes()).hexdigest()
    return run_cli(capsys, "fetch", "cifar10", "--dest", dest, "--archive", archive_path,
                   "--sha256", digest, "--expected-counts", SMALL_COUNTS, "--quiet", *extra)


def assert_refused(run, dest, *phrases):
    assert run.code == 1
    assert len(run.error_lines) == 1, run.err
    for phrase in phrases:
        assert phrase in run.error_lines[0], run.error_lines[0]
    assert not (dest / "cifar-10-batches-py").exists()
    assert leftovers(dest) == []  # the staging folder is gone too


def member(name, data=b"x", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def test_a_good_archive_installs(capsys, tmp_path, small_archive):
    dest = tmp_path / "dest"
    run = install_archive(capsys, dest, small_archive.path)
    assert run.code == 0, run.err
    verify_folder(dest / "cifar-10-batches-py", SMALL)
    assert small_archive.path.exists()  # the TA's own file is never moved or deleted


def test_wrong_checksum_for_a_local_archive_leaves_the_file_alone(capsys, tmp_path, small_archive):
    dest = tmp_path / "dest"
    run = run_cli(capsys, "fetch", "cifar10", "--dest", dest, "--archive", small_archive.path,
                  "--md5", "f" * 32, "--expected-counts", SMALL_COUNTS)
    assert_refused(run, dest, "checksum mismatch", f"found {small_archive.md5}")
    assert small_archive.path.read_bytes() == small_archive.data


def test_truncated_archive_is_refused(capsys, tmp_path, small_archive):
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(small_archive.data[: len(small_archive.data) // 2])
    dest = tmp_path / "dest"
    assert_refused(install_archive(capsys, dest, truncated), dest, "truncated or not a tar.gz")


def test_non_archive_is_refused(capsys, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"<html>404 page from a proxy</html>" * 50)
    dest = tmp_path / "dest"
    assert_refused(install_archive(capsys, dest, junk), dest, "truncated or not a tar.gz")


@pytest.mark.parametrize("make_member, phrase", [
    (lambda outside: member(str(outside / "evil")), "absolute path"),
    (lambda outside: member("cifar-10-batches-py/../../evil"), "'..' component"),
    (lambda outside: member("cifar-10-batches-py/data_batch_1", kind=tarfile.SYMTYPE,
                            linkname=str(outside / "evil")), "is a link"),
    (lambda outside: member("cifar-10-batches-py/escape", kind=tarfile.SYMTYPE,
                            linkname="../../.."), "is a link"),
    (lambda outside: member("cifar-10-batches-py/hard", kind=tarfile.LNKTYPE,
                            linkname="/etc/passwd"), "is a link"),
    (lambda outside: member("cifar-10-batches-py/dev", kind=tarfile.CHRTYPE), "device"),
], ids=["absolute", "dotdot", "symlink-absolute", "symlink-relative", "hardlink", "device"])
def test_malicious_member_is_refused_and_nothing_is_written(capsys, tmp_path, make_member, phrase):
    outside = tmp_path / "outside"
    outside.mkdir()
    bad = make_member(outside)
    archive = tmp_path / "malicious.tar.gz"
    tar_gz(archive, archive_entries() + [bad])
    dest = tmp_path / "dest" / "inner"
    assert_refused(install_archive(capsys, dest, archive), dest, "refusing to extract", phrase)
    assert os.listdir(outside) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "dest" / "evil").exists()


def test_archive_without_the_folder_is_refused(capsys, tmp_path):
    flat = [(info, data) for info, data in archive_entries(top="wrong-name")]
    archive = tmp_path / "flat.tar.gz"
    tar_gz(archive, flat)
    dest = tmp_path / "dest"
    assert_refused(install_archive(capsys, dest, archive), dest,
                   "should hold one folder cifar-10-batches-py/", "wrong-name")


def test_archive_missing_a_batch_is_refused(capsys, tmp_path):
    files = batch_dicts()
    del files["data_batch_5"]
    archive = tmp_path / "short.tar.gz"
    tar_gz(archive, archive_entries(files))
    dest = tmp_path / "dest"
    assert_refused(install_archive(capsys, dest, archive), dest, "lacks data_batch_5")


def test_archive_with_a_code_running_pickle_is_refused(capsys, tmp_path):
    class RunsCode:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    files = batch_dicts()
    files["test_batch"] = {b"data": RunsCode(), b"labels": []}
    archive = tmp_path / "pwn.tar.gz"
    tar_gz(archive, archive_entries(files))
    dest = tmp_path / "dest"
    run = install_archive(capsys, dest, archive)
    assert_refused(run, dest, "test_batch: not a readable CIFAR-10 pickle", "refusing to load global")
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")


def test_disk_full_during_extraction_installs_nothing(capsys, tmp_path, small_archive, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile, "copyfileobj", full_disk)  # tarfile writes every member through it
    dest = tmp_path / "dest"
    assert_refused(install_archive(capsys, dest, small_archive.path), dest, "disk full")


def test_a_downloaded_archive_with_bad_content_is_set_aside(capsys, tmp_path, server):
    # The checksum matches (the mirror published the checksum of a broken file), the content does not.
    files = batch_dicts()
    files["data_batch_2"][b"labels"] = files["data_batch_2"][b"labels"][:-1]
    archive = tmp_path / "broken.tar.gz"
    data = tar_gz(archive, archive_entries(files))
    server.routes["/c.tar.gz"] = Route(data)
    dest = tmp_path / "dest"
    run = run_cli(capsys, "fetch", "cifar10", "--dest", dest, "--mirror", server.url("/c.tar.gz"),
                  "--sha256", hashlib.sha256(data).hexdigest(), "--expected-counts", SMALL_COUNTS,
                  "--quiet")
    assert run.code == 1
    assert "data_batch_2: 19 labels, expected 20" in run.error_lines[0]
    assert leftovers(dest) == ["cifar-10-python.tar.gz.rejected"]


def test_a_broken_install_is_replaced_atomically(capsys, tmp_path, small_archive):
    dest = tmp_path / "dest"
    broken = dest / "cifar-10-batches-py"
    broken.mkdir(parents=True)
    (broken / "data_batch_1").write_bytes(pickle.dumps({b"data": b"nope"}))
    run = install_archive(capsys, dest, small_archive.path)
    assert run.code == 0, run.err
    assert "is broken" in run.err and "reinstalling" in run.err
    verify_folder(broken, SMALL)
    assert leftovers(dest) == []
