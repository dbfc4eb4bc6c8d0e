"""JupyterLab 4 in headless Chromium, as a student and an instructor use it.

A student's side: every assignment's zip unpacked alone into one folder; ``sh setup.sh`` in
the first one (the student's first command) makes ``.venv/`` from ``requirements.txt``; its
``jupyter lab`` (the second command) serves the folder. Each released notebook, run whole
in the UI, stops at its first stub with the stub's message. The same bundles, finished
with the reference (library files and notebook answers), show every public check passing,
every test cell's score, and their plots (a screenshot per notebook in runs/browser/), and
nbgrader's Validate button says they pass. nbgrader's instructor tools are not shown. The
kernels run in quick mode (``CS231N_QUICK=1``), as when graded, so that training is short and
needs no CIFAR-10 download.

An instructor's side: formgrader, on a class graded by the kit, lists the library's grade
notebook with each student's score, and shows a notebook with a script in every place a
student can write (its written answer among them) without running any of it.

Slow (a few minutes: the environment is installed from the package index once per run);
skipped, with the reason, where Chromium or Playwright is missing or the package index
cannot be reached.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.class_simulation import build_class, build_submission
from autograder.collect import collect
from autograder.grading.batch import grade_class
from autograder.nbgrader import open_gradebook, write_config
from autograder.notebooks import NOTEBOOK_STUB_MESSAGE

from ..autograder.conftest import OPTIONS, new_layout
from ..autograder.grading.scripted_notebook import ANSWER_TEXT, with_scripts
from ..bundles.kit import LAYOUT, unpack_bundle
from .lab import STDERR_MIME, JupyterServer, NotebookPage, browser_unavailable_reason

pytestmark = pytest.mark.slow

SCREENSHOTS = LAYOUT.lib_dir.parent / "runs" / "browser"
ASSIGNMENTS = [(a.name, a.notebook) for a in LAYOUT.catalog().assignments]
IDS = [name for name, _ in ASSIGNMENTS]
SETUP_SECONDS = 900
NETWORK_TROUBLE = re.compile(r"NewConnectionError|Network is unreachable|Temporary failure in name resolution|"
                             r"No matching distribution found|Could not find a version")


@pytest.fixture(scope="module")
def playwright_browser():
    reason = browser_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    from .lab import CHROMIUM
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's own sandbox cannot start as root (CI and this machine).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def student_folder(tmp_path_factory, playwright_browser):
    """Every bundle unpacked side by side, the first one set up with its own setup.sh; and finished copies."""
    root = tmp_path_factory.mktemp("student")
    for name, _ in ASSIGNMENTS:
        unpack_bundle(name, root)
    first = root / ASSIGNMENTS[0][0]
    setup = subprocess.run(["sh", "setup.sh"], cwd=first, capture_output=True, text=True, timeout=SETUP_SECONDS)
    if setup.returncode != 0 and NETWORK_TROUBLE.search(setup.stderr + setup.stdout):
        pytest.skip(f"setup.sh could not install requirements.txt from the package index: "
                    f"{NETWORK_TROUBLE.search(setup.stderr + setup.stdout).group(0)}")
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    assert f".venv/bin/jupyter lab {ASSIGNMENTS[0][1]}" in setup.stdout   # it names the second command
    # A student who finished each assignment: the bundle with the reference's files and answers.
    unpacked = LAYOUT.with_outputs(assignments_dir=root)
    catalog = LAYOUT.catalog()
    for name, _ in ASSIGNMENTS:
        build_submission(unpacked, catalog.get(name), sorted(catalog.student_files()), "reference",
                         root / "finished" / name)
    return root, first / ".venv"


@pytest.fixture(scope="module")
def student_lab(student_folder, tmp_path_factory):
    root, venv = student_folder
    # Quick mode, as when graded: the training notebook uses a small synthetic set when CIFAR-10
    # is not installed (a student fetches it with datasets/get_datasets.sh) and trains briefly.
    environment = dict(os.environ, CS231N_QUICK="1")
    with JupyterServer(venv / "bin" / "jupyter", root, tmp_path_factory.mktemp("logs") / "student-lab.log",
                       env=environment) as server:
        yield server


@pytest.fixture
def page(playwright_browser):
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def grade_cell_count(path: Path) -> int:
    """The notebook's test cells (written answers are graded cells too, but print no score)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(1 for cell in notebook["cells"]
               if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("grade"))


def plots_expected(path: Path) -> bool:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return any("plt.show()" in "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")


@pytest.mark.parametrize("assignment, notebook", ASSIGNMENTS, ids=IDS)
def test_the_released_notebook_stops_at_its_first_stub(student_lab, page, assignment, notebook):
    lab = NotebookPage(page, student_lab, f"{assignment}/{notebook}").open()
    assert "Nbgrader" not in page.locator(".lm-MenuBar").first.text_content()   # the instructor's menu is hidden
    lab.run_all()
    error = lab.first_error(timeout=120)
    assert "NotImplementedError" in error, error
    assert (NOTEBOOK_STUB_MESSAGE in error or f"your task in {assignment}/" in error
            or "this notebook runs functions you wrote in earlier assignments" in error), error
    library = "".join(lab.outputs("application/vnd.jupyter.stdout"))
    assert f"cs231n_lib imported from {student_lab.root / assignment / 'cs231n_lib'}" in library


@pytest.mark.parametrize("assignment, notebook", ASSIGNMENTS, ids=IDS)
def test_a_finished_notebook_passes_every_public_check_plots_and_validates(student_lab, page, assignment, notebook):
    path = student_lab.root / "finished" / assignment / notebook
    lab = NotebookPage(page, student_lab, f"finished/{assignment}/{notebook}").open()
    lab.run_all()
    lab.wait_until_every_cell_ran(timeout=300)

    printed = "\n".join(lab.outputs("application/vnd.jupyter.stdout"))
    tracebacks = [text for text in lab.outputs(STDERR_MIME) if "Error" in text or "Traceback" in text]
    assert tracebacks == [], tracebacks[0][-1500:]
    assert "PASS  " in printed and "FAIL  " not in printed, printed[-3000:]
    scores = [text for text in lab.outputs("text/markdown") if re.match(r"\d+ / \d+ points", text)]
    assert len(scores) == grade_cell_count(path), scores
    assert not any("failed:" in score for score in scores), scores

    images = page.locator(".jp-OutputArea-output img")
    if plots_expected(path):
        assert images.count() > 0, "no plot was rendered"
        assert page.evaluate("img => img.naturalWidth > 0", images.first.element_handle())
        lab.screenshot(SCREENSHOTS / f"{assignment}.png", images.first)
    else:
        lab.screenshot(SCREENSHOTS / f"{assignment}.png",
                       page.locator(".jp-OutputArea-output[data-mime-type='text/markdown']").last)

    lab.save()
    verdict = lab.validate(timeout=300)
    lab.screenshot(SCREENSHOTS / f"{assignment}-validate.png")
    assert "Success! Your notebook passes all the tests." in verdict, verdict[:2000]
    lab.close_dialog()


def test_formgrader_shows_the_library_grade_notebooks_scores_and_runs_no_students_script(playwright_browser, page,
                                                                                         tmp_path):
    reason = browser_unavailable_reason()
    if reason:
        pytest.skip(reason)
    layout = new_layout(tmp_path)
    folders = build_class(layout, "conv_pool", {"ada": "reference", "cy": "stubs", "sam": "stubs"}, tmp_path / "class")
    with_scripts(folders["sam"], layout.catalog().get("conv_pool").notebook)   # scripts everywhere a student writes
    collect(layout, "conv_pool", [tmp_path / "class"], log=lambda line: None)
    report = grade_class(layout, "conv_pool", jobs=2, options=OPTIONS, progress=False)
    assert {student: result["score"] for student, result in report.results.items()}["ada"] > 0
    write_config(layout, layout.catalog())   # formgrader reads the course directory's nbgrader_config.py
    jupyter = Path(sys.executable).parent / "jupyter"
    with JupyterServer(jupyter, layout.course_dir, tmp_path / "formgrader.log", cwd=layout.course_dir) as server:
        page.goto(server.url("tree"))   # the token in the URL logs the browser in (a cookie) for formgrader's API
        page.goto(server.url("formgrader/gradebook/conv_pool/cs231n_lib"))
        page.get_by_text("Loading, please wait...").wait_for(state="detached", timeout=60_000)
        page.get_by_text("Show All Names").click()
        rows = {row.split()[0]: row for row in page.locator("table tbody tr").all_inner_texts()}
        page.screenshot(path=str(SCREENSHOTS / "formgrader-library.png"))
        library_max = sum(f["max_score"] for f in report.results["ada"]["library"]["functions"])
        assert f"{library_max:g} / {library_max:g}" in rows["ada"], rows
        assert f"0 / {library_max:g}" in rows["cy"], rows

        # sam's notebook as a TA grades it: the written answer is there, as text, and none of
        # the scripts sam put in the notebook ran (tests/autograder/grading/scripted_notebook.py).
        with open_gradebook(layout.gradebook) as gradebook:
            submission = gradebook.find_submission_notebook("ConvPool", "conv_pool", "sam").id
        page.goto(server.url(f"formgrader/submissions/{submission}/"))
        page.get_by_text(ANSWER_TEXT).wait_for(timeout=60_000)
        page.wait_for_timeout(2_000)   # time for anything that loads late (images, frames, a refresh)
        for element in page.locator(".student-text b, .student-text a, .student-text details").all():
            if element.is_visible():   # handlers that wait for the pointer
                element.hover(timeout=2_000)
        page.locator(".nbgrader_cell", has_text=ANSWER_TEXT).screenshot(
            path=str(SCREENSHOTS / "formgrader-scripted-answer.png"))
        ran = page.evaluate("() => Object.keys(window).filter(name => name.startsWith('PWN'))")
        frames = [frame.evaluate("() => Object.keys(window).filter(name => name.startsWith('PWN'))")
                  for frame in page.frames]
        assert ran == [] and all(found == [] for found in frames), (ran, frames)
        assert page.locator("iframe, object, embed, a[href^='javascript' i]").count() == 0
        assert "PWN1" in page.inner_text("body")   # the script sam wrote is shown to the TA, as text
