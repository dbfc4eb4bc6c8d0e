"""HTTP download into a ``.part`` file that survives interruptions and is resumed with Range.

Only the standard library's urllib is used. A failed transfer (connection refused or reset,
timeout, a body shorter than its Content-Length, HTTP 5xx) is retried after 1, 2, 4, ... s;
an HTTP 4xx is final. Bytes already received stay in the ``.part`` file, so the next attempt,
or the next run of the same command, asks only for the rest (``Range: bytes=<size>-``).
The caller checks the checksum: this module only promises "all announced bytes arrived".
"""

import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.request

from tqdm import tqdm

from .errors import DownloadError, InstallError, describe_os_error

READ_BYTES = 1 << 16
MAX_WAIT_SECONDS = 60.0
USER_AGENT = "cs231n-convnet-kit-datasets/1.0 (+python urllib)"


class _TransferFailed(Exception):
    """A failure worth retrying; ``reason`` is the human-readable cause."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _say(message):
    print(message, file=sys.stderr, flush=True)


def _size_or_zero(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def _host_of(url):
    return urllib.request.urlparse(url).netloc or url


def _open_part(part_path, restart):
    """Open the .part file for appending (or from scratch); local failures are final."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if restart else os.O_APPEND)
    try:
        return os.open(part_path, flags, 0o644)
    except OSError as error:
        raise InstallError(describe_os_error(error, f"creating {part_path}")) from None


def _write_all(fd, data, part_path):
    """os.write may write less than asked; loop until every byte is on disk."""
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as error:
        raise InstallError(describe_os_error(error, f"writing {part_path}")
                           + f"; the {_size_or_zero(part_path)} bytes already downloaded are "
                           f"kept in {part_path} and the next run resumes from there") from None


def _total_from_content_range(header):
    """'bytes 100-199/1000' or 'bytes */1000' -> 1000 (None when absent or unknown)."""
    match = re.search(r"/(\d+)\s*$", header or "")
    return int(match.group(1)) if match else None


def _start_from_content_range(header):
    match = re.match(r"\s*bytes\s+(\d+)-", header or "")
    return int(match.group(1)) if match else None


def _transfer_once(url, part_path, timeout, progress):
    """One HTTP request appending to part_path. Returns normally only when the body is complete."""
    offset = _size_or_zero(part_path)
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            # Range not satisfiable: either the .part is already whole, or it is longer than
            # the file (a different file): decide by the size the server announces.
            total = _total_from_content_range(error.headers.get("Content-Range"))
            if total == offset:
                return
            os.remove(part_path)
            raise _TransferFailed(f"the partial file ({offset} bytes) does not match the "
                                  f"server's file ({total} bytes); starting over") from None
        if error.code >= 500 or error.code in (408, 429):
            raise _TransferFailed(f"HTTP {error.code} {error.reason} from {url}") from None
        raise DownloadError(f"HTTP {error.code} {error.reason} from {url}: check the URL "
                            f"(the server answered, so it is reachable)") from None
    except urllib.error.URLError as error:
        raise _TransferFailed(f"cannot reach {_host_of(url)}: {error.reason}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise _TransferFailed(f"connection to {_host_of(url)} failed: {error!r}") from None

    with response:
        restart = False
        if offset and response.status == 200:
            restart = True  # the server ignored Range and sends the whole file
        elif offset and response.status == 206:
            range_start = _start_from_content_range(response.headers.get("Content-Range"))
            if range_start != offset:
                raise _TransferFailed(f"asked for bytes from {offset}, the server sent from "
                                      f"{range_start}; retrying")
        body_length = response.headers.get("Content-Length")
        body_length = int(body_length) if body_length and body_length.isdigit() else None
        start = 0 if restart else offset
        total = start + body_length if body_length is not None else None

        fd = _open_part(part_path, restart)
        received = 0
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=os.path.basename(part_path).removesuffix(".part"),
                   disable=None if progress else True, file=sys.stderr)
        try:
            while True:
                try:
                    chunk = response.read(READ_BYTES)
                except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
                    raise _TransferFailed(f"connection dropped after {start + received} bytes "
                                          f"({error!r})") from None
                if not chunk:
                    break
                _write_all(fd, chunk, part_path)
                received += len(chunk)
                bar.update(len(chunk))
        finally:
            os.close(fd)
            bar.close()
        # http.client returns b'' quietly when the peer closes early, so count the bytes.
        if body_length is not None and received < body_length:
            raise _TransferFailed(f"connection dropped after {start + received} of {total} bytes")


def download(url, part_path, *, timeout=30.0, retries=5, retry_wait=1.0, progress=True,
             say=_say, sleep=time.sleep):
    """Download ``url`` into ``part_path``, resuming from what it already holds.

    timeout: seconds a connect or a read may block; retries: attempts in a row that may
    fail without receiving a byte (an attempt that made progress resets the count);
    retry_wait: the first pause, doubled after each failure (capped at 60 s).
    Raises DownloadError (the .part file is kept for the next run) or InstallError.
    """
    if retries < 1:
        raise ValueError(f"retries must be at least 1, got {retries}")
    failures = 0
    while True:
        before = _size_or_zero(part_path)
        try:
            _transfer_once(url, part_path, timeout, progress)
            return part_path
        except _TransferFailed as failure:
            reason = failure.reason
        if _size_or_zero(part_path) > before:
            failures = 0
        failures += 1
        kept = _size_or_zero(part_path)
        if failures >= retries:
            keep_note = (f"; the {kept} bytes received are kept in {part_path}: run the same "
                         f"command again to resume") if kept else ""
            raise DownloadError(f"download failed after {failures} attempt(s) in a row: "
                                f"{reason}{keep_note}")
        wait = min(retry_wait * 2 ** (failures - 1), MAX_WAIT_SECONDS)
        say(f"{reason}; retrying in {wait:g} s (attempt {failures + 1} of {retries}"
            f"{f', resuming at byte {kept}' if kept else ''})")
        sleep(wait)
