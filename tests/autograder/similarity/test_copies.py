"""Attacks on the similarity report: copies of the reference that must be flagged, however they are dressed.

Issue 16, item 4. On the main branch before this change: in a class where eight students
handed in the reference verbatim, each copy scored 0.70 (0.495 in the red team's class of 38),
since the students' frequencies made the reference's code look common; a copy whose task
functions only call module-level helpers holding the reference scored 0.003; the reference
renamed, reordered and padded with dead code 0.17. The honest students of the simulated class
(implementations/) must stay unflagged meanwhile.
"""

import itertools
import json
import re

import pytest

from autograder import class_simulation
from autograder.course import Layout
from autograder import similarity
from autograder.similarity import similarity_report

from .class_builder import (HELPER_COPY, REFERENCE_COPY, RESTRUCTURED_COPY, STUBS, VERBATIM_COPY, build_class,
                            reference_copy)

COPIES = [f"copy{i}" for i in range(8)]
VARIANTS = {"cat": REFERENCE_COPY, "hid": HELPER_COPY, "rex": RESTRUCTURED_COPY}
HONEST = ["ann", "bob", "dee", "eli", "fay", "gus", "ivy", "jon"]   # ann and bob share with each other
WELL_ABOVE = 0.8                                                    # a copy's score: "well above the threshold"


def class_of_38() -> dict[str, str]:
    """8 verbatim copies, 3 disguised ones, the 8 simulated students, and 19 more who wrote only the short parts
    (as ivy or jon did, the way most of a class writes them) or nothing."""
    students = {name: VERBATIM_COPY for name in COPIES} | VARIANTS | {name: name for name in HONEST}
    fillers = itertools.cycle(["ivy", "jon", STUBS])
    while len(students) < 38:
        students[f"s{len(students):02d}"] = next(fillers)
    return students


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    layout = build_class(tmp_path_factory.mktemp("class_of_38"), class_of_38())
    return similarity_report(layout, "conv_pool")


@pytest.fixture(scope="module")
def one_copy(tmp_path_factory):
    layout = build_class(tmp_path_factory.mktemp("one_copy"), {"copy0": VERBATIM_COPY} | {n: n for n in HONEST})
    return similarity_report(layout, "conv_pool")


def _to_reference(report, student):
    return next(pair for pair in report.reference if pair.a == student)


def _pair(report, a, b):
    return next(pair for pair in report.pairs if {pair.a, pair.b} == {a, b})


def test_eight_verbatim_copies_are_each_flagged_against_the_reference_and_each_other(big):
    for copy in COPIES:
        pair = _to_reference(big, copy)
        assert big.flagged(pair) and pair.score >= WELL_ABOVE, (copy, round(pair.score, 3))
    for a, b in itertools.combinations(COPIES, 2):
        pair = _pair(big, a, b)
        assert big.flagged(pair) and pair.score >= WELL_ABOVE, (a, b, round(pair.score, 3))


def test_a_copy_counts_as_much_whether_one_or_eight_students_copied(big, one_copy):
    # The reference's fingerprints are never discounted because copies hold them.
    assert _to_reference(big, "copy0").score == pytest.approx(_to_reference(one_copy, "copy0").score, abs=0.02)
    assert one_copy.flagged(_to_reference(one_copy, "copy0"))


@pytest.mark.parametrize("student", sorted(VARIANTS))
def test_a_disguised_copy_is_flagged_well_above_the_threshold(big, student):
    # cat: two names changed; hid: every task body moved into a helper (module-level in layers.py, an added
    # cell in the notebook) that the task only calls; rex: every introduced name renamed, independent
    # statements swapped, dead code in every function and an added cell.
    pair = _to_reference(big, student)
    assert big.flagged(pair) and pair.score >= WELL_ABOVE, (student, round(pair.score, 3))
    for copy in COPIES[:2]:
        assert big.flagged(_pair(big, student, copy)), (student, copy, round(_pair(big, student, copy).score, 3))


def test_honest_students_are_not_flagged_in_a_class_full_of_copies(big):
    copiers = set(COPIES) | set(VARIANTS)
    flagged = {frozenset((p.a, p.b)) for p in big.pairs if big.flagged(p) and not {p.a, p.b} & copiers}
    assert flagged == {frozenset(("ann", "bob"))}
    close = [p.a for p in big.reference if big.flagged(p)]
    assert set(close) == copiers
    honest_scores = [p.score for p in big.pairs if not {p.a, p.b} & copiers and {p.a, p.b} != {"ann", "bob"}]
    assert max(honest_scores) < big.threshold - 0.1


def test_the_threshold_lies_between_the_honest_pairs_and_a_copy(big):
    calibration = big.calibration
    assert not calibration.fixed and calibration.copy_score >= 0.9
    assert similarity.FLOOR <= big.threshold <= 0.6 * calibration.copy_score + 1e-9
    copy = _to_reference(big, "copy0")
    assert big.robust_z(copy) > 5


def test_the_demo_class_flags_the_students_built_from_the_reference(tmp_path):
    # The demo's five: ada (the reference), ben (one bug, one answer left as the stub), cy (stubs),
    # dan (the reference with an infinite loop), eve (stubs plus a cheating cell).
    layout = Layout.of_repo().with_outputs(course_dir=tmp_path / "course")
    class_simulation.build_class(layout, "conv_pool", {"ada": "reference", "ben": "partial", "cy": "stubs",
                                                       "dan": "infinite_loop", "eve": "cheater"},
                                 layout.course_dir / "submitted_raw")
    for student in ("ada", "ben", "cy", "dan", "eve"):
        (layout.course_dir / "submitted_raw" / student).rename(_make_parent(layout.submitted_dir("conv_pool",
                                                                                                  student)))
    report = similarity_report(layout, "conv_pool")
    from_reference = {"ada", "ben", "dan"}
    assert {p.a for p in report.reference if report.flagged(p)} == from_reference
    assert all(_to_reference(report, s).score >= WELL_ABOVE for s in from_reference)
    assert {frozenset((p.a, p.b)) for p in report.pairs if report.flagged(p)} == \
        {frozenset(pair) for pair in itertools.combinations(from_reference, 2)}


@pytest.mark.parametrize("assignment", ["conv_pool", "im2col"])
def test_a_verbatim_copy_scores_what_the_reference_scores_against_itself(tmp_path, assignment):
    # The calibration point is what a copy scores: the reference is read as a student is (same helpers, same
    # release functions left out); im2col's fast_layers.py holds release functions a task calls.
    layout = Layout.of_repo().with_outputs(course_dir=tmp_path / "course")
    class_simulation.build_class(layout, assignment, {"ada": "reference", "cy": "stubs"}, tmp_path / "raw")
    for student in ("ada", "cy"):
        (tmp_path / "raw" / student).rename(_make_parent(layout.submitted_dir(assignment, student)))
    report = similarity_report(layout, assignment)
    assert _to_reference(report, "ada").score == pytest.approx(report.calibration.copy_score, abs=1e-9)


def _make_parent(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_class_of_three_keeps_the_floor_and_still_flags_a_copy(tmp_path):
    layout = build_class(tmp_path, {"cat": VERBATIM_COPY, "dee": "dee", "eli": "eli"})
    report = similarity_report(layout, "conv_pool")
    assert report.threshold >= similarity.FLOOR
    assert [p.a for p in report.reference if report.flagged(p)] == ["cat"]
    assert not any(report.flagged(p) for p in report.pairs)


def test_calibration_from_scores():
    # Honest scores around 0.1 with a robust spread: median + 6 spreads, within the floor and the copy's share.
    FLOOR, Calibration, calibrated = similarity.FLOOR, similarity.Calibration, similarity.calibrated
    honest = calibrated([0.05, 0.08, 0.1, 0.12, 0.15] * 10 + [0.95], copy_score=0.95)
    assert honest.median == pytest.approx(0.1) and honest.threshold() == pytest.approx(FLOOR)
    alike = calibrated([0.5, 0.55, 0.6, 0.65, 0.7], copy_score=0.9)      # a class that wrote much alike
    assert alike.threshold() == pytest.approx(0.6 * 0.9)                  # never above 60% of a copy
    assert Calibration(median=0.0, spread=0.02, copy_score=0.3, fixed=False).threshold() == FLOOR
    assert calibrated([], copy_score=0.9).threshold() == FLOOR


def test_helpers_and_added_cells_are_read(tmp_path):
    layout = build_class(tmp_path, {"hid": HELPER_COPY, "rex": RESTRUCTURED_COPY})
    report = similarity_report(layout, "conv_pool")
    hid = _to_reference(report, "hid")
    conv = next(u for u in hid.units if u.unit == "layers.conv_backward_naive")
    assert conv.alike >= 0.9 and conv.tokens_a > 200   # the helper's code is in the unit
    # ... and shown on the pair page after the task function, its matching lines marked
    unit = hid.first.units["layers.conv_backward_naive"]
    assert unit.helpers == ("_conv_backward_naive_work",)
    headers = [i for i, line in enumerate(unit.lines)
               if line.startswith("# _conv_backward_naive_work: called here, inlined from cs231n_lib/layers.py line ")]
    assert len(headers) == 1
    header = unit.first_line + headers[0]
    helper_lines = {line for line in conv.lines_a if line > header}
    assert len(helper_lines) >= 10
    assert all(unit.lines[line - unit.first_line].strip() for line in helper_lines)   # each a line of code shown
    # An inlined helper is compared once, in the unit that calls it, not again outside the tasks.
    outside_tasks = hid.first.units["cs231n_lib/layers.py outside the tasks"]
    assert "def _conv_backward_naive_work(" in "\n".join(outside_tasks.lines) and len(outside_tasks.stream) < 20
    # rex's added cell (dead code) is compared with the other students, outside the solution cells.
    notebook = json.loads((layout.submitted_dir("conv_pool", "rex") / "ConvPool.ipynb").read_text(encoding="utf-8"))
    assert any("unused_total" in "".join(c["source"]) and not c["metadata"] for c in notebook["cells"])
    added = _to_reference(report, "rex").first.units["ConvPool.ipynb outside the solution cells"]
    assert "unused_total = 0.0" in added.lines and len(added.stream) > 30


def test_a_helper_reached_by_another_name_or_kept_in_another_student_file_is_compared(tmp_path):
    # "by_name": each task reaches its helper through globals()["..."] and an alias, not by a call of its name;
    # "moved": the helpers live in cs231n_lib/im2col.py (a student file: graded as written), called as im2col._x().
    layout = build_class(tmp_path, {"by_name": HELPER_COPY, "moved": HELPER_COPY, "dee": "dee"})
    helpers = reference_copy(layout, HELPER_COPY).library_helpers
    names = re.findall(r"^def (\w+)\(", helpers, flags=re.MULTILINE)
    by_name = layout.submitted_dir("conv_pool", "by_name") / "cs231n_lib" / "layers.py"
    text = by_name.read_text(encoding="utf-8")
    for name in names:
        text = text.replace(f" = {name}(", f" = globals()[{name!r}](")
    by_name.write_text(text, encoding="utf-8")
    library = layout.submitted_dir("conv_pool", "moved") / "cs231n_lib"
    text = (library / "layers.py").read_text(encoding="utf-8")
    assert helpers in text
    text = text.replace(helpers, "").replace("\nfrom .backend import", "\nfrom . import im2col\nfrom .backend import", 1)
    assert "from . import im2col" in text
    for name in names:
        text = text.replace(f" = {name}(", f" = im2col.{name}(")
    (library / "layers.py").write_text(text, encoding="utf-8")
    (library / "im2col.py").write_text((library / "im2col.py").read_text(encoding="utf-8") + "\n\n" + helpers + "\n",
                                       encoding="utf-8")
    assert "def _conv_forward_naive_work" not in (library / "layers.py").read_text(encoding="utf-8")
    report = similarity_report(layout, "conv_pool")
    for student in ("by_name", "moved"):
        pair = _to_reference(report, student)
        assert report.flagged(pair) and pair.score >= WELL_ABOVE, (student, round(pair.score, 3))
    assert not report.flagged(_to_reference(report, "dee"))


def test_helpers_that_never_end_cost_bounded_time_and_say_so(tmp_path):
    # Following helpers must not let one student crash the report: "chain" calls a chain of 500 helpers,
    # "nest" 30 helpers each nested 95 blocks deep (together deeper than the interpreter's stack).
    # "hid" calls a chain of 40 helpers before the helper holding the reference's conv forward: still followed.
    layout = build_class(tmp_path, {"chain": "dee", "nest": "dee", "eli": "eli", "hid": HELPER_COPY})

    def helper(index: int, depth: int) -> str:
        blocks = "".join("    " * (level + 1) + f"if v > {level}:\n" for level in range(depth))
        return f"def _h{index}(v):\n{blocks}{'    ' * (depth + 1)}return _h{index + 1}(v) + {index}\n"

    for student, count, depth, before in (("chain", 500, 0, "    C, H, W = x.shape[1:]\n"),
                                          ("nest", 30, 95, "    C, H, W = x.shape[1:]\n"),
                                          ("hid", 40, 0, "    out = _conv_forward_naive_work(")):
        path = layout.submitted_dir("conv_pool", student) / "cs231n_lib" / "layers.py"
        text = path.read_text(encoding="utf-8")
        assert before in text
        text = text.replace(before, "    _h0(x)\n" + before, 1)
        helpers = "\n".join(helper(i, depth) for i in range(count)) + f"\ndef _h{count}(v):\n    return v\n"
        path.write_text(text + "\n" + helpers, encoding="utf-8")
    report = similarity_report(layout, "conv_pool")
    assert "layers.conv_forward_naive: helpers followed 25 calls deep at most" in " ".join(report.notes["chain"])
    assert "nested code too deep: helpers followed 2 calls deep at most" in " ".join(report.notes["nest"])
    chain_nest = _pair(report, "chain", "nest")
    assert report.flagged(chain_nest)          # both are dee's code: still compared, and found alike
    assert not report.flagged(_to_reference(report, "chain"))
    hid = _to_reference(report, "hid")
    assert next(u for u in hid.units if u.unit == "layers.conv_forward_naive").alike >= 0.85   # 0.88 without the chain
    assert report.flagged(hid) and hid.score >= WELL_ABOVE
