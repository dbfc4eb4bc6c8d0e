"""The release refuses a grade cell whose Score does not state the cell's points."""

import pytest

from autograder.notebook_spec import contract_problems, spec_of


def notebook_with_grade_cell(source: str, points: float) -> dict:
    meta = {"grade": True, "grade_id": "check", "locked": True, "points": points, "schema_version": 3,
            "solution": False, "task": False}
    setup = {"grade": False, "grade_id": "setup", "locked": True, "schema_version": 3, "solution": False,
             "task": False}
    return {"cells": [
        {"cell_type": "code", "id": "setup", "metadata": {"nbgrader": setup}, "outputs": [], "execution_count": None,
         "source": "from cs231n_lib.notebook_utils import Score"},
        {"cell_type": "code", "id": "check", "metadata": {"nbgrader": meta}, "outputs": [], "execution_count": None,
         "source": source}]}


def problems_of(source: str, points: float) -> list[str]:
    return contract_problems(spec_of(notebook_with_grade_cell(source, points), "a", "A.ipynb"))


@pytest.mark.parametrize("source, points", [
    ("score = Score(points=3)\nwith score.check('x', points=3):\n    pass\nscore.earned", 3),
    ("assert 1 + 1 == 2", 2),   # no Score: all or nothing, as nbgrader grades it
])
def test_a_cell_stating_its_points_or_without_score_is_accepted(source, points):
    assert problems_of(source, points) == []


@pytest.mark.parametrize("source, found", [
    ("score = Score()\nscore.earned", "Score() without literal points"),
    ("score = Score(points=2)\nscore.earned", "Score(points=2)"),
    ("n = 3\nscore = Score(points=n)\nscore.earned", "Score() without literal points"),
])
def test_a_score_without_the_cells_points_is_refused_with_what_was_found(source, found):
    problems = problems_of(source, 3)
    assert len(problems) == 1 and "Score(points=3)" in problems[0] and found in problems[0], problems
