"""Inline questions: a written answer per notebook section where the notes argue a point, graded by hand.

Each question is two cells, in this order:

- a locked markdown cell ``<prefix>-question-<topic>`` stating the question and its points
  ("**Inline question (N points).**");
- a manually graded markdown answer cell ``<prefix>-answer-<topic>`` (nbgrader: grade and
  solution, unlocked, 1 to 3 points) whose whole source in the instructor's notebook is the
  reference answer then the rubric ("**Reference answer.** ... **Rubric (N points).** 1 point
  for ..."), with no solution markers: nbgrader replaces the whole cell with
  "YOUR ANSWER HERE" in the release, and the leak scan treats the cell as instructor-only.

The grading side reads this shape (grade ids, points); these tests keep every notebook to it,
and check that the student release holds the question and none of the reference answer.
"""

import json
import re

import nbformat
import pytest

from autograder.notebooks import REGION_WORDS

from .kit import ASSIGNMENTS, assignments, is_answer_cell, nbgrader_meta, solution_notebooks

NOTEBOOKS = solution_notebooks()
QUESTIONS_PER_NOTEBOOK = range(2, 5)
POINTS_PER_QUESTION = range(1, 4)
ANSWER_STUB = "YOUR ANSWER HERE"
RUBRIC = re.compile(r"\*\*Rubric \((\d+) points?\)\.\*\*")
QUESTION_POINTS = re.compile(r"\*\*Inline question \((\d+) points?\)\.\*\*")
RUBRIC_ITEM = re.compile(r"\b(\d+) points? for\b")


@pytest.fixture(params=NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def nb(request):
    return nbformat.read(request.param, as_version=nbformat.NO_CONVERT)


def prefix_of(nb):
    """The notebook's grade-id prefix, from its title cell: "convpool-title" -> "convpool"."""
    return nbgrader_meta(nb.cells[0])["grade_id"].removesuffix("-title")


def questions(nb):
    """[(question cell, the cell after it)] for every inline question of the notebook."""
    pattern = re.compile(rf"^{re.escape(prefix_of(nb))}-question-[a-z0-9-]+$")
    return [(cell, nb.cells[i + 1] if i + 1 < len(nb.cells) else None)
            for i, cell in enumerate(nb.cells) if pattern.match(nbgrader_meta(cell).get("grade_id", ""))]


def test_every_notebook_has_two_to_four_inline_questions(nb):
    assert len(questions(nb)) in QUESTIONS_PER_NOTEBOOK, \
        f"{len(questions(nb))} inline questions; expected {QUESTIONS_PER_NOTEBOOK.start} to {QUESTIONS_PER_NOTEBOOK.stop - 1}"


def test_each_question_is_a_locked_cell_followed_by_its_answer_cell(nb):
    for question, answer in questions(nb):
        grade_id = nbgrader_meta(question)["grade_id"]
        assert question.cell_type == "markdown" and question.id == grade_id, grade_id
        assert nbgrader_meta(question) == {"grade": False, "grade_id": grade_id, "locked": True,
                                           "schema_version": 3, "solution": False}, grade_id
        expected_answer_id = grade_id.replace("-question-", "-answer-", 1)
        assert answer is not None and answer.id == expected_answer_id, \
            f"{grade_id} must be followed by its answer cell {expected_answer_id}"
        meta = nbgrader_meta(answer)
        assert answer.cell_type == "markdown" and is_answer_cell(answer), expected_answer_id
        assert meta["grade_id"] == expected_answer_id and meta["locked"] is False, expected_answer_id
        assert meta["schema_version"] == 3, expected_answer_id
        assert isinstance(meta["points"], int) and meta["points"] in POINTS_PER_QUESTION, \
            f"{expected_answer_id}: points {meta['points']!r}, expected 1 to 3"


def test_every_answer_cell_answers_a_question(nb):
    answered = {answer.id for _, answer in questions(nb) if answer is not None}
    orphans = [cell.id for cell in nb.cells if is_answer_cell(cell) and cell.id not in answered]
    assert not orphans, f"answer cells without their question right before them: {orphans}"


def test_answer_holds_the_reference_answer_then_a_rubric_that_adds_up(nb):
    for question, answer in questions(nb):
        points = nbgrader_meta(answer)["points"]
        stated = QUESTION_POINTS.search(question.source)
        assert stated and int(stated.group(1)) == points, \
            f"{question.id} must state '**Inline question ({points} points).**', as its answer cell is worth"
        assert answer.source.startswith("**Reference answer.**"), f"{answer.id}: start with '**Reference answer.**'"
        rubrics = RUBRIC.findall(answer.source)
        assert rubrics == [str(points)], f"{answer.id}: one '**Rubric ({points} points).**' after the answer"
        rubric = answer.source[RUBRIC.search(answer.source).end():]
        items = [int(n) for n in RUBRIC_ITEM.findall(rubric)]
        assert sum(items) == points, f"{answer.id}: the rubric's items give {items}, not {points} points in all"
        for words in REGION_WORDS.values():
            assert not any(word in answer.source for word in words), \
                f"{answer.id}: no nbgrader markers; nbgrader replaces the whole cell"


@pytest.mark.parametrize("name, notebook", assignments(), ids=[name for name, _ in assignments()])
def test_release_has_the_questions_and_none_of_the_reference_answers(name, notebook):
    source = nbformat.read(next(p for p in NOTEBOOKS if p.parent.name == name), as_version=nbformat.NO_CONVERT)
    released = json.loads((ASSIGNMENTS / name / notebook).read_text(encoding="utf-8"))
    released_cells = {cell["id"]: cell for cell in released["cells"]}
    released_text = "\n".join("".join(cell["source"]) for cell in released["cells"])
    for question, answer in questions(source):
        assert "".join(released_cells[question.id]["source"]) == question.source, question.id
        stub = released_cells[answer.id]
        assert "".join(stub["source"]) == ANSWER_STUB, f"{answer.id} in the release: {stub['source']!r}"
        meta = stub["metadata"]["nbgrader"]
        assert (meta["grade"], meta["solution"], meta["points"]) == (True, True, nbgrader_meta(answer)["points"])
        for line in answer.source.splitlines():
            if len(line.strip()) >= 6:
                assert line.strip() not in released_text, f"{answer.id}: {line.strip()[:60]!r} reached the release"
