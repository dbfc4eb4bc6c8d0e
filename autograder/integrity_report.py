"""The integrity report of an assignment: static findings plus what the grading runs recorded."""

import csv
import io
from pathlib import Path

from .grading_layout import GradingLayout
from .integrity import Finding, recorded_findings, scan_submission
from .notebook_spec import load_catalog_of
from .files import write_bytes_atomically
from .student_grading import read_results


def integrity_report(layout: GradingLayout, assignment_name: str) -> dict[str, list[Finding]]:
    """{student: findings} for every submission of the assignment (students without findings too)."""
    assignment = load_catalog_of(layout.kit).get(assignment_name)
    results = read_results(layout, assignment_name)
    report = {}
    for student in layout.students_with_submissions(assignment_name):
        findings = scan_submission(layout.submitted_dir(assignment_name, student),
                                   layout.release_dir(assignment_name), assignment.notebook)
        report[student] = findings + recorded_findings(results.get(student))
    return report


def write_integrity_csv(layout: GradingLayout, assignment: str, report: dict[str, list[Finding]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "kind", "hold", "where", "what"])
    for student, findings in sorted(report.items()):
        for finding in findings:
            writer.writerow([student, finding.kind, "yes" if finding.hold else "no", finding.where, finding.what])
    path = layout.exports_dir / assignment / "integrity.csv"
    write_bytes_atomically(path, buffer.getvalue().encode("utf-8"))
    return path


def integrity_text(report: dict[str, list[Finding]]) -> str:
    lines = []
    for student, findings in sorted(report.items()):
        if not findings:
            lines.append(f"{student}: nothing flagged")
            continue
        held = any(f.hold for f in findings)
        lines.append(f"{student}: {len(findings)} finding(s){' - notebook held for review' if held else ''}")
        for finding in findings[:20]:
            lines.append(f"  [{finding.kind}] {finding.where}: {finding.what}")
        if len(findings) > 20:
            lines.append(f"  ... and {len(findings) - 20} more (see the CSV)")
    return "\n".join(lines) or "(no submissions)"
