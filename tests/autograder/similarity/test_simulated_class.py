"""The similarity report on a simulated class: sharers and the reference copy on top, honest students below.

The class (tests/similarity/implementations/): ann and bob share code (bob renamed every
variable, reformatted, commented and swapped independent statements); cat copied the
instructor's reference (two names changed, comments dropped); dee, eli, fay and gus wrote
their own in different styles; ivy and jon wrote only the short parts everyone writes alike;
hal handed in the stubs.
"""

import pytest

from autograder.similarity import similarity_report

from .class_builder import REFERENCE_COPY, STUBS, build_class

CLASS = {"ann": "ann", "bob": "bob", "cat": REFERENCE_COPY, "dee": "dee", "eli": "eli", "fay": "fay",
         "gus": "gus", "hal": STUBS, "ivy": "ivy", "jon": "jon"}
SHARERS = ("ann", "bob")
COPIER = "cat"


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return build_class(tmp_path_factory.mktemp("similarity_class"), CLASS)


@pytest.fixture(scope="module")
def report(layout):
    return similarity_report(layout, "conv_pool")   # with the shipped independent corpus


def test_the_sharers_rank_first_and_alone_above_the_threshold(report):
    top, *others = report.pairs
    assert (top.a, top.b) == SHARERS
    assert report.flagged(top) and top.score >= 0.8
    assert all(not report.flagged(pair) for pair in others), \
        [(p.a, p.b, round(p.score, 3)) for p in others if report.flagged(p)]


def test_renaming_reformatting_and_reordering_leave_every_unit_identical(report):
    top = report.pairs[0]
    assert {u.unit for u in top.units} >= {"layers.conv_backward_naive", "layers.conv_forward_naive"}
    # bob swapped two independent statements in each conv function: still alike 1.0
    assert all(u.alike == pytest.approx(1.0) for u in top.units), [(u.unit, u.alike) for u in top.units]


def test_the_reference_copy_is_the_only_student_close_to_the_reference(report):
    top, *others = report.reference
    assert top.a == COPIER and report.flagged(top) and top.score >= 0.8
    assert not any(report.flagged(pair) for pair in others)


def test_honest_complete_solutions_stay_far_below_the_threshold(report):
    complete = {"ann", "bob", "cat", "dee", "eli", "fay", "gus"}
    honest = [p for p in report.pairs if {p.a, p.b} <= complete and {p.a, p.b} != set(SHARERS)]
    assert len(honest) == 20 and max(p.score for p in honest) < 0.2


def test_code_everyone_writes_alike_does_not_flag_honest_students(layout, report):
    # ivy and jon wrote the same short parts, token for token; only the weighting keeps them apart.
    pair = next(p for p in report.pairs if (p.a, p.b) == ("ivy", "jon"))
    assert all(u.alike == pytest.approx(1.0) for u in pair.units)
    assert not report.flagged(pair)
    unweighted = similarity_report(layout, "conv_pool", prior_weight=0.0)
    assert next(p for p in unweighted.pairs if (p.a, p.b) == ("ivy", "jon")).score == pytest.approx(1.0)


def test_the_ranking_holds_without_the_independent_corpus(layout):
    bare = similarity_report(layout, "conv_pool", corpus_dirs=[])
    assert bare.independent == ()
    assert (bare.pairs[0].a, bare.pairs[0].b) == SHARERS and bare.flagged(bare.pairs[0])
    assert not any(bare.flagged(p) for p in bare.pairs[1:])
    assert bare.reference[0].a == COPIER and not any(bare.flagged(p) for p in bare.reference[1:])


def test_starter_code_is_not_what_students_wrote(report):
    assert report.notes["hal"] == ("nothing written beyond the starter code: compared with no one",)
    assert all(p.score == 0 and not p.units for p in report.pairs if "hal" in (p.a, p.b))


def test_the_shipped_corpus_is_read(report):
    assert report.independent == ("independent/classic_loops.py", "independent/sliding_windows.py")
