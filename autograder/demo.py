"""The demo: release, a simulated class, sandboxed parallel grading, feedback, CSV, the grade table.

Everything goes under ``runs/grading-demo/`` (git-ignored): its own release and course
directory, so the committed ``assignments/`` and the real ``course/`` are left alone.
The class (one assignment, conv_pool by default; see :mod:`autograder.class_simulation`):
a reference solution, a partly correct student, the untouched stubs, an infinite loop and a
cheater, handed in the way an LMS gives them: one zip of per-student zips.
"""

import shutil
import time
import zipfile
from pathlib import Path

from .class_simulation import build_class
from .collect import collect
from .course import Layout
from .grading.batch import grade_class
from .grading.job import GradingOptions
from .nbgrader import export_csv
from .release import release
from .report import (export_gradescope, export_per_function_csv, grade_table, graded_results, integrity_report,
                     integrity_text, write_feedback, write_integrity_csv)
from .similarity import similarity_report
from .similarity.report import summary_lines, write_report

DEMO_CLASS = {"ada": "reference", "ben": "partial", "cy": "stubs", "dan": "infinite_loop", "eve": "cheater"}


def run_demo(root: Path, assignment: str = "conv_pool", jobs: int = 2, cell_timeout: int = 8,
             unsafe_no_sandbox: bool = False, log=print, kit: Path | None = None) -> dict[str, dict]:
    started = time.monotonic()
    root = Path(root).resolve()
    if root.exists():
        shutil.rmtree(root)
    layout = Layout.of_repo(kit).with_outputs(course_dir=root / "course", assignments_dir=root / "assignments")

    log(f"[demo] 1/6 release {assignment} into {layout.assignments_dir}")
    release(layout, [assignment], log=lambda line: None)

    log(f"[demo] 2/6 a simulated class: {', '.join(f'{s} ({k})' for s, k in DEMO_CLASS.items())}")
    folders = build_class(layout, assignment, DEMO_CLASS, root / "class")
    lms_zip = _as_lms_download(folders, root / "lms" / f"{assignment}_submissions.zip")

    log(f"[demo] 3/6 collect {lms_zip.name} (a zip of per-student zips)")
    collect(layout, assignment, [], class_downloads=[lms_zip], log=lambda line: log("       " + line))

    log(f"[demo] 4/6 grade in the sandbox, {jobs} at once (cells time out after {cell_timeout} s)")
    grade_class(layout, assignment, jobs=jobs, options=GradingOptions(cell_timeout=cell_timeout),
                unsafe_no_sandbox=unsafe_no_sandbox)

    log("[demo] 5/6 feedback, exports, integrity, similarity")
    reports = write_feedback(layout, assignment)
    csv_path = export_csv(layout)
    per_function = export_per_function_csv(layout, assignment)
    export_gradescope(layout, assignment)
    findings = integrity_report(layout, assignment)
    write_integrity_csv(layout, assignment, findings)
    similarity = similarity_report(layout, assignment)
    similarity_index = write_report(similarity, layout.similarity_dir(assignment))

    results = graded_results(layout, assignment)
    log(f"[demo] 6/6 grades of {assignment} ({time.monotonic() - started:.0f} s in all)\n")
    log(grade_table(results))
    log("\nIntegrity:\n" + integrity_text(findings))
    log("\n" + "\n".join(summary_lines(similarity, similarity_index)))
    log(f"\nFeedback: {len(reports)} reports, e.g. {reports[0] if reports else '-'}")
    log(f"Gradebook CSV: {csv_path}\nPer-function CSV: {per_function}")
    return results


def _as_lms_download(folders: dict[str, Path], destination: Path) -> Path:
    """One zip per student (``<student>_<number>_<assignment>.zip``), all in one outer zip."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    inner_dir = destination.parent / "per_student"
    inner_dir.mkdir(exist_ok=True)
    for number, (student, folder) in enumerate(sorted(folders.items()), start=1001):
        inner = inner_dir / f"{student}_{number}_submission.zip"
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, Path(folder.name) / path.relative_to(folder))
    with zipfile.ZipFile(destination, "w") as outer:
        for inner in sorted(inner_dir.glob("*.zip")):
            outer.write(inner, inner.name)
    return destination
