"""Pack this assignment for submission: python submit.py

Writes <assignment>_submission.zip beside this script, holding exactly what the course's
grader reads: the notebook, your files of cs231n_lib/ that hold tasks, and the extra files
the notebook asks for when they exist. Refuses a notebook that has not been run (run every
cell and save first; a run that stopped at an error counts), and says which test cells did
not pass their public checks.
Standard library only, so it runs with any python3.
"""

import json
import sys
import zipfile
from pathlib import Path

# --- settings: written by the course's release for this assignment ---
ASSIGNMENT = 'conv_pool'
NOTEBOOK = 'ConvPool.ipynb'
LIBRARY = 'cs231n_lib'
LIBRARY_FILES = ['classifiers/cnn.py', 'fast_layers.py', 'im2col.py', 'layers.py']
EXTRA_FILES = []
MAX_FILE_BYTES = 52428800
MAX_TOTAL_BYTES = 104857600
# --- end of settings ---

HERE = Path(__file__).resolve().parent


class SubmissionError(Exception):
    """Something to fix before submitting; the message says what."""


def grade_cells(notebook):
    """The notebook's test cells (nbgrader grade cells with code), in order."""
    return [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"
            and cell.get("metadata", {}).get("nbgrader", {}).get("grade")]


def cell_name(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")


def public_verdict(cell):
    """None when the cell's public checks all passed, else why not (from its saved outputs)."""
    points = float(cell["metadata"]["nbgrader"].get("points", 0))
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"stopped with {output.get('ename')}: {str(output.get('evalue', '')).splitlines()[0][:120]}"
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "wrote to stderr (nbgrader gives such a cell 0 points)"
        if output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            try:
                value = float(text)
            except ValueError:
                return None   # not a score: the cell ran to its end, which counts as passing
            shown = "".join(output.get("data", {}).get("text/markdown", "")).strip("* \n")
            return None if value >= points else (shown or f"{value:g} / {points:g} points")
    return None


def code_cells(notebook):
    return [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]


def stopped_at(cells):
    """The index of the first code cell whose run raised (Run All stops there), or None."""
    for index, cell in enumerate(cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return index
    return None


def check_notebook(path):
    """The notebook's verdict lines; raises SubmissionError when it has not been run.

    Run, here, means: every code cell ran, up to the first one that raised if one did
    (JupyterLab's Run All stops there; the grader runs every cell anyway).
    """
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SubmissionError(f"{path.name} cannot be read as a notebook: {error}") from None
    cells, tests = code_cells(notebook), grade_cells(notebook)
    stop = stopped_at(cells)
    must_have_run = cells if stop is None else cells[:stop + 1]
    not_run = [cell for cell in must_have_run if cell.get("execution_count") is None]
    if not_run or not cells:
        names = [cell_name(cell) for cell in tests if cell.get("execution_count") is None]
        raise SubmissionError(
            f"{path.name} has not been run: {len(not_run)} of its {len(cells)} code cells have no result"
            + (f" (test cells {', '.join(names)})" if names else "")
            + ". Run every cell (Kernel > Restart Kernel and Run All Cells), save the notebook, then run this again.")
    failed = [(cell_name(cell), why) for cell in tests if cell.get("execution_count") is not None
              and (why := public_verdict(cell)) is not None]
    skipped = [cell_name(cell) for cell in tests if cell.get("execution_count") is None]
    if not failed and not skipped:
        return ["all public checks passed; hidden checks run at grading"]
    lines = [f"public checks not passed in {len(failed) + len(skipped)} of {len(tests)} test cells (you can "
             f"still submit; these cells lose points):"] + [f"  {name}: {why}" for name, why in failed]
    if skipped:
        error = next(o for o in cells[stop]["outputs"] if o.get("output_type") == "error")
        lines.append(f"  not run, after the run stopped with {error.get('ename')}: {', '.join(skipped)}")
    return lines


def files_to_pack():
    """(path inside the zip, file) of everything the grader reads; raises SubmissionError on a missing file."""
    files = [(NOTEBOOK, HERE / NOTEBOOK)]
    for relative in LIBRARY_FILES:
        path = HERE / LIBRARY / relative
        if not path.is_file():
            raise SubmissionError(f"{LIBRARY}/{relative} is missing: it holds functions the grader checks")
        files.append((f"{LIBRARY}/{relative}", path))
    files += [(name, HERE / name) for name in EXTRA_FILES if (HERE / name).is_file()]
    total = 0
    for name, path in files:
        if path.is_symlink() or not path.is_file():
            raise SubmissionError(f"{name} must be a plain file, not a link")
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            raise SubmissionError(f"{name} is {size / 2**20:.1f} MB; the grader accepts up to "
                                  f"{MAX_FILE_BYTES / 2**20:g} MB per file")
    if total > MAX_TOTAL_BYTES:
        raise SubmissionError(f"the files add up to {total / 2**20:.1f} MB; the grader accepts up to "
                              f"{MAX_TOTAL_BYTES / 2**20:g} MB")
    return files


def pack(destination):
    """Write the submission zip; returns the verdict lines."""
    verdict = check_notebook(HERE / NOTEBOOK)
    files = files_to_pack()
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            archive.write(path, name)
    partial.replace(destination)
    return verdict + [f"wrote {destination.name}: {', '.join(name for name, _ in files)}",
                      "upload that file as your submission."]


def main(argv):
    if argv:
        print("usage: python submit.py   (packs this folder's notebook and library files)", file=sys.stderr)
        return 2
    try:
        lines = pack(HERE / f"{ASSIGNMENT}_submission.zip")
    except SubmissionError as error:
        print(f"not packed: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
