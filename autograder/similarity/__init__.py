"""Similarity report: which students wrote the same code, and who wrote the instructor's.

The pipeline, one module per step, all local (nothing leaves the machine):

1. documents.py: what each student wrote, unit by unit (library task functions, notebook
   solution cells), starter code left out; the same for the reference and for the known
   independent corpus (``independent/<assignment>/*.py``);
2. normalize.py: tokens with names and literals normalized, comments and layout dropped,
   independent statements in a canonical order;
3. winnowing.py: hashed k-grams, winnowed as MOSS does;
4. scoring.py: pairwise weighted containment scores, each fingerprint weighted by how rare
   it is across the class, the reference and the corpus (students who copied the reference
   left out of the counts); the threshold is chosen here from the class's own scores, with a
   verbatim copy of the reference as the calibration point (``Calibration``);
5. report.py: ``exports/<a>/similarity/``: pairs.csv, reference.csv, index.html, and one
   page per flagged pair with the matching lines side by side.
"""

import dataclasses
import statistics as stats
from pathlib import Path

from ..errors import ReleaseError
from ..course import Layout
from ..tasks import load_catalog
from .documents import Document, assignment_units, independent_documents, read_submission
from .scoring import PRIOR_WEIGHT, ClassStatistics, PairScore
from .winnowing import K, WINDOW

# The threshold of a class (docs/grading.md, Calibration.threshold): the class's median score plus
# SPREADS robust standard deviations, never under FLOOR (a class of 3 has no distribution to
# speak of), never above COPY_SHARE of what a verbatim copy of the reference scores.
FLOOR = 0.4
SPREADS = 6.0
COPY_SHARE = 0.6
MIN_SPREAD = 0.02     # a class whose scores are all alike: its spread is at least this
INDEPENDENT_CORPUS = Path(__file__).resolve().parent / "independent"


@dataclasses.dataclass(frozen=True)
class SimilarityReport:
    assignment: str
    threshold: float
    calibration: "Calibration"
    prior_weight: float
    students: tuple[str, ...]
    pairs: tuple[PairScore, ...]             # student pairs, the highest score first
    reference: tuple[PairScore, ...]         # (student, "reference"), the highest score first
    independent: tuple[str, ...]             # the corpus documents that weighted the fingerprints
    notes: dict[str, tuple[str, ...]]        # {author: what was skipped and why}
    units: tuple[str, ...]
    k: int = K
    window: int = WINDOW

    def flagged(self, pair: PairScore) -> bool:
        return pair.score >= self.threshold

    def robust_z(self, pair: PairScore) -> float:
        """How many robust standard deviations ``pair`` scores above the class's median."""
        return (pair.score - self.calibration.median) / self.calibration.spread


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Where the threshold comes from: the class's scores and the score of a verbatim copy of the reference."""
    median: float          # of every score (student pairs and students against the reference)
    spread: float          # 1.4826 x their median absolute deviation (a standard deviation, robust), >= MIN_SPREAD
    copy_score: float      # the reference against itself: what a verbatim copy scores
    fixed: bool            # the threshold was given (--threshold), not calibrated

    def threshold(self) -> float:
        """``median + SPREADS * spread``, at least FLOOR, at most COPY_SHARE * copy_score (if that is above FLOOR)."""
        ceiling = max(FLOOR, COPY_SHARE * self.copy_score)
        return min(max(FLOOR, self.median + SPREADS * self.spread), ceiling)


def calibrated(scores: list[float], copy_score: float) -> Calibration:
    """The calibration of a class from its pair scores (see Calibration.threshold)."""
    if not scores:
        return Calibration(median=0.0, spread=MIN_SPREAD, copy_score=copy_score, fixed=False)
    median = stats.median(scores)
    spread = max(MIN_SPREAD, 1.4826 * stats.median(abs(score - median) for score in scores))
    return Calibration(median=median, spread=spread, copy_score=copy_score, fixed=False)


def default_corpus(assignment: str) -> Path:
    """The known-independent implementations shipped for ``assignment`` (the folder may not exist)."""
    return INDEPENDENT_CORPUS / assignment


def similarity_report(layout: Layout, assignment_name: str, corpus_dirs: list[Path] | None = None,
                      threshold: float | None = None, prior_weight: float = PRIOR_WEIGHT) -> SimilarityReport:
    """Compare every pair of collected submissions of ``assignment_name``, and each with the reference.

    ``corpus_dirs`` (default: the shipped corpus of the assignment) hold known independent
    implementations: they make common code weigh less and are never reported themselves.
    ``threshold`` None: calibrated on the class (Calibration); a number: that one.
    """
    kit = layout
    catalog = load_catalog(kit.tasks_file, kit.lib_dir)
    assignment = catalog.get(assignment_name)
    students = layout.students_with_submissions(assignment.name)
    if not students:
        raise ReleaseError(f"no submissions of {assignment.name}: expected folders "
                           f"{layout.course_dir / 'submitted'}/<student>/{assignment.name}/; "
                           f"run `python -m autograder collect {assignment.name} ...` first")
    specs = assignment_units(layout.assignments_dir / assignment.name, kit.lib_name, assignment,
                             catalog.student_files())
    documents = [read_submission(student, "student", layout.submitted_dir(assignment.name, student),
                                 layout.submitted_dir(assignment.name, student), specs)
                 for student in students]
    # The instructor's notebook holds hidden tests outside its solution cells: only the units are the reference.
    reference = read_submission("reference", "reference", kit.lib_dir.parent,
                                kit.solutions_dir / assignment.name, specs, outside_units=False)
    if reference.notes:
        raise ReleaseError(f"the reference of {assignment.name} is incomplete: {'; '.join(reference.notes)}")
    corpus_dirs = [default_corpus(assignment.name)] if corpus_dirs is None else corpus_dirs
    corpus = [document for folder in corpus_dirs for document in independent_documents(folder, specs)]
    statistics = ClassStatistics(documents + [reference] + corpus, prior_weight)

    pairs = [statistics.compare(a, b) for i, a in enumerate(documents) for b in documents[i + 1:]]
    to_reference = [statistics.compare(student, reference) for student in documents]
    calibration = calibrated([pair.score for pair in pairs + to_reference if pair.units],
                             statistics.compare(reference, reference).score)
    if threshold is not None:
        calibration = dataclasses.replace(calibration, fixed=True)
    return SimilarityReport(
        assignment=assignment.name, calibration=calibration, prior_weight=prior_weight,
        threshold=calibration.threshold() if threshold is None else threshold,
        students=tuple(students), pairs=ranked(pairs), reference=ranked(to_reference),
        independent=tuple(d.name for d in corpus), notes=_notes(documents + corpus),
        units=tuple(spec.name for spec in specs if not spec.helpers_only))


def ranked(scores: list[PairScore]) -> tuple[PairScore, ...]:
    """The highest score first; ties by name, so the order is the same on every run."""
    return tuple(sorted(scores, key=lambda pair: (-pair.score, pair.a, pair.b)))


def _notes(documents: list[Document]) -> dict[str, tuple[str, ...]]:
    notes = {}
    for document in documents:
        said = list(document.notes)
        if document.kind == "student" and not any(unit.stream for unit in document.units.values()):
            said.append("nothing left to compare: compared with no one" if said else
                        "nothing written beyond the starter code: compared with no one")
        if said:
            notes[document.name] = tuple(said)
    return notes
