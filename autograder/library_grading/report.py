"""A library result as plain text for the student: score per function, each check, what to fix.

The HTML feedback of the course builds on the same result JSON; this text is what a student
sees of the library checks. It holds names of checks, points and diagnoses, which by
construction name shapes, positions and kinds of error, never hidden input values.
"""


def feedback_text(result: dict) -> str:
    lines = [f"{result['assignment']}: library checks {_points(result['score'])} / {_points(result['max_score'])}"]
    if result.get("error"):
        lines.append(f"  {result['error']}")
    for function in result["functions"]:
        lines.append(f"\n{function['task']}: {_points(function['score'])} / {_points(function['max_score'])}")
        for check in function["checks"]:
            mark = "ok " if check["passed"] else "---"
            lines.append(f"  [{mark}] {check['name']} ({_points(check['score'])}/{_points(check['points'])})")
            if not check["passed"] and check["diagnosis"] and check["diagnosis"] != result.get("error"):
                lines.append(f"        {check['diagnosis']}")
        for note in function.get("notes", []):
            lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


def _points(value: float) -> str:
    return f"{value:g}"
