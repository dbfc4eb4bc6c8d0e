"""The student bundle: one assignment as a folder and a zip that a student uses alone.

nbgrader's release of an assignment (the stub notebook, the stubbed library, the data
script) becomes a bundle when the files a student needs outside the kit are added:

- ``README.md``: the two commands from unpacking to the first check, how to work, submit;
- ``requirements.txt``: what the notebook imports, with the kit's version ranges (from
  ``pyproject.toml``), and JupyterLab; CuPy stays optional (the README says how);
- ``setup.sh``: ``.venv/`` with the requirements, nbgrader's instructor tools hidden;
- ``submit.py``: packs exactly what the grader reads (the notebook, the library files that
  hold tasks, the assignment's ``extra_files``); refuses a notebook that has not been run;
- ``bring_earlier_work.py`` (when earlier assignments have tasks): copies the student's own
  finished files from their earlier assignment folders.

The scripts are templates in ``bundle_files/`` with a settings block that the release fills
in for each assignment. The folder is ``assignments/<a>/`` (committed); the zip,
``dist/<a>.zip`` (git-ignored), has the same bytes for the same folder.
"""

import shlex
import string
import tomllib
import zipfile
from pathlib import Path

from cs231n_lib.notebook_utils import STUB_PATTERN

from .course import REPO_ROOT, Layout, is_ignored
from .files import LIMITS
from .tasks import Assignment, Catalog

TEMPLATES = Path(__file__).resolve().parent / "bundle_files"
SETTINGS_BEGIN = "# --- settings: written by the course's release for this assignment ---"
SETTINGS_END = "# --- end of settings ---"
# What students install from the kit's dependencies (pyproject.toml), and the front end they use.
STUDENT_PACKAGES = ("numpy", "matplotlib", "tqdm", "threadpoolctl", "nbgrader")
JUPYTERLAB = "jupyterlab>=4,<5"
# Every entry of a zip gets this time, so the same folder always gives the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

DATA_TEXT = ("Notebooks that train on CIFAR-10 load it by themselves. Get it once, after `sh setup.sh`, "
             "with `bash datasets/get_datasets.sh` (about 170 MB, checked against its checksum, into "
             "`datasets/`). The loader also finds a copy your course published (`$CS231N_COURSE_DATA`, "
             "default `/srv/cs231n/data`), one you point `$CS231N_DATA` at, and one in a `datasets/` "
             "folder above this one (so assignment folders unpacked side by side can share one copy).")


def add_student_files(folder: Path, layout: Layout, catalog: Catalog, assignment: Assignment) -> list[str]:
    """Write the bundle's own files into the released ``folder``; returns their names."""
    earlier = earlier_assignments(catalog, assignment)
    own_files = sorted(catalog.student_files())
    packed = ", ".join([f"`{assignment.notebook}`"] + [f"`{layout.lib_name}/{name}`" for name in own_files]
                       + [f"`{name}` when it exists" for name in assignment.extra_files])
    written = {
        "README.md": string.Template(_template("README.md")).substitute(
            title=assignment.title, notebook=assignment.notebook, assignment=assignment.name,
            earlier_work=_earlier_work_text(earlier), packed=packed,
            data_text=DATA_TEXT),
        "requirements.txt": requirements_text(layout.pyproject if layout.pyproject.is_file()
                                              else REPO_ROOT / "pyproject.toml"),
        "setup.sh": with_settings(_template("setup.sh"), {"NOTEBOOK": assignment.notebook}, shell=True),
        "submit.py": with_settings(_template("submit.py"), {
            "ASSIGNMENT": assignment.name, "NOTEBOOK": assignment.notebook, "LIBRARY": layout.lib_name,
            "LIBRARY_FILES": own_files, "EXTRA_FILES": list(assignment.extra_files),
            "MAX_FILE_BYTES": LIMITS.zip_file_bytes, "MAX_TOTAL_BYTES": LIMITS.submission_bytes}),
    }
    if earlier:
        written["bring_earlier_work.py"] = with_settings(_template("bring_earlier_work.py"), {
            "ASSIGNMENT": assignment.name, "LIBRARY": layout.lib_name, "STUB_PATTERN": STUB_PATTERN.pattern})
    for name, text in written.items():
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755 if name.endswith((".sh", ".py")) else 0o644)
    return sorted(written)


def earlier_assignments(catalog: Catalog, assignment: Assignment) -> list[Assignment]:
    """The assignments before ``assignment`` in tasks.toml that have library tasks."""
    names = catalog.names()
    return [a for a in catalog.assignments[:names.index(assignment.name)] if a.tasks]


def requirements_text(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    """requirements.txt: the student's packages with the kit's version ranges, and JupyterLab."""
    dependencies = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]["dependencies"]
    by_name = {_package_name(spec): spec for spec in dependencies}
    missing = [name for name in STUDENT_PACKAGES if name not in by_name]
    if missing:
        raise ValueError(f"{pyproject}: expected dependencies {', '.join(missing)}, which students install too")
    lines = ["# What this assignment needs: sh setup.sh installs it into .venv/.",
             *(by_name[name] for name in STUDENT_PACKAGES if name != "nbgrader"),
             JUPYTERLAB,
             "# nbgrader: only for the notebook's Validate button (setup.sh hides its instructor tools).",
             by_name["nbgrader"],
             "# Optional, on a machine with an NVIDIA GPU: cupy-cuda12x>=13 (see README.md)."]
    return "\n".join(lines) + "\n"


def with_settings(template: str, settings: dict, shell: bool = False) -> str:
    """``template`` with the lines between its settings markers replaced by ``settings``."""
    lines = template.splitlines(keepends=True)
    try:
        begin = next(i for i, line in enumerate(lines) if line.strip() == SETTINGS_BEGIN)
        end = next(i for i, line in enumerate(lines) if line.strip() == SETTINGS_END)
    except StopIteration:
        raise ValueError(f"a bundle template lacks its settings markers {SETTINGS_BEGIN!r} / {SETTINGS_END!r}") from None
    if shell:
        body = [f"{name}={shlex.quote(str(value))}\n" for name, value in settings.items()]
    else:
        body = [f"{name} = {value!r}\n" for name, value in settings.items()]
    return "".join(lines[:begin + 1] + body + lines[end:])


def write_zip(folder: Path, destination: Path, top: str) -> Path:
    """Zip ``folder`` as ``top/...``: sorted entries, fixed times and modes, so the same folder gives the same bytes."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for path in sorted(p for p in Path(folder).rglob("*")
                           if p.is_file() and not is_ignored(p.relative_to(folder))):   # no caches, checkpoints
            info = zipfile.ZipInfo(f"{top}/{path.relative_to(folder).as_posix()}", date_time=ZIP_TIME)
            info.external_attr = (0o100755 if path.stat().st_mode & 0o100 else 0o100644) << 16
            info.create_system = 3   # unix, so the modes above are read back
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    partial.replace(destination)
    return destination


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _earlier_work_text(earlier: list[Assignment]) -> str:
    if not earlier:
        return ""
    folders = " ".join(f"../{a.name}" for a in earlier)
    return ("\n## Your earlier work\n\n"
            f"This assignment runs functions you wrote in {', '.join(a.name for a in earlier)}. "
            "This folder's `cs231n_lib/` has stubs for them; bring your own files over with\n\n"
            f"```bash\n.venv/bin/python bring_earlier_work.py {folders}\n```\n\n"
            "(the folders where you did those assignments), or copy the files by hand. The notebook's "
            "first cells check that they are here and name the files still missing.\n")


def _package_name(spec: str) -> str:
    for index, character in enumerate(spec):
        if not (character.isalnum() or character in "-_."):
            return spec[:index].strip().lower()
    return spec.strip().lower()
