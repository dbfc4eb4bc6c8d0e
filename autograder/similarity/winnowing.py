"""Fingerprints of a token stream: hashed k-grams, winnowed (Schleimer, Wilkerson and Aiken, SIGMOD 2003).

Every run of ``k`` consecutive tokens is hashed; in each window of ``window`` consecutive
hashes the smallest is kept (the rightmost on ties, robust winnowing), each kept position
once. Two streams that share a run of at least ``k + window - 1`` tokens are then certain
to share a fingerprint, while only about ``2 / (window + 1)`` of all k-grams are stored.

Hashes are BLAKE2b (8 bytes) of the k-gram text: the same on every run and machine (Python's
``hash`` of a string is salted per process).
"""

import dataclasses
import hashlib

from .normalize import Token

# k = 8 normalized tokens is about one short statement (``ID = ID . sum ( axis = NUM )`` is 10);
# shorter runs are what every correct solution shares. window = 4 finds any common run of 11.
K = 8
WINDOW = 4


@dataclasses.dataclass(frozen=True)
class Fingerprints:
    """The winnowed fingerprints of one stream: {hash: start indices of its k-grams in the stream}."""
    positions: dict[int, tuple[int, ...]]
    k: int

    @property
    def hashes(self) -> frozenset[int]:
        return frozenset(self.positions)


def fingerprint(stream: list[Token], k: int = K, window: int = WINDOW) -> Fingerprints:
    """Winnowed fingerprints of ``stream`` (none when it is shorter than ``k`` tokens).

    >>> from autograder.similarity.normalize import Token
    >>> stream = [Token(t, 1) for t in "ID = ID . sum ( axis = NUM )".split()]
    >>> len(fingerprint(stream, k=8, window=4).positions) >= 1
    True
    >>> fingerprint(stream[:7], k=8).positions
    {}
    """
    hashes = kgram_hashes([token.text for token in stream], k)
    positions: dict[int, list[int]] = {}
    for index in winnow(hashes, window):
        positions.setdefault(hashes[index], []).append(index)
    return Fingerprints(positions={h: tuple(p) for h, p in positions.items()}, k=k)


def kgram_hashes(texts: list[str], k: int) -> list[int]:
    """The hash of each run of ``k`` texts, in order: ``len(texts) - k + 1`` values (or none)."""
    return [_hash("\x1f".join(texts[i:i + k])) for i in range(len(texts) - k + 1)]


def winnow(hashes: list[int], window: int) -> list[int]:
    """Indices of the winnowed hashes: each window's minimum, the rightmost on ties, each index once.

    A stream with fewer hashes than ``window`` is one window.

    >>> winnow([77, 74, 42, 17, 98, 50, 17, 98, 8, 88, 67, 39, 77, 74, 42, 17, 98], 4)
    [3, 6, 8, 11, 15]
    """
    if not hashes:
        return []
    window = max(1, min(window, len(hashes)))
    selected: list[int] = []
    for start in range(len(hashes) - window + 1):
        smallest = start
        for index in range(start + 1, start + window):
            if hashes[index] <= hashes[smallest]:
                smallest = index
        if not selected or selected[-1] != smallest:
            selected.append(smallest)
    return selected


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
