"""The trusted parent's scoring of an autograded notebook, fed forged and broken notebooks."""

import json

from autograder.layout import KitLayout
from autograder.notebook_scores import score_notebook
from autograder.notebook_spec import load_catalog_of, notebook_spec

KIT = KitLayout.of_repo()
SPEC = notebook_spec(KIT, load_catalog_of(KIT).get("conv_pool"))


def graded_notebook(outputs_by_id: dict, source_of=None) -> bytes:
    cells = []
    for cell in SPEC.grade_cells:
        cells.append({"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": cell.grade_id,
                                                                      "points": 1000}},
                      "source": (source_of or {}).get(cell.grade_id, cell.source),
                      "outputs": outputs_by_id.get(cell.grade_id, [])})
    return json.dumps({"cells": cells}).encode()


def result(value):
    return {"output_type": "execute_result", "data": {"text/plain": str(value)}, "metadata": {}}


def test_nbgraders_rules_with_points_from_the_instructors_notebook():
    first, second, third, fourth = [c.grade_id for c in SPEC.grade_cells[:4]]
    scored = score_notebook(graded_notebook({
        first: [result(1000)],                                   # more than the cell is worth: capped
        second: [result(1.5)],                                   # partial credit
        third: [{"output_type": "error", "ename": "AssertionError", "evalue": "hidden value 42", "traceback": []}],
        fourth: [{"output_type": "stream", "name": "stderr", "text": "a warning"}],   # stderr costs nothing
    }), SPEC)
    cells = {c["grade_id"]: c for c in scored["cells"]}
    assert cells[first]["score"] == SPEC.cell(first).points      # not the notebook's forged 1000 points
    assert cells[second]["score"] == 1.5 and cells[second]["status"] == "partial"
    assert cells[third]["score"] == 0 and "42" not in cells[third]["reason"]
    assert cells[fourth]["score"] == SPEC.cell(fourth).points
    assert scored["max_score"] == SPEC.max_score == 33


def test_forged_or_broken_notebooks_earn_nothing():
    first = SPEC.grade_cells[0].grade_id
    forged = score_notebook(graded_notebook({}, source_of={first: "1000"}), SPEC)
    assert forged["cells"][0]["status"] == "tampered" and forged["cells"][0]["score"] == 0
    for garbage in (b"\x00\xff not json", b"[]", b'{"cells": 5}'):
        assert score_notebook(garbage, SPEC)["score"] == 0
    assert score_notebook(None, SPEC, "no notebook")["cells"][0]["reason"] == "no notebook"
    doubled = json.loads(graded_notebook({}))
    doubled["cells"].append(doubled["cells"][0])
    assert score_notebook(json.dumps(doubled).encode(), SPEC)["cells"][0]["status"] == "tampered"


def test_only_the_instructors_check_names_are_reported():
    cell = SPEC.grade_cells[0]
    lines = "".join(f"FAIL  {c.name}  (0/1): secret detail\n" for c in cell.checks) + "PASS  invented check  (9/9)\n"
    scored = score_notebook(graded_notebook({cell.grade_id: [{"output_type": "stream", "name": "stdout",
                                                               "text": lines}]}), SPEC)
    checks = scored["cells"][0]["checks"]
    assert [c["name"] for c in checks] == [c.name for c in cell.checks]
    assert all(c["detail"] is None for c in checks if c["hidden"])
    assert any(c["detail"] == "secret detail" for c in checks if not c["hidden"])
