"""File digests (MD5 for the official archive, SHA-256 for a course's own copy)."""

import dataclasses
import hashlib
import re

CHUNK_BYTES = 1 << 20
_HEX_LENGTHS = {"md5": 32, "sha256": 64}


@dataclasses.dataclass(frozen=True)
class Checksum:
    """An expected digest: ``algorithm`` is 'md5' or 'sha256', ``hexdigest`` lower-case hex.

    >>> Checksum.parse("sha256", "AB" * 32).hexdigest[:4]
    'abab'
    """
    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, algorithm, text):
        """Check the digest's length and characters so a typo is caught before a download."""
        if algorithm not in _HEX_LENGTHS:
            raise ValueError(f"checksum algorithm must be one of {sorted(_HEX_LENGTHS)}, "
                             f"got {algorithm!r}")
        text = text.strip().lower()
        expected_length = _HEX_LENGTHS[algorithm]
        if not re.fullmatch(f"[0-9a-f]{{{expected_length}}}", text):
            raise ValueError(f"--{algorithm} must be {expected_length} hex digits, "
                             f"got {text!r} ({len(text)} characters)")
        return cls(algorithm, text)

    def __str__(self):
        return f"{self.algorithm} {self.hexdigest}"


def file_digest(path, algorithm):
    """The hex digest of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mismatches(path, checksums):
    """The (checksum, found_hexdigest) pairs that ``path`` fails; empty when all match."""
    failed = []
    for expected in checksums:
        found = file_digest(path, expected.algorithm)
        if found != expected.hexdigest:
            failed.append((expected, found))
    return failed
