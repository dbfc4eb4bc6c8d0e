"""Bring submissions into nbgrader's ``course/submitted/<student>/<assignment>/`` and register students.

Accepted sources (any mix, several at once):

- a folder of student folders: ``<dir>/<student>/...``;
- a folder of LMS zips, or single zips: ``<student>.zip`` or ``<student>_<anything>.zip`` (the
  student id is the name up to the first underscore);
- the whole-class download of an LMS (one zip of such zips), named as such by the instructor
  (``class_downloads``, ``--class-download``): only there is a zip read as a zip of zips.

One submission never touches another student's folder: a student's id comes from the outer
entry only (the folder's or the zip's name, or the class download's entry), and what is inside
a student's zip or folder is that student's files. A zip inside a submission is refused (it
would otherwise read as another student's upload, named as the uploader chose). Several
submissions of one student in one collect: the one handed in last (by the LMS's time stamp,
:func:`handed_in_at`) is collected and the others are reported; with no latest one, none.

Each submission is unpacked or copied into a staging folder beside its target, checked,
and swapped in with renames, so a submission is never half replaced. Inside a submission
the folder holding the assignment's notebook becomes the submission's root (zips often
wrap everything in a folder). Links are never followed or kept; sizes are capped
(:mod:`autograder.files`). A refused submission is reported with its reason and the
others go on.
"""

import dataclasses
import datetime
import itertools
import re
import tempfile
import zipfile
from pathlib import Path

from .nbgrader import open_gradebook, register_students
from .course import Layout
from .cli_support import for_terminal
from .grading.results import check_student_id
from . import files
from .files import UnsafeArchiveError, UnsafeFileError, copy_regular_file, extract_zip, regular_files, zip_members

# Blackboard names a download ``<assignment>_<student>_attempt_2026-12-01-10-30-00_<file>``.
ATTEMPT_STAMP = re.compile(r"_attempt_(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})")


@dataclasses.dataclass
class CollectReport:
    collected: dict[str, str] = dataclasses.field(default_factory=dict)   # student -> what was found
    refused: dict[str, str] = dataclasses.field(default_factory=dict)     # source name -> why


@dataclasses.dataclass(frozen=True)
class Submission:
    """One upload found in the sources: whose it is (from the outer entry's name), and when it was handed in."""
    student: str
    origin: Path                      # a zip, or a folder
    kind: str                         # "zip" | "folder"
    name: str                         # the outer entry's name, for the log
    handed_in: datetime.datetime      # UTC


def collect(layout: Layout, assignment_name: str, sources: list[Path], log=print,
            class_downloads: list[Path] = ()) -> CollectReport:
    """Collect ``sources`` (folders, student zips) and ``class_downloads`` (the LMS's zips of zips)."""
    assignment = layout.catalog().get(assignment_name)
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="cs231n-collect-") as scratch:
        found = list(_submissions(sources, class_downloads, Path(scratch), report))
        found.sort(key=lambda submission: submission.student)
        for student, uploads in itertools.groupby(found, key=lambda submission: submission.student):
            chosen = _latest(list(uploads), report)
            if chosen is None:
                continue
            try:
                check_student_id(student)
                what = _install(layout, assignment_name, assignment.notebook, chosen)
            except (ValueError, UnsafeArchiveError, UnsafeFileError, OSError) as error:
                report.refused[f"{chosen.name} ({student})"] = str(error)
                continue
            report.collected[student] = what
    if report.collected:
        with open_gradebook(layout.gradebook) as gradebook:
            register_students(gradebook, sorted(report.collected))
    for student, what in sorted(report.collected.items()):
        log(f"collect: {student}: {for_terminal(what)}")
    for name, why in sorted(report.refused.items()):   # names from the LMS's zip: the students' own
        log(f"collect: refused {for_terminal(name)}: {for_terminal(why)}")
    return report


def student_of_zip(path: Path) -> str:
    """``alice_12345_ConvPool.zip`` -> ``alice``; ``alice.zip`` -> ``alice``."""
    return Path(path).name[:-len(".zip")].split("_", 1)[0]


def handed_in_at(name: str, fallback: datetime.datetime) -> datetime.datetime:
    """When an upload was handed in: the LMS's attempt stamp in its ``name`` if there is one, else
    ``fallback`` (the class download's entry date, or the downloaded file's modification time)."""
    stamp = ATTEMPT_STAMP.search(name)
    if stamp:
        try:
            return datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d-%H-%M-%S").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            pass
    return fallback


def _latest(uploads: list[Submission], report: CollectReport) -> Submission | None:
    """The upload handed in last; the others are reported. None (all reported) when two share the latest time."""
    uploads = sorted(uploads, key=lambda upload: upload.handed_in)
    latest = uploads[-1]
    tied = [upload for upload in uploads if upload.handed_in == latest.handed_in]
    if len(tied) > 1:
        for upload in uploads:
            report.refused[f"{upload.name} ({upload.student})"] = (
                f"{len(uploads)} submissions of this student, {len(tied)} handed in last at the same time "
                f"({_stamp(latest.handed_in)}): which one to grade cannot be told; collect that one alone")
        return None
    for upload in uploads[:-1]:
        report.refused[f"{upload.name} ({upload.student})"] = (
            f"an earlier submission of this student (handed in {_stamp(upload.handed_in)}); the latest, "
            f"{latest.name} (handed in {_stamp(latest.handed_in)}), was collected")
    return latest


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _modified(path: Path) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(path.lstat().st_mtime, datetime.timezone.utc)


def _entry_date(info: zipfile.ZipInfo) -> datetime.datetime:
    """The date the LMS gave an entry of its download (zip dates carry no zone: read as UTC)."""
    try:
        return datetime.datetime(*info.date_time, tzinfo=datetime.timezone.utc)
    except ValueError:   # an impossible date: the earliest, so any dated upload of the same student wins
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def _submissions(sources: list[Path], class_downloads: list[Path], scratch: Path, report: CollectReport):
    """Yields a :class:`Submission` for every upload found in ``sources`` and ``class_downloads``."""
    for source in sources:
        source = Path(source)
        if source.is_symlink():
            report.refused[source.name] = "a symlink; give the file or folder itself"
        elif source.is_file() and source.suffix == ".zip":
            yield _student_zip(source)
        elif source.is_dir():
            for entry in sorted(source.iterdir()):
                if entry.is_symlink() or entry.name.startswith("."):
                    continue
                if entry.is_file() and entry.suffix == ".zip":
                    yield _student_zip(entry)
                elif entry.is_dir():
                    yield Submission(entry.name, entry, "folder", entry.name, handed_in_at(entry.name, _modified(entry)))
        else:
            report.refused[source.name] = "expected a folder of student folders or zips, or a .zip file"
    for download in class_downloads:
        yield from _from_class_download(Path(download), scratch, report)


def _student_zip(path: Path) -> Submission:
    return Submission(student_of_zip(path), path, "zip", path.name, handed_in_at(path.name, _modified(path)))


def _from_class_download(path: Path, scratch: Path, report: CollectReport):
    """The uploads in an LMS's whole-class download: each entry ``<student>_*.zip`` (the student from
    the entry's name), or ``<student>_*/<file>.zip`` (from the folder's: the file is named by the student)."""
    if path.is_symlink() or not path.is_file() or path.suffix != ".zip":
        report.refused[path.name] = "expected the LMS's whole-class download: a .zip file of student zips"
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = zip_members(archive)
        outer = Path(tempfile.mkdtemp(prefix="class-", dir=scratch))
        extract_zip(path, outer)
    except (zipfile.BadZipFile, OSError) as error:
        report.refused[path.name] = f"not a readable zip file: {error}"
        return
    except UnsafeArchiveError as error:
        report.refused[path.name] = str(error)
        return
    for info, member in members:
        entry = outer.joinpath(*member.parts)
        handed_in = handed_in_at(member.name, _entry_date(info))
        if member.suffix != ".zip" or len(member.parts) > 2:
            report.refused[f"{path.name}: {member}"] = ("expected <student>_*.zip, or <student>_*/<file>.zip, "
                                                        "in the class download")
        elif len(member.parts) == 1:
            yield Submission(student_of_zip(member), entry, "zip", member.as_posix(), handed_in)
        else:
            folder = member.parts[0]
            yield Submission(folder.split("_", 1)[0], entry, "zip", member.as_posix(),
                             handed_in_at(folder, handed_in))


def _install(layout: Layout, assignment: str, notebook: str, submission: Submission) -> str:
    target = layout.submitted_dir(assignment, submission.student)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".incoming-{assignment}-", dir=target.parent))
    try:
        raw = staging / "raw"
        raw.mkdir()
        if submission.kind == "zip":
            extract_zip(submission.origin, raw)
        else:
            _copy_folder(submission.origin, raw)
        inner = sorted(path.relative_to(raw).as_posix() for path in raw.rglob("*.zip"))
        if inner:
            raise UnsafeArchiveError(f"holds another zip ({inner[0]}): a submission is the student's own files, "
                                     f"not an archive of archives; unzip it and collect the files")
        root = _submission_root(raw, notebook)
        (root / "timestamp.txt").write_text(_stamp(submission.handed_in) + "\n", encoding="utf-8")
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

