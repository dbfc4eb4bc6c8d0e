"""Fixtures for the data tools: a SMALL CIFAR-10 in the real format, and a local HTTP server.

The small data set has the real layout (``cifar-10-batches-py/`` with five train batches, a
test batch and batches.meta, pickled dicts with bytes keys) but 20 rows per train batch and
30 test rows: 10 images per class over the train batches, 3 per class in test. Every pixel
is ``pixel_value(image, c, h, w)`` so a test can check a transpose without re-implementing it.

The server binds 127.0.0.1 on an ephemeral port; no test contacts any other address.
"""

import dataclasses
import hashlib
import http.server
import io
import pickle
import re
import socket
import tarfile
import threading
import time

import pytest

from cs231n_lib.backend import np
from cs231n_lib.datasets.cifar10 import (FOLDER_NAME, LABEL_NAMES, META_FILE, TEST_BATCH,
                                         TRAIN_BATCHES, Expectations)

SMALL = Expectations(train_rows_per_batch=20, test_rows=30, train_per_class=10, test_per_class=3)


def pixel_value(image, c, h, w):
    """The value stored at channel c, row h, column w of ``image`` (global index, train then test).

    Not symmetric in h and w, and different per channel, so any wrong transpose shows.
    """
    return (c * 7 + h * 3 + w + image % 50) % 256


def _rows(first_image, count):
    """(count, 3072) uint8 rows in the stored order: red plane, green, blue, each row-major."""
    c, h, w = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    images = np.arange(first_image, first_image + count)[:, None, None, None]
    return pixel_value(images, c, h, w).reshape(count, 3072).astype(np.uint8)


def small_labels(seed=0):
    """(train_labels (100,), test_labels (30,)): balanced totals, shuffled so batches differ."""
    rng = np.random.default_rng(seed)
    train = rng.permutation(np.repeat(np.arange(10), SMALL.train_per_class))
    test = rng.permutation(np.repeat(np.arange(10), SMALL.test_per_class))
    return train, test


def batch_dicts():
    """{file name: pickled object} of the small data set, ready to be altered by a test."""
    train_labels, test_labels = small_labels()
    rows = SMALL.train_rows_per_batch
    files = {}
    for index, name in enumerate(TRAIN_BATCHES):
        labels = train_labels[index * rows:(index + 1) * rows]
        files[name] = {b"batch_label": f"training batch {index + 1} of 5".encode(),
                       b"labels": [int(label) for label in labels],
                       b"data": _rows(index * rows, rows),
                       b"filenames": [f"img_{index * rows + i}.png".encode() for i in range(rows)]}
    first_test = rows * len(TRAIN_BATCHES)
    files[TEST_BATCH] = {b"batch_label": b"testing batch 1 of 1",
                         b"labels": [int(label) for label in test_labels],
                         b"data": _rows(first_test, SMALL.test_rows),
                         b"filenames": [f"test_{i}.png".encode() for i in range(SMALL.test_rows)]}
    files[META_FILE] = {b"label_names": [name.encode() for name in LABEL_NAMES],
                        b"num_cases_per_batch": rows, b"num_vis": 3072}
    return files


def write_batches(folder, files=None):
    """Write the pickles into ``folder`` (created); protocol 2 like the official files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (batch_dicts() if files is None else files).items():
        (folder / name).write_bytes(pickle.dumps(content, protocol=2))
    return folder


def tar_gz(path, entries):
    """Write a tar.gz at ``path`` from [(TarInfo, bytes or None)] and return its bytes."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path.read_bytes()


def archive_entries(files=None, top=FOLDER_NAME):
    """The entries of a well-formed archive: the folder, then one member per pickle."""
    folder = tarfile.TarInfo(top)
    folder.type, folder.mode = tarfile.DIRTYPE, 0o755
    entries = [(folder, None)]
    for name, content in (batch_dicts() if files is None else files).items():
        data = pickle.dumps(content, protocol=2)
        info = tarfile.TarInfo(f"{top}/{name}")
        info.size, info.mode = len(data), 0o644
        entries.append((info, data))
    return entries


@dataclasses.dataclass
class Archive:
    path: object
    data: bytes

    @property
    def sha256(self):
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self):
        return hashlib.md5(self.data).hexdigest()


@pytest.fixture(scope="session")
def small_archive(tmp_path_factory):
    """A well-formed small cifar-10-python.tar.gz (read it, never modify it)."""
    path = tmp_path_factory.mktemp("archive") / "cifar-10-python.tar.gz"
    return Archive(path, tar_gz(path, archive_entries()))


@pytest.fixture
def small_folder(tmp_path):
    """A valid small ``cifar-10-batches-py/`` at tmp_path/data/."""
    return write_batches(tmp_path / "data" / FOLDER_NAME)


@pytest.fixture(autouse=True)
def isolated_search(tmp_path, monkeypatch):
    """No test sees the developer's own data: env vars unset, repo datasets/ replaced."""
    from cs231n_lib.datasets import locate
    monkeypatch.delenv(locate.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv(locate.COURSE_ENV_VAR, str(tmp_path / "no-course-folder"))
    monkeypatch.setattr(locate, "repo_datasets_dir", lambda: tmp_path / "repo-datasets")


# ---------------------------------------------------------------- the local HTTP server

@dataclasses.dataclass
class Route:
    """How the server answers one path.

    drops: how many of the next requests are cut after ``drop_after`` body bytes;
    honour_range: answer Range with 206 (else 200 with the whole body);
    status: a fixed error status instead of the body; stall_seconds: wait before the body.
    """
    body: bytes = b""
    drops: int = 0
    drop_after: int = 0
    honour_range: bool = True
    status: int = 200
    stall_seconds: float = 0.0


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        range_header = self.headers.get("Range")
        server.requests.append((self.path, range_header))
        route = server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        if route.status != 200:
            self.send_error(route.status)
            return
        body, start = route.body, 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and route.honour_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if route.stall_seconds:
            time.sleep(route.stall_seconds)
        payload = body[start:]
        if route.drops > 0:
            route.drops -= 1
            self.wfile.write(payload[:route.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the connection dies mid-transfer
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):
        pass  # keep the test output clean


class LocalServer:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def routes(self):
        return self.httpd.routes

    @property
    def requests(self):
        return self.httpd.requests

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
