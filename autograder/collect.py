"""Bring submissions into nbgrader's ``course/submitted/<student>/<assignment>/`` and register students.

Accepted sources (any mix, several at once):

- a folder of student folders: ``<dir>/<student>/...``;
- a folder of LMS zips, or single zips: ``<student>.zip`` or ``<student>_<anything>.zip`` (the
  student id is the name up to the first underscore);
- one zip of such zips (the whole-class download of an LMS).

Each submission is unpacked or copied into a staging folder beside its target, checked,
and swapped in with renames, so a submission is never half replaced. Inside a submission
the folder holding the assignment's notebook becomes the submission's root (zips often
wrap everything in a folder). Links are never followed or kept; sizes are capped
(:mod:`autograder.files`). A refused submission is reported with its reason and the
others go on.
"""

import dataclasses
import datetime
import tempfile
import zipfile
from pathlib import Path

from .nbgrader import open_gradebook, register_students
from .course import Layout
from .cli_support import for_terminal
from .grading.results import check_student_id
from . import files
from .files import UnsafeArchiveError, UnsafeFileError, copy_regular_file, extract_zip, regular_files, zip_members


@dataclasses.dataclass
class CollectReport:
    collected: dict[str, str] = dataclasses.field(default_factory=dict)   # student -> what was found
    refused: dict[str, str] = dataclasses.field(default_factory=dict)     # source name -> why


def collect(layout: Layout, assignment_name: str, sources: list[Path], log=print) -> CollectReport:
    assignment = layout.catalog().get(assignment_name)
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="cs231n-collect-") as scratch:
        for student, origin, kind in _submissions(sources, Path(scratch), report):
            try:
                check_student_id(student)
                found = _install(layout, assignment_name, assignment.notebook, student, origin, kind)
            except (ValueError, UnsafeArchiveError, UnsafeFileError, OSError) as error:
                report.refused[f"{origin.name} ({student})"] = str(error)
                continue
            if student in report.collected:
                report.refused[f"{origin.name} ({student})"] = "a second submission of this student in one collect; " \
                                                               "the later one in name order was kept"
            report.collected[student] = found
    if report.collected:
        with open_gradebook(layout.gradebook) as gradebook:
            register_students(gradebook, sorted(report.collected))
    for student, found in sorted(report.collected.items()):
        log(f"collect: {student}: {for_terminal(found)}")
    for name, why in sorted(report.refused.items()):   # names from the LMS's zip: the students' own
        log(f"collect: refused {for_terminal(name)}: {for_terminal(why)}")
    return report


def student_of_zip(path: Path) -> str:
    """``alice_12345_ConvPool.zip`` -> ``alice``; ``alice.zip`` -> ``alice``."""
    return Path(path).name[:-len(".zip")].split("_", 1)[0]


def _submissions(sources: list[Path], scratch: Path, report: CollectReport):
    """Yields (student, path, "zip" | "folder") for every submission found in ``sources``."""
    for source in sources:
        source = Path(source)
        if source.is_symlink():
            report.refused[source.name] = "a symlink; give the file or folder itself"
        elif source.is_file() and source.suffix == ".zip":
            yield from _from_zip(source, scratch, report)
        elif source.is_dir():
            for entry in sorted(source.iterdir()):
                if entry.is_symlink() or entry.name.startswith("."):
                    continue
                if entry.is_file() and entry.suffix == ".zip":
                    yield from _from_zip(entry, scratch, report)
                elif entry.is_dir():
                    yield entry.name, entry, "folder"
        else:
            report.refused[source.name] = "expected a folder of student folders or zips, or a .zip file"


def _from_zip(path: Path, scratch: Path, report: CollectReport):
    """A student's zip, or a zip of zips (unpacked into ``scratch``, then each inner zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = zip_members(archive)
    except (zipfile.BadZipFile, OSError) as error:
        report.refused[path.name] = f"not a readable zip file: {error}"
        return
    except UnsafeArchiveError as error:
        report.refused[path.name] = str(error)
        return
    if members and all(member_path.suffix == ".zip" for _, member_path in members):
        outer = Path(tempfile.mkdtemp(prefix="outer-", dir=scratch))
        try:
            extract_zip(path, outer)
        except UnsafeArchiveError as error:
            report.refused[path.name] = str(error)
            return
        for inner in sorted(outer.rglob("*.zip")):
            yield student_of_zip(inner), inner, "zip"
    else:
        yield student_of_zip(path), path, "zip"


def _install(layout: Layout, assignment: str, notebook: str, student: str, origin: Path, kind: str) -> str:
    target = layout.submitted_dir(assignment, student)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".incoming-{assignment}-", dir=target.parent))
    try:
        raw = staging / "raw"
        raw.mkdir()
        if kind == "zip":
            extract_zip(origin, raw)
        else:
            _copy_folder(origin, raw)
        root = _submission_root(raw, notebook)
        mtime = origin.stat().st_mtime
        stamp = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
        (root / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n", encoding="utf-8")
        count = sum(1 for p in root.rglob("*") if p.is_file())
        found = (f"{count} files" + ("" if (root / notebook).is_file() else f", but no {notebook}") +
                 ("" if (root / "cs231n_lib").is_dir() else ", no cs231n_lib/"))
        files.swap_in(root, target)
        return found
    finally:
        files.remove_tree(staging)


def _copy_folder(source: Path, destination: Path) -> None:
    for relative, path in regular_files(source, files.LIMITS.submission_files, files.LIMITS.submission_bytes):
        copy_regular_file(path, destination / relative)


def _submission_root(raw: Path, notebook: str) -> Path:
    """The folder holding the notebook (shallowest), else the single wrapping folder, else ``raw``."""
    candidates = sorted((p for p in raw.rglob(notebook) if p.is_file()), key=lambda p: len(p.parts))
    if candidates:
        return candidates[0].parent
    root = raw
    while True:
        entries = [e for e in root.iterdir()]
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "cs231n_lib":
            root = entries[0]
        else:
            return root

