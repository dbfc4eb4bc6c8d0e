"""Per-student secret seeds: each student's hidden inputs are drawn from HMAC(course secret, student).

The secret is a file outside every sandbox (by default in the course directory, mode 0600).
Without it a student cannot know the inputs their functions will be called with; with the
same secret, re-grading the same student draws the same inputs (results are reproducible).
"""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_BYTES = 32


def load_or_create_secret(path: Path) -> bytes:
    """Read the course secret from ``path``; make a new random one (mode 0600) when there is none."""
    path = Path(path)
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(SECRET_BYTES)
        # Written whole under a private name, then linked into place: the link is atomic and
        # never replaces, so graders starting together agree on one secret, and none of them
        # can read a file that is created but not yet written.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.partial")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secret)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            return load_or_create_secret(path)
        finally:
            temporary.unlink(missing_ok=True)
    if len(secret) < 16:
        raise ValueError(f"{path}: the grading secret is {len(secret)} bytes; expected at least 16 "
                         f"(delete the file to make a new one, which changes every student's inputs)")
    return secret


def student_seed(secret: bytes, student_id: str, assignment: str) -> int:
    """A 64-bit seed for one student and assignment: HMAC-SHA256 of the secret, truncated."""
    message = f"{student_id}\x00{assignment}".encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")
