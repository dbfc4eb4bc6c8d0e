"""Fail closed: nothing the instructor hides may be in a release.

A release leaks when any file holds

- a marker word nbgrader uses (``BEGIN SOLUTION``, ``END HIDDEN TESTS``, ...), searched in
  the raw bytes of every file, binary or not;
- a line of a hidden test, a mark scheme or a notebook solution, or a line of the body of a
  library task (a solution region of ``cs231n_lib``), compared as whole stripped lines with
  the text lines of every file (each cell's source and outputs for notebooks).

Lines that the sources also show publicly (outside any region) cannot leak anything and are
not searched, nor are lines too short to mean anything (``pass``, ``)``, ``else:``).
"""

import dataclasses
import json
from pathlib import Path

from .markers import find_solution_regions
from .notebooks import NotebookText, REGION_WORDS, cell_lines, read_notebook, split_notebook_text
from .stubs import python_files

LEAK_WORDS = tuple(word for pair in REGION_WORDS.values() for word in pair)
MIN_DISTINCTIVE_LENGTH = 6


@dataclasses.dataclass(frozen=True)
class LeakRules:
    words: tuple[str, ...]
    lines: dict[str, str]   # stripped instructor-only line -> where it comes from


@dataclasses.dataclass(frozen=True)
class Leak:
    path: str       # relative to the scanned folder
    location: str   # "line 12" or "cell 3 line 2"
    what: str

    def __str__(self):
        return f"{self.path} {self.location}: {self.what}"


def collect_rules(notebooks: list[Path], lib_dir: Path) -> LeakRules:
    """What must not leak, from the source notebooks and the reference library."""
    text = NotebookText()
    for path in notebooks:
        split_notebook_text(read_notebook(path), Path(path).name, text)
    for path in python_files(lib_dir):
        _split_library_file(path, f"{Path(lib_dir).name}/{path.relative_to(lib_dir).as_posix()}", text)
    distinctive = {line: origin for line, origin in text.instructor_only.items()
                   if line not in text.public and _is_distinctive(line)}
    return LeakRules(words=LEAK_WORDS, lines=distinctive)


def scan_release(folder: Path, rules: LeakRules) -> list[Leak]:
    """Every leak in the files under ``folder`` (empty when the release is clean)."""
    folder = Path(folder)
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        leaks.extend(_word_leaks(relative, data, rules.words))
        for location, line in _text_lines(path, data):
            origin = rules.lines.get(line.strip())
            if origin is not None:
                leaks.append(Leak(relative, location, f"instructor-only line {line.strip()!r} (from {origin})"))
    return leaks


def _split_library_file(path: Path, name: str, text: NotebookText) -> None:
    source = path.read_bytes().decode("utf-8")
    lines = source.splitlines()
    inside = set()
    for region in find_solution_regions(source, name):
        inside.update(range(region.begin, region.end + 1))
    for number, line in enumerate(lines, start=1):
        if number in inside:
            text.instructor_only.setdefault(line.strip(), f"{name}:{number} (reference solution)")
        else:
            text.public.add(line.strip())


def _is_distinctive(line: str) -> bool:
    return len(line) >= MIN_DISTINCTIVE_LENGTH and any(ch.isalnum() for ch in line)


def _word_leaks(relative: str, data: bytes, words) -> list[Leak]:
    leaks = []
    for word in words:
        start = data.find(word.encode())
        while start != -1:
            line_number = data.count(b"\n", 0, start) + 1
            leaks.append(Leak(relative, f"line {line_number}", f"marker {word!r}"))
            start = data.find(word.encode(), start + 1)
    return leaks


def _text_lines(path: Path, data: bytes):
    """(location, line) for each text line: cell sources and outputs of a notebook, else the file's lines."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # binary: only the marker search applies
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(text)
        except json.JSONDecodeError:
            notebook = None
        if isinstance(notebook, dict):
            yield from _notebook_lines(notebook)
            return
    for number, line in enumerate(text.splitlines(), start=1):
        yield f"line {number}", line


def _notebook_lines(notebook: dict):
    for index, cell in enumerate(notebook.get("cells", [])):
        for number, line in enumerate(cell_lines(cell), start=1):
            yield f"cell {index} line {number}", line
        for output in cell.get("outputs", []):
            for chunk in _output_texts(output):
                for line in chunk.splitlines():
                    yield f"cell {index} output", line


def _output_texts(output: dict):
    if "text" in output:
        yield _joined(output["text"])
    for value in output.get("data", {}).values():
        if isinstance(value, (str, list)):
            yield _joined(value)
    if "traceback" in output:
        yield "\n".join(output["traceback"])


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)

