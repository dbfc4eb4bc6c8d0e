"""Helpers of the bundle tests: a student bundle unpacked alone, filled with the reference, run."""

import zipfile
from pathlib import Path

import nbformat

from autograder.bundle import write_zip
from autograder.class_simulation import build_submission
from autograder.course import Layout

from ..notebooks.kit import run_notebook

LAYOUT = Layout.of_repo()


def unpack_bundle(assignment: str, into: Path) -> Path:
    """The committed bundle of ``assignment`` zipped as the release zips it, unpacked into ``into``: its folder."""
    archive = write_zip(LAYOUT.student_release_dir(assignment), Path(into) / f"{assignment}.zip", top=assignment)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(into)
    for path in Path(into, assignment).rglob("*"):   # zipfile does not restore modes
        if path.suffix in (".sh", ".py") and path.parent == Path(into, assignment):
            path.chmod(0o755)
    archive.unlink()
    return Path(into) / assignment


def reference_bundle(assignment: str, into: Path) -> Path:
    """A bundle as a student who finished it has it: the reference library files and notebook answers."""
    catalog = LAYOUT.catalog()
    return build_submission(LAYOUT, catalog.get(assignment), sorted(catalog.student_files()), "reference",
                            Path(into) / assignment)


def run_and_save(folder: Path, notebook: str, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Run the notebook in its folder (quick mode) and save it with its outputs, as a student would."""
    executed, _ = run_notebook(folder / notebook, allow_errors=allow_errors)
    nbformat.write(executed, folder / notebook)
    return executed
