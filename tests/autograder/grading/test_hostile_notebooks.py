"""Hostile notebooks, graded in one batch with an honest student: no unearned point, held, batch intact.

Each attack is written as a student who has read the grader's source would write it (see
docs/autograder-sandbox.md, "Threat model"). The first five broke the grader when grade cells
ran in the student's kernel; each must now end with zero points it did not earn, held for
review by the integrity scan, and the honest student graded as if alone.
"""

import json
import re
import os
import sys
import unicodedata
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder import leak_scan
from autograder.class_simulation import build_submission
from autograder.collect import collect
from autograder.report import WITHHELD, grade_table, gradescope_results, integrity_report, integrity_text, render
from autograder.grading.batch import grade_class
from autograder.notebooks import read_notebook, write_notebook

from ..conftest import OPTIONS, new_layout
from .scripted_notebook import ANSWER_ID, ANSWER_TEXT, with_scripts

pytestmark = pytest.mark.slow   # grades hostile submissions in the sandbox

ASSIGNMENT = "conv_pool"
MARKER = f"cs231n-detached-{uuid.uuid4().hex[:12]}"

# 1. Silence every later cell: the grade cells would "produce no output" and score full points.
SILENCER = """
ip = get_ipython()
ip.input_transformers_post.append(lambda lines: ["pass\\n"])
"""

# 2. Look everywhere the process can see for the instructor's notebook, hidden tests or solutions.
SNOOPER = """
import os
NEEDLES = {needles!r}
SKIPPED = {skipped!r}
found, looked = [], 0
for top, folders, names in os.walk("/"):
    if top.startswith(SKIPPED):
        folders[:] = []
        continue
    for name in names:
        path = os.path.join(top, name)
        try:
            if os.path.getsize(path) > 5_000_000:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        looked += 1
        found += [(path, needle[:40]) for needle in NEEDLES if needle.encode() in data]
print(f"SNOOPED {{looked}} files, FOUND {{found}}")
"""

# 3. A process that leaves the kernel (fork, setsid), outlives it, stops every process it can see
#    and writes over whatever it can, for minutes.
DETACHER = """
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sh", ["/bin/sh", "-c",
                 "while :; do kill -STOP -1; echo forged > /home/student/{notebook}; sleep 0.2; done # {marker}"])
    os._exit(0)
"""

# 4. A folder tree deeper than any recursive walk survives, in the home and in /tmp.
DEEP_TREE = """
import os
for base in (os.getcwd(), "/tmp"):
    os.chdir(base)
    for _ in range(1500):
        os.mkdir("n")
        os.chdir("n")
os.chdir(os.path.expanduser("~"))
print("deep trees made")
"""

# The same in the library, when the grader imports it for the library checks.
DEEP_LIBRARY = """
import os as _os
_base = _os.getcwd()
for _ in range(1500):
    _os.mkdir("d")
    _os.chdir("d")
_os.chdir(_base)
"""

# Variant: solutions that forge the values a check compares (an object that equals anything).
ANYTHING = """
class Anything:
    shape = (4, 4, 2)
    def __eq__(self, other):
        return True
    def __getitem__(self, index):
        return Anything()
    def __float__(self):
        return 0.0
"""
EQUALS_ANYTHING = {
    "convpool-conv-single-volume": ANYTHING + "\ndef conv_single_volume(X, filters, biases, stride):\n"
                                              "    return Anything()\n",
    "convpool-output-size": ANYTHING + "\ndef spatial_output_size(W, F, P, S):\n    return Anything()\n",
}


def instructor_needles() -> list[str]:
    """Long instructor-only lines of this assignment: a hidden test, a notebook solution, the reference."""
    layout = new_layout(Path("/nonexistent"))
    assignment = layout.catalog().get(ASSIGNMENT)
    rules = leak_scan.collect_rules([layout.source_notebook(assignment)], layout.lib_dir)
    picked = []
    for kind in ("hidden test", "(solution)", "reference solution"):
        lines = sorted((line for line, origin in rules.lines.items() if kind in origin and len(line) >= 30),
                       key=len, reverse=True)
        assert lines, kind
        picked.append(lines[0])
    return picked + ["BEGIN HIDDEN TESTS", "_oracle_conv_single_volume"]


def with_cells(folder: Path, notebook: str, cells: list[str], solutions: dict | None = None) -> None:
    """Put ``cells`` (plain code cells a student added) right after the setup cell; ``solutions``:
    {grade_id: code} written into those solution cells."""
    path = folder / notebook
    data = read_notebook(path)
    for cell in data["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in (solutions or {}):
            cell["source"] = solutions[grade_id]
    added = [{"cell_type": "code", "execution_count": None, "id": f"added-{index}", "metadata": {},
              "outputs": [], "source": code} for index, code in enumerate(cells)]
    data["cells"][2:2] = added
    write_notebook(data, path)


@pytest.fixture(scope="module")
def hostile_batch(requires_sandbox, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    layout = new_layout(root)
    catalog = layout.catalog()
    assignment = catalog.get(ASSIGNMENT)
    own = sorted(catalog.student_files())
    packages = [p for p in sys.path if p.endswith("site-packages")]
    snooper = SNOOPER.format(needles=instructor_needles(),
                             skipped=("/proc", "/sys", "/dev", "/usr", sys.base_prefix, "/opt/python-packages",
                                      *packages))
    attacks = {
        "silencer": ("stubs", [SILENCER], None),
        "snooper": ("stubs", [snooper], None),
        "detacher": ("stubs", [DETACHER.format(notebook=assignment.notebook, marker=MARKER)], None),
        "deep": ("stubs", [DEEP_TREE], None),
        "forger": ("stubs", [], EQUALS_ANYTHING),
        "honest": ("reference", [], None),
        "stubs": ("stubs", [], None),
    }
    for student, (kind, cells, solutions) in attacks.items():
        folder = build_submission(layout, assignment, own, kind, root / "class" / student)
        with_cells(folder, assignment.notebook, cells, solutions)
    with_scripts(build_submission(layout, assignment, own, "stubs", root / "class" / "scripter"), assignment.notebook)
    layers = root / "class" / "deep" / "cs231n_lib" / "layers.py"
    layers.write_text(DEEP_LIBRARY + layers.read_text())
    # A notebook file nested deeper than any recursive JSON parser survives.
    nested = build_submission(layout, assignment, own, "stubs", root / "class" / "nested")
    (nested / assignment.notebook).write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}")
    collect(layout, ASSIGNMENT, [root / "class"], log=lambda line: None)
    report = grade_class(layout, ASSIGNMENT, jobs=2, options=OPTIONS, progress=False)
    return layout, report


def graded_output(layout, student: str, cell_id: str) -> str:
    """What one cell printed when it was graded (the instructor's graded copy)."""
    notebook = json.loads((layout.autograded_dir(ASSIGNMENT, student) / "ConvPool.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if c.get("id") == cell_id)
    return "".join(output.get("text", "") if isinstance(output.get("text"), str) else "".join(output.get("text", []))
                   for output in cell["outputs"])


def test_the_batch_is_intact_and_the_honest_student_gets_full_marks(hostile_batch):
    _, report = hostile_batch
    assert not report.internal_errors
    assert set(report.results) == {"silencer", "snooper", "detacher", "deep", "forger", "nested", "scripter", "honest",
                                   "stubs"}
    honest = report.results["honest"]
    assert honest["score"] == 74 and honest["max_score"] == 74 + 10   # 10 points of written answers wait for a TA
    assert report.results["stubs"]["score"] == 0


@pytest.mark.parametrize("student", ["silencer", "snooper", "detacher", "deep", "forger", "nested", "scripter"])
def test_an_attack_earns_nothing_even_before_the_hold(hostile_batch, student):
    _, report = hostile_batch
    result = report.results[student]
    notebook = result["notebook"]
    # Every one of them is the untouched stubs plus the attack: nothing may be earned.
    assert result["score"] == 0
    assert notebook.get("held_score", notebook["score"]) == 0
    assert all(cell.get("held_score", cell["score"]) == 0 for cell in notebook["cells"] if not cell.get("manual"))
    # A written answer is a TA's to grade (the scripter's waits for one); no other scores anything.
    assert all(cell["score"] in (0, None) for cell in notebook["cells"] if cell.get("manual"))


@pytest.mark.parametrize("student, kind", [("silencer", "hook"), ("snooper", "files"), ("detacher", "process")])
def test_each_attack_is_held_for_review_with_what_it_tried(hostile_batch, student, kind):
    _, report = hostile_batch
    result = report.results[student]
    assert result["integrity"]["held"] and result["notebook"]["held"]
    assert kind in {finding["kind"] for finding in result["integrity"]["findings"]}


def test_silenced_grade_cells_are_run_by_the_grader_anyway(hostile_batch):
    _, report = hostile_batch
    cells = {cell["grade_id"]: cell for cell in report.results["silencer"]["notebook"]["cells"]
             if not cell.get("manual")}
    # The grade cells ran (in the grader) and failed on the stubs; none was silenced into full points.
    assert {cell["held_score"] for cell in cells.values()} == {0.0}
    assert all(check["passed"] is not True for cell in cells.values() for check in cell["checks"])


def test_no_solution_and_no_hidden_test_is_anywhere_in_the_sandbox(hostile_batch):
    layout, _ = hostile_batch
    printed = graded_output(layout, "snooper", "added-0")
    assert "SNOOPED" in printed and "FOUND []" in printed, printed
    looked = int(printed.split("SNOOPED ")[1].split(" files")[0])
    assert looked > 5     # it did look: the notebook's own library at least


def test_a_detached_process_dies_with_the_sandbox_and_forges_nothing(hostile_batch):
    layout, report = hostile_batch
    alive = []
    for entry in os.listdir("/proc"):
        try:
            if MARKER.encode() in Path("/proc", entry, "cmdline").read_bytes():
                alive.append(entry)
        except OSError:
            pass
    assert alive == []
    graded = (layout.autograded_dir(ASSIGNMENT, "detacher") / "ConvPool.ipynb").read_text()
    assert json.loads(graded)["cells"]   # the graded copy is the grader's, not "forged"


def test_a_deep_folder_tree_is_graded_like_any_other_submission(hostile_batch):
    layout, report = hostile_batch
    result = report.results["deep"]
    assert "deep trees made" in graded_output(layout, "deep", "added-0")
    assert result["library"]["score"] == 0 and result["notebook"]["run"]["status"] == "ok"


def test_a_notebook_nested_beyond_any_parser_is_refused_with_the_reason(hostile_batch):
    _, report = hostile_batch
    notebook = report.results["nested"]["notebook"]
    assert notebook["run"]["status"] == "not run" and "not a valid notebook" in notebook["run"]["description"]
    assert {cell["status"] for cell in notebook["cells"]} == {"missing"}


def test_forged_values_fail_the_checks(hostile_batch):
    _, report = hostile_batch
    cells = {cell["grade_id"]: cell for cell in report.results["forger"]["notebook"]["cells"]}
    for grade_id in ("convpool-test-conv-single-volume", "convpool-test-output-size"):
        assert cells[grade_id]["score"] == 0
        assert any(check["passed"] is False for check in cells[grade_id]["checks"])


# ----------------------------------------------------------------------------- feedback and exports

HIDDEN_LINE = "assert spatial_output_size(W, F, P, S) == _oracle_output_size(W, F, P, S)"


@pytest.mark.parametrize("disguise", [
    lambda line: line,
    lambda line: "\n".join(ch + "\u200b" for ch in line),                     # a zero-width space after each char
    lambda line: line.replace(" ", "  ").replace("(", " ( "),                  # spacing changed
    lambda line: "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in line),   # full width
    lambda line: "prefix " + line[5:40] + " suffix",                          # a long piece of it
])
def test_feedback_and_exports_withhold_disguised_instructor_text(disguise):
    forbidden = leak_scan.InstructorText([HIDDEN_LINE])
    leaked = disguise(HIDDEN_LINE)
    result = {"student_id": "eve", "assignment": ASSIGNMENT, "score": 0.0, "max_score": 3.0,
              "graded_at": None, "library": None,
              "notebook": {"name": "ConvPool.ipynb", "score": 0.0, "max_score": 3.0, "run": {"status": "ok"},
                           "cells": [{"grade_id": "g", "title": "Test", "points": 3.0, "score": 0.0,
                                      "status": "failed", "reason": leaked,
                                      "checks": [{"name": "public", "hidden": False, "points": 1.0,
                                                  "passed": False, "detail": leaked}]}]}}
    page = render(result, "Conv and pool layers", forbidden)
    assert WITHHELD in page and "_oracle" not in page and "oracle" not in page.replace("\u200b", "")
    exported = json.dumps(gradescope_results(result, forbidden))
    assert WITHHELD in exported and "oracle" not in exported.replace("\\u200b", "")


def test_ordinary_failure_messages_are_not_withheld():
    forbidden = leak_scan.InstructorText([HIDDEN_LINE])
    for message in ("AssertionError: V has shape (4, 4, 3), expected (4, 4, 2)",
                    "NotImplementedError: layers.conv_forward_naive: your task in conv_pool/ConvPool.ipynb"):
        assert not forbidden.quoted_in(message)


RASTER_DATA_URL = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]*")


def _carries_marker(name, value):
    """A marker in an attribute, outside the payload of a PNG or JPEG data URL: base64 spells
    "PWN" by chance (a figure of the notebook did), and raster image data runs nothing."""
    return "PWN" in f"{name}{RASTER_DATA_URL.sub('', value or '')}"


class _ActiveMarkers(HTMLParser):
    """Every PWN marker found where a browser would run it: in any attribute (event handlers,
    URLs, srcdoc, refresh) or inside a script or style element. In text, it is only shown."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.active, self.shown, self._inside = [], [], []

    def handle_starttag(self, tag, attrs):
        self.active += [f"<{tag} {name}={value!r}>" for name, value in attrs if _carries_marker(name, value)]
        if tag in ("script", "style"):
            self._inside.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.active += [f"<{tag} {name}={value!r}/>" for name, value in attrs if _carries_marker(name, value)]

    def handle_endtag(self, tag):
        if self._inside and self._inside[-1] == tag:
            self._inside.pop()

    def handle_data(self, data):
        if "PWN" in data:
            (self.active if self._inside else self.shown).append(data.strip()[:80])


def formgrader_page(path: Path) -> str:
    """The page formgrader serves for a graded notebook: nbgrader's exporter and template, as configured by it."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": ASSIGNMENT, "notebook_id": path.stem, "submission_id": "s", "index": 0, "total": 1,
                 "base_url": "", "student": "scripter", "last_name": "", "first_name": "", "notebook_path": str(path)}
    page, _ = HTMLExporter(config=config).from_filename(str(path), resources=resources)
    return page


def test_the_graded_copy_runs_nothing_in_formgrader(hostile_batch):
    layout, report = hostile_batch
    graded = layout.autograded_dir(ASSIGNMENT, "scripter")
    parser = _ActiveMarkers()
    parser.feed(formgrader_page(graded / "ConvPool.ipynb"))
    assert parser.active == []
    # The TA still reads what the student wrote, as text: the answer and the scripts it carried.
    shown = " ".join(parser.shown)
    assert all(f"PWN{n}" in shown for n in (1, 9, 11)), shown
    page = formgrader_page(graded / "ConvPool.ipynb")
    assert ANSWER_TEXT in page
    answer = next(cell for cell in report.results["scripter"]["notebook"]["cells"] if cell["grade_id"] == ANSWER_ID)
    assert answer["status"] == "needs manual grading" and "window.PWN1" in answer["answer"]
    library = _ActiveMarkers()
    library.feed(formgrader_page(graded / "cs231n_lib.ipynb"))
    assert library.active == []


def test_nothing_the_scripter_wrote_steers_the_instructors_terminal(hostile_batch):
    layout, report = hostile_batch
    findings = integrity_report(layout, ASSIGNMENT)
    printed = integrity_text(findings) + "\n" + grade_table(report.results)
    assert "erased" in integrity_text({"scripter": findings["scripter"]})   # the path is reported...
    steering = [ch for ch in printed if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")]
    assert steering == [], steering                                          # ...as text
    assert "\\x1b[1A\\x1b[2K\\u202eerased" in printed
