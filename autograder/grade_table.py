"""The grade table printed after grading: one line per student, from the result files."""


def grade_table(results: dict[str, dict]) -> str:
    """Aligned text: student, notebook, library, total, and what went wrong.

    >>> print(grade_table({}))
    (no graded students)
    """
    if not results:
        return "(no graded students)"
    rows = [("student", "notebook", "library", "total", "notes")]
    for student, result in sorted(results.items()):
        notebook, library = result["notebook"], result.get("library")
        rows.append((student, f"{notebook['score']:g}/{notebook['max_score']:g}",
                     f"{library['score']:g}/{library['max_score']:g}" if library else "-",
                     f"{result['score']:g}/{result['max_score']:g}", _notes(result)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


def _notes(result: dict) -> str:
    notes = []
    notebook = result["notebook"]
    if notebook.get("held"):
        notes.append("notebook held for review (integrity)")
    statuses = [cell["status"] for cell in notebook["cells"]]
    if "timeout" in statuses:
        notes.append(f"{statuses.count('timeout')} cell(s) timed out")
    run = notebook.get("run") or {}
    if run.get("status") not in (None, "ok"):
        notes.append(f"notebook run: {run.get('description')}")
    library = result.get("library") or {}
    library_run = library.get("run") or {}
    if library.get("error"):
        notes.append(f"library: {library['error'][:60]}")
    elif library_run.get("status") not in (None, "ok"):
        notes.append(f"library run: {library_run.get('status')}")
    if not result.get("sandboxed", True):
        notes.append("NOT SANDBOXED")
    return "; ".join(notes)
