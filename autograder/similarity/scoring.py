"""Pairwise scores, weighted by how rare each fingerprint is.

Every document (each student, the reference, each file of the independent corpus) is
fingerprinted unit by unit. A fingerprint's weight in unit ``u`` is its inverse document
frequency scaled to [0, 1], ``log(D_u / df) / log(D_u)``: ``D_u`` documents have code in ``u``
and ``df`` of them contain the fingerprint. A fingerprint only one document holds weighs 1;
code that every correct solution writes alike (a ReLU, the conv-ReLU-pool sandwich) is in
nearly every document and weighs nearly nothing.

Students who hold at least ``HOLDS_REFERENCE`` of the reference's fingerprints (over all its
units, unweighted) are left out of these counts: they copied it, and counting them would make
the reference's code look common, so that the more students copied, the less each copy would
count. The reference's own fingerprints are then weighed by the reference, the corpus and the
students who did not copy it: code honest students write like the reference (a ReLU) still
weighs little, code only the reference and its copies hold weighs 1, whatever their number.

A pair's score is how much of the smaller side the larger one contains, weighted, over the
units both wrote:

    score = M / (min(T_a, T_b) + PRIOR_WEIGHT)

with ``M`` the weight of the fingerprints both hold and ``T`` each side's total weight.
Containment rather than Dice: code a copier adds (dead code, a second version, comments in
code) grows only the copier's side, and does not dilute the copy. ``PRIOR_WEIGHT`` is what
makes the weighting decisive: without it, two students who wrote only the parts everyone
writes alike would score 1 (identical, however little and however common). With it, a pair's
score approaches 1 only when it shares much more rare code than ``PRIOR_WEIGHT``; identical
common code stays near 0.
"""

import dataclasses
import math
from collections import Counter

from .documents import Document
from .winnowing import Fingerprints, fingerprint

# In fingerprints found in no other document (about 2.5 tokens each): about 50 tokens of rare code.
PRIOR_WEIGHT = 20.0
# A student holding this share of the reference's fingerprints is a copier: left out of the frequencies.
HOLDS_REFERENCE = 0.5
RARE = "rare"       # a matched line covered by a fingerprint found in at most two documents (copiers not counted)
COMMON = "common"   # matched, but others have it too (it weighs less)


@dataclasses.dataclass(frozen=True)
class UnitMatch:
    """One unit of one pair."""
    unit: str
    alike: float               # weighted containment in this unit, without the prior: how alike (0 to 1)
    matched_weight: float
    weight_a: float
    weight_b: float
    matched_tokens_a: int      # tokens of a's stream covered by shared fingerprints
    matched_tokens_b: int
    tokens_a: int              # the tokens a wrote in this unit (starter code left out)
    tokens_b: int
    lines_a: dict[int, str]    # matched line -> RARE or COMMON
    lines_b: dict[int, str]


@dataclasses.dataclass(frozen=True)
class PairScore:
    first: Document
    second: Document
    score: float                   # with the prior (module docstring)
    units: tuple[UnitMatch, ...]   # the units both wrote, the largest matched weight first

    @property
    def a(self) -> str:
        return self.first.name

    @property
    def b(self) -> str:
        return self.second.name

    @property
    def matched_weight(self) -> float:
        return sum(u.matched_weight for u in self.units)

    @property
    def matched_tokens(self) -> int:
        """Tokens matched on the side with fewer matched tokens (what both certainly share)."""
        return min(sum(u.matched_tokens_a for u in self.units), sum(u.matched_tokens_b for u in self.units))

    @property
    def tokens_a(self) -> int:
        return sum(u.tokens_a for u in self.units)

    @property
    def tokens_b(self) -> int:
        return sum(u.tokens_b for u in self.units)


class ClassStatistics:
    """Fingerprints of every document and how many documents hold each one, per unit (module docstring)."""

    def __init__(self, documents: list[Document], prior_weight: float = PRIOR_WEIGHT):
        self.prior_weight = prior_weight
        self.fingerprints: dict[str, dict[str, Fingerprints]] = {
            document.key: {name: fingerprint(unit.stream) for name, unit in document.units.items()}
            for document in documents}
        self.streams = {document.key: {name: unit.stream for name, unit in document.units.items()}
                        for document in documents}
        self.copiers = frozenset(document.name for document in documents
                                 if document.kind == "student" and self._holds_reference(document, documents))
        self.frequency: dict[str, Counter] = {}
        self.documents_with: Counter = Counter()
        for document in documents:
            if document.kind == "student" and document.name in self.copiers:
                continue
            for unit, prints in self.fingerprints[document.key].items():
                if prints.positions:
                    self.documents_with[unit] += 1
                    self.frequency.setdefault(unit, Counter()).update(prints.hashes)
        self._weights: dict[tuple[str, int], float] = {}

    def _holds_reference(self, student: Document, documents: list[Document]) -> bool:
        """Whether ``student`` holds at least HOLDS_REFERENCE of the reference's fingerprints, over all its units."""
        reference = next((d for d in documents if d.kind == "reference"), None)
        if reference is None:
            return False
        theirs = self.fingerprints[student.key]
        held = total = 0
        for unit, prints in self.fingerprints[reference.key].items():
            total += len(prints.positions)
            held += len(prints.hashes & theirs[unit].hashes) if unit in theirs else 0
        return total > 0 and held >= HOLDS_REFERENCE * total

    def weight(self, unit: str, fingerprint_hash: int) -> float:
        """``log(D_u / df) / log(D_u)``: 1 for a fingerprint one document (or only copiers) holds, 0 for one all hold."""
        key = (unit, fingerprint_hash)
        if key not in self._weights:
            documents = self.documents_with[unit]
            holding = max(1, self.frequency.get(unit, Counter())[fingerprint_hash])
            # nobody else wrote this unit: nothing to compare it with anyway
            self._weights[key] = 1.0 if documents < 2 else math.log(documents / holding) / math.log(documents)
        return self._weights[key]

    def compare(self, first: Document, second: Document) -> PairScore:
        a, b = first.key, second.key
        units = []
        for unit in sorted(set(self.fingerprints[a]) & set(self.fingerprints[b])):
            prints_a, prints_b = self.fingerprints[a][unit], self.fingerprints[b][unit]
            if not prints_a.positions or not prints_b.positions:
                continue   # one side wrote too little here to compare (or nothing)
            units.append(self._compare_unit(unit, a, b, prints_a, prints_b))
        matched = sum(u.matched_weight for u in units)
        smaller = min(sum(u.weight_a for u in units), sum(u.weight_b for u in units))
        units.sort(key=lambda u: (-u.matched_weight, u.unit))
        denominator = smaller + self.prior_weight
        return PairScore(first=first, second=second, score=matched / denominator if denominator > 0 else 0.0,
                         units=tuple(units))

    def _compare_unit(self, unit, a, b, prints_a: Fingerprints, prints_b: Fingerprints) -> UnitMatch:
        shared = prints_a.hashes & prints_b.hashes
        matched = sum(self.weight(unit, h) for h in shared)
        weight_a = sum(self.weight(unit, h) for h in prints_a.hashes)
        weight_b = sum(self.weight(unit, h) for h in prints_b.hashes)
        tokens_a, lines_a = self._coverage(prints_a, self.streams[a][unit], shared, unit)
        tokens_b, lines_b = self._coverage(prints_b, self.streams[b][unit], shared, unit)
        smaller = min(weight_a, weight_b)
        return UnitMatch(unit=unit, alike=min(1.0, matched / smaller) if smaller > 0 else 0.0, matched_weight=matched,
                         weight_a=weight_a, weight_b=weight_b, matched_tokens_a=tokens_a, matched_tokens_b=tokens_b,
                         tokens_a=len(self.streams[a][unit]), tokens_b=len(self.streams[b][unit]),
                         lines_a=lines_a, lines_b=lines_b)

    def _coverage(self, prints: Fingerprints, stream, shared, unit) -> tuple[int, dict[int, str]]:
        """(tokens covered by the shared fingerprints, {source line: RARE or COMMON})."""
        covered: dict[int, str] = {}
        for h in shared:
            kind = RARE if self.frequency.get(unit, Counter())[h] <= 2 else COMMON
            for start in prints.positions[h]:
                for index in range(start, min(start + prints.k, len(stream))):
                    if covered.get(index) != RARE:
                        covered[index] = kind
        lines: dict[int, str] = {}
        for index, kind in covered.items():
            line = stream[index].line
            if lines.get(line) != RARE:
                lines[line] = kind
        return len(covered), lines
