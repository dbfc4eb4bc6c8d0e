"""fetch over HTTP from a local server: success, resume, retries, and every failure mode."""

import errno
import os

import pytest

from cs231n_lib.datasets import OFFICIAL_MD5, OFFICIAL_URL, choose_source, verify_folder
from cs231n_lib.datasets.errors import DatasetError

from .conftest import SMALL, Route
from .helpers import SMALL_COUNTS, leftovers, run_cli

PATH = "/mirror/cifar-10-python.tar.gz"


def fetch(capsys, dest, url, *extra):
    return run_cli(capsys, "fetch", "cifar10", "--dest", dest, "--mirror", url,
                   "--expected-counts", SMALL_COUNTS, "--retry-wait", "0", "--quiet", *extra)


def assert_not_installed(dest):
    assert not (dest / "cifar-10-batches-py").exists()
    assert not [n for n in os.listdir(dest) if ".staging-" in n], os.listdir(dest)


def test_fetch_from_mirror_installs_a_verified_folder_and_cleans_up(capsys, tmp_path, server, small_archive):
    server.routes[PATH] = Route(small_archive.data)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256)
    assert run.code == 0, run.err
    installed = tmp_path / "cifar-10-batches-py"
    assert run.out.strip() == str(installed)
    report = verify_folder(installed, SMALL)
    assert report.train_images == 100 and report.test_images == 30
    assert leftovers(tmp_path) == []  # no .part, no archive, no staging folder
    assert server.requests == [(PATH, None)]


def test_fetch_twice_does_nothing_the_second_time(capsys, tmp_path, server, small_archive):
    server.routes[PATH] = Route(small_archive.data)
    assert fetch(capsys, tmp_path, server.url(PATH), "--md5", small_archive.md5).code == 0
    before = (tmp_path / "cifar-10-batches-py" / "data_batch_1").stat().st_mtime_ns
    run = fetch(capsys, tmp_path, server.url(PATH), "--md5", small_archive.md5)
    assert run.code == 0
    assert "already installed and valid" in run.err
    assert len(server.requests) == 1  # nothing downloaded again
    assert (tmp_path / "cifar-10-batches-py" / "data_batch_1").stat().st_mtime_ns == before


def test_dropped_connection_is_resumed_with_range_within_one_run(capsys, tmp_path, server, small_archive):
    cut = len(small_archive.data) // 3
    server.routes[PATH] = Route(small_archive.data, drops=1, drop_after=cut)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256, "--retries", "3")
    assert run.code == 0, run.err
    assert server.requests == [(PATH, None), (PATH, f"bytes={cut}-")]
    assert "resuming at byte" in run.err
    verify_folder(tmp_path / "cifar-10-batches-py", SMALL)


def test_interrupted_run_keeps_the_part_file_and_the_next_run_resumes(capsys, tmp_path, server, small_archive):
    cut = len(small_archive.data) // 2
    server.routes[PATH] = Route(small_archive.data, drops=1, drop_after=cut)
    first = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256, "--retries", "1")
    assert first.code == 1
    assert len(first.error_lines) == 1 and "connection dropped" in first.error_lines[0]
    assert "run the same command again to resume" in first.err
    part = tmp_path / "cifar-10-python.tar.gz.part"
    assert part.stat().st_size == cut
    assert_not_installed(tmp_path)

    second = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256)
    assert second.code == 0, second.err
    assert server.requests[-1] == (PATH, f"bytes={cut}-")
    assert not part.exists()
    verify_folder(tmp_path / "cifar-10-batches-py", SMALL)


def test_server_ignoring_range_restarts_from_scratch(capsys, tmp_path, server, small_archive):
    (tmp_path / "cifar-10-python.tar.gz.part").write_bytes(small_archive.data[:100])
    server.routes[PATH] = Route(small_archive.data, honour_range=False)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256)
    assert run.code == 0, run.err
    assert server.requests == [(PATH, "bytes=100-")]  # asked, got 200 and the whole file
    verify_folder(tmp_path / "cifar-10-batches-py", SMALL)


def test_a_part_file_already_complete_is_not_downloaded_again(capsys, tmp_path, server, small_archive):
    # A run killed between the last byte and the checksum: the server answers 416 to the Range.
    (tmp_path / "cifar-10-python.tar.gz.part").write_bytes(small_archive.data)
    server.routes[PATH] = Route(small_archive.data)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256)
    assert run.code == 0, run.err
    assert server.requests == [(PATH, f"bytes={len(small_archive.data)}-")]
    verify_folder(tmp_path / "cifar-10-batches-py", SMALL)


def test_checksum_mismatch_keeps_the_download_aside_and_installs_nothing(capsys, tmp_path, server, small_archive):
    server.routes[PATH] = Route(small_archive.data)
    wrong = "0" * 64
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", wrong)
    assert run.code == 1
    assert len(run.error_lines) == 1
    assert f"expected sha256 {wrong}, found {small_archive.sha256}" in run.err
    rejected = tmp_path / "cifar-10-python.tar.gz.rejected"
    assert rejected.read_bytes() == small_archive.data
    assert leftovers(tmp_path) == ["cifar-10-python.tar.gz.rejected"]
    assert_not_installed(tmp_path)


def test_http_404_fails_at_once_with_the_status(capsys, tmp_path, server):
    run = fetch(capsys, tmp_path, server.url("/missing.tar.gz"), "--sha256", "a" * 64)
    assert run.code == 1
    assert len(run.error_lines) == 1 and "HTTP 404" in run.error_lines[0]
    assert len(server.requests) == 1  # a 404 is not retried
    assert_not_installed(tmp_path)


def test_http_503_is_retried_then_reported(capsys, tmp_path, server):
    server.routes[PATH] = Route(status=503)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", "a" * 64, "--retries", "3")
    assert run.code == 1
    assert "HTTP 503" in run.error_lines[0] and "3 attempt(s)" in run.error_lines[0]
    assert len(server.requests) == 3


def test_unreachable_host_is_one_clear_error(capsys, tmp_path, closed_port):
    url = f"http://127.0.0.1:{closed_port}/cifar-10-python.tar.gz"
    run = fetch(capsys, tmp_path, url, "--sha256", "a" * 64, "--retries", "2")
    assert run.code == 1
    assert len(run.error_lines) == 1
    assert f"cannot reach 127.0.0.1:{closed_port}" in run.error_lines[0]
    assert_not_installed(tmp_path)


def test_a_stalled_server_times_out(capsys, tmp_path, server, small_archive):
    server.routes[PATH] = Route(small_archive.data, stall_seconds=2.0)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256,
                "--retries", "1", "--timeout", "0.3")
    assert run.code == 1
    assert "timed out" in run.error_lines[0].lower()
    assert_not_installed(tmp_path)


def test_mirror_without_checksum_is_refused_before_any_request(capsys, tmp_path, server, small_archive):
    server.routes[PATH] = Route(small_archive.data)
    run = fetch(capsys, tmp_path, server.url(PATH))
    assert run.code == 1
    assert "needs the checksum" in run.error_lines[0] and "--no-checksum" in run.error_lines[0]
    assert server.requests == []


def test_no_checksum_installs_with_a_loud_warning(capsys, tmp_path, server, small_archive):
    server.routes[PATH] = Route(small_archive.data)
    run = fetch(capsys, tmp_path, server.url(PATH), "--no-checksum")
    assert run.code == 0, run.err
    assert "WARNING" in run.err and "WITHOUT a checksum" in run.err
    verify_folder(tmp_path / "cifar-10-batches-py", SMALL)


def test_official_source_is_checked_against_the_official_md5():
    source = choose_source()
    assert source.url == OFFICIAL_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert [(c.algorithm, c.hexdigest) for c in source.checksums] == [("md5", OFFICIAL_MD5)]
    assert OFFICIAL_MD5 == "c58f30108f718f92721af3b95e74349a"
    with pytest.raises(DatasetError, match="always checked"):
        choose_source(no_checksum=True)


@pytest.mark.parametrize("digest, message", [("abc", "64 hex digits"), ("g" * 64, "64 hex digits")])
def test_malformed_checksum_is_refused(digest, message):
    with pytest.raises(DatasetError, match=message):
        choose_source(mirror="http://127.0.0.1:1/x", sha256=digest)


def test_disk_full_while_downloading_keeps_the_part_and_installs_nothing(capsys, tmp_path, server,
                                                                         small_archive, monkeypatch):
    server.routes[PATH] = Route(small_archive.data)
    real_write = os.write
    part = tmp_path / "cifar-10-python.tar.gz.part"

    def write_until_full(fd, data):
        # Simulate a disk that fills up after 1,000 bytes of the download (other writes pass).
        if os.readlink(f"/proc/self/fd/{fd}") == str(part) and os.fstat(fd).st_size >= 1000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data[:1000])

    monkeypatch.setattr(os, "write", write_until_full)
    run = fetch(capsys, tmp_path, server.url(PATH), "--sha256", small_archive.sha256)
    monkeypatch.undo()
    assert run.code == 1
    assert len(run.error_lines) == 1 and "disk full" in run.error_lines[0]
    assert part.stat().st_size == 1000  # what did arrive is kept for the next run
    assert_not_installed(tmp_path)


def test_no_write_permission_is_reported_before_downloading(capsys, tmp_path, server, small_archive,
                                                            monkeypatch):
    # The tests run as root, for whom chmod 0555 does not stop writes, so the refusal the
    # kernel would give a TA is simulated: every file creation under dest fails with EACCES.
    dest = tmp_path / "readonly"
    dest.mkdir()
    real_open = os.open

    def open_denied_under_dest(path, flags, *args, **kwargs):
        if str(path).startswith(str(dest)) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_denied_under_dest)
    server.routes[PATH] = Route(small_archive.data)
    run = fetch(capsys, dest, server.url(PATH), "--sha256", small_archive.sha256)
    monkeypatch.undo()
    assert run.code == 1
    assert len(run.error_lines) == 1 and "no write permission" in run.error_lines[0]
    assert str(dest) in run.error_lines[0]
    assert server.requests == []  # refused before spending bandwidth
    assert os.listdir(dest) == []


def test_dest_below_a_file_is_reported(capsys, tmp_path, server, small_archive):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    server.routes[PATH] = Route(small_archive.data)
    run = fetch(capsys, blocker / "datasets", server.url(PATH), "--sha256", small_archive.sha256)
    assert run.code == 1
    assert len(run.error_lines) == 1 and "a file is in the way" in run.error_lines[0]
    assert server.requests == []
