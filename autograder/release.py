"""The release pipeline: from ``cs231n_lib/`` + ``solutions/<a>/`` to ``assignments/<a>/``.

Steps, in order; any failure stops the release and leaves ``assignments/`` as it was:

1. read ``solutions/tasks.toml`` and stub the reference library in memory, which checks
   every solution region against the tasks, and check that every grade cell can run in the
   grader (``notebook_spec.contract_problems``): nothing is built when either fails;
2. write ``course/nbgrader_config.py`` and rebuild ``course/source/<a>/``;
3. ``nbgrader generate_assignment <a> --force`` (clears notebook solutions and hidden tests)
   on a scratch gradebook, whose cells are then copied into ``course/gradebook.db``
   (nbgrader refuses to release again into a gradebook holding the library's grade
   notebook, which has no source notebook; the copy updates cells and keeps every grade);
4. stub the library copy in ``course/release/<a>/`` (nbgrader copies ``.py`` files verbatim)
   and make the released notebooks deterministic;
5. stage a copy beside ``assignments/<a>/``, add the student bundle's own files (README,
   requirements, setup, submission and earlier-work scripts: :mod:`autograder.bundle`) and
   scan all of it for leaks;
6. only when every selected assignment is clean, swap each staged copy into place, then
   zip each bundle into ``dist/<a>.zip``.

An assignment whose notebook does not exist yet is skipped with a notice when releasing
everything, and is an error when asked for by name.
"""

import dataclasses
import tempfile
import time
from pathlib import Path

from . import bundle, files, leak_scan, nbgrader, stubs
from .course import Layout
from .errors import ReleaseError
from .notebook_spec import contract_problems, notebook_spec
from .notebooks import read_notebook, with_stable_cell_ids, without_volatile_metadata, write_notebook
from .tasks import Assignment, Catalog

# Folders an interrupted release may leave beside assignments/<a>/ (removed by the next release).
STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"


@dataclasses.dataclass
class ReleaseReport:
    released: list[str] = dataclasses.field(default_factory=list)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)   # assignment -> why


def release(layout: Layout, names: list[str] | None = None, log=print) -> ReleaseReport:
    catalog = layout.catalog()
    stubs.stub_library(layout.lib_dir, catalog)  # check the regions before building anything
    report = ReleaseReport()
    ready = _select(layout, catalog, names, report)
    problems = [problem for assignment in ready
                for problem in contract_problems(notebook_spec(layout, assignment))]
    if problems:
        raise ReleaseError("grade cells that cannot run in the grader; nothing was released:\n  "
                           + "\n  ".join(problems))
    for name, why in report.skipped.items():
        log(f"release: skipping {name}: {why}")
    for stale in _unsourced_folders(layout, catalog):
        log(f"release: warning: {stale} is not released from any source (not in tasks.toml, or no "
            f"notebook); it was left alone, delete it if the assignment is retired")
    if not ready:
        log("release: nothing to release")
        return report

    rules = leak_scan.collect_rules(_source_notebooks(layout, catalog), layout.lib_dir)
    nbgrader.write_config(layout, catalog)
    _remove_leftovers(layout.assignments_dir)
    staged: dict[str, Path] = {}
    try:
        for assignment in ready:
            staged[assignment.name] = _build(layout, catalog, assignment, rules, log)
        for name, staging in staged.items():
            files.swap_in(staging, layout.assignments_dir / name)
            report.released.append(name)
            log(f"release: {name}: written to {layout.assignments_dir / name}")
        for name in report.released:
            zipped = bundle.write_zip(layout.student_release_dir(name), layout.bundle_zip(name), top=name)
            log(f"release: {name}: student bundle {zipped}")
    finally:
        for staging in staged.values():
            if staging.exists():
                files.remove_tree(staging)
    return report


def _build(layout: Layout, catalog: Catalog, assignment: Assignment, rules, log) -> Path:
    """Steps 2-5 for one assignment; returns its checked staging folder."""
    name = assignment.name
    prepare_source(layout, assignment)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"cs231n-release-{name}-") as scratch:
        scratch_gradebook = Path(scratch) / "gradebook.db"
        nbgrader.generate_assignment(layout.course_dir, name, gradebook=scratch_gradebook)
        with nbgrader.open_gradebook(scratch_gradebook) as scratch_book, \
                nbgrader.open_gradebook(layout.gradebook) as course_book:
            nbgrader.copy_released_cells(scratch_book, course_book, name)
    log(f"release: {name}: nbgrader generate_assignment ({time.monotonic() - started:.1f} s)")
    released = layout.nbgrader_release_dir(name)
    if not (released / assignment.notebook).is_file():
        raise ReleaseError(f"nbgrader did not write {released / assignment.notebook}")
    rewritten = stubs.write_stubs(released / layout.lib_name, catalog)
    log(f"release: {name}: stubbed {len(rewritten)} library files")
    for notebook in sorted(released.rglob("*.ipynb")):
        write_notebook(without_volatile_metadata(read_notebook(notebook)), notebook)

    staging = _stage(released, layout.assignments_dir, name)
    added = bundle.add_student_files(staging, layout, catalog, assignment)
    log(f"release: {name}: bundle files {', '.join(added)}")
    leaks = leak_scan.scan_release(staging, rules)
    if leaks:
        files.remove_tree(staging)
        files.remove_tree(released)  # fail closed: nbgrader must not hand this release out either
        listing = "\n  ".join(str(leak) for leak in leaks[:50])
        more = f"\n  ... and {len(leaks) - 50} more" if len(leaks) > 50 else ""
        raise ReleaseError(f"{name}: the release leaks instructor-only text; nothing was written.\n  "
                           f"{listing}{more}")
    log(f"release: {name}: leak scan clean")
    return staging


def _select(layout: Layout, catalog: Catalog, names, report: ReleaseReport) -> list[Assignment]:
    explicit = bool(names)
    selected = [catalog.get(name) for name in names] if explicit else list(catalog.assignments)
    ready = []
    for assignment in selected:
        notebook = layout.solutions_dir / assignment.name / assignment.notebook
        if notebook.is_file():
            ready.append(assignment)
        elif explicit:
            raise ReleaseError(f"{assignment.name}: expected its notebook at {notebook}, found none")
        else:
            report.skipped[assignment.name] = f"no notebook yet at {notebook}"
    return ready


def _unsourced_folders(layout: Layout, catalog: Catalog) -> list[Path]:
    """Release folders no source would produce: the assignment left tasks.toml or lost its notebook."""
    if not layout.assignments_dir.is_dir():
        return []
    sourced = {a.name for a in catalog.assignments if (layout.solutions_dir / a.name / a.notebook).is_file()}
    return sorted(p for p in layout.assignments_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name not in sourced)


def _source_notebooks(layout: Layout, catalog: Catalog) -> list[Path]:
    """Every source notebook of every assignment: a hidden test of one must not leak into another."""
    found = []
    for assignment in catalog.assignments:
        folder = layout.solutions_dir / assignment.name
        if folder.is_dir():
            found.extend(sorted(folder.rglob("*.ipynb")))
    return [path for path in found if ".ipynb_checkpoints" not in path.parts]


def prepare_source(layout: Layout, assignment: Assignment) -> Path:
    """Rebuild ``course/source/<a>/`` from the single source; returns it."""
    destination = layout.nbgrader_source_dir(assignment.name)
    if destination.exists():
        files.remove_tree(destination)
    solutions = layout.solutions_dir / assignment.name
    if (solutions / layout.lib_name).exists():
        raise ReleaseError(f"{solutions / layout.lib_name}: the library comes from {layout.lib_dir}, "
                           f"not from the solutions folder; remove this copy")
    files.copy_tree(solutions, destination)
    for notebook in sorted(destination.rglob("*.ipynb")):
        write_notebook(with_stable_cell_ids(read_notebook(notebook), notebook.name), notebook)
    files.copy_tree(layout.lib_dir, destination / layout.lib_name)
    if layout.data_script.is_file():
        files.copy_file(layout.data_script, destination / layout.data_script_release_path)
    return destination


def _stage(release_dir: Path, assignments_dir: Path, assignment: str) -> Path:
    """Copy nbgrader's release of one assignment into a fresh staging folder beside its target.

    (Same filesystem as the target, so that a rename moves it in whole, after the leak scan.)
    """
    assignments_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{assignment}-", dir=assignments_dir))
    files.copy_tree(release_dir, staging)
    staging.chmod(0o755)
    return staging


def _remove_leftovers(assignments_dir: Path) -> list[Path]:
    """Delete staging/retired folders an interrupted release left behind."""
    if not assignments_dir.is_dir():
        return []
    leftovers = [p for p in assignments_dir.iterdir()
                 if p.is_dir() and p.name.startswith((STAGING_PREFIX, RETIRED_PREFIX))]
    for folder in leftovers:
        files.remove_tree(folder)
    return leftovers
