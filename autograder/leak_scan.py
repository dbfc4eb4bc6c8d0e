"""Fail closed: nothing the instructor hides may be in a release.

A release leaks when any file holds

- a marker word nbgrader uses (``BEGIN SOLUTION``, ``END HIDDEN TESTS``, ...), searched in
  the raw bytes of every file, binary or not;
- a path or command only the instructor's kit has (``solutions/``, ``tasks.toml``,
  ``make release``, ...: :data:`INSTRUCTOR_REFERENCES`), searched the same way;
- a line of a hidden test, a mark scheme or a notebook solution, or a line of the body of a
  library task (a solution region of ``cs231n_lib``), compared as whole stripped lines with
  the text lines of every file (each cell's source and outputs for notebooks).

Lines that the sources also show publicly (outside any region) cannot leak anything and are
not searched, nor are lines too short to mean anything (``pass``, ``)``, ``else:``).

The same lines guard what the grader shows students (feedback, exports): there the text was
produced by a run, so :class:`InstructorText` looks for them however disguised.
"""

import dataclasses
import json
import unicodedata
from pathlib import Path

from .markers import find_solution_regions
from .notebooks import NotebookText, REGION_WORDS, cell_lines, read_notebook, split_notebook_text
from .stubs import python_files

LEAK_WORDS = tuple(word for pair in REGION_WORDS.values() for word in pair)
# What only exists in the instructor's kit: a student bundle that names it points students
# at files they do not have (and says where the reference lives).
INSTRUCTOR_REFERENCES = ("tasks.toml", "solutions/", "gradebook.db", "make venv", "make test", "make release",
                         "python -m autograder")
MIN_DISTINCTIVE_LENGTH = 6


@dataclasses.dataclass(frozen=True)
class LeakRules:
    words: tuple[str, ...]
    lines: dict[str, str]   # stripped instructor-only line -> where it comes from
    references: tuple[str, ...] = INSTRUCTOR_REFERENCES


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
        leaks.extend(_word_leaks(relative, data, rules.references, what="a path or command of the instructor's kit"))
        for location, line in _text_lines(path, data):
            origin = rules.lines.get(line.strip())
            if origin is not None:
                leaks.append(Leak(relative, location, f"instructor-only line {line.strip()!r} (from {origin})"))
    return leaks


class InstructorText:
    """Instructor-only lines, recognised inside any text however they are disguised.

    Both sides are folded first (:func:`fold`: NFKC, invisible and format characters and all
    whitespace removed, case folded), so a zero-width space after each character, full-width
    letters or changed spacing hide nothing. Then a text quotes the instructor when it holds
    any ``WINDOW`` consecutive folded characters of a long line, or the whole of a shorter one
    (``SHORTEST`` characters at least: shorter lines are too common to mean anything).
    Residual risk: text recoded beyond that (translated, base64, one character per check
    name) is not recognised; see docs/autograder-sandbox.md for why it cannot carry hidden
    tests in the first place.
    """

    WINDOW = 20
    SHORTEST = 10

    def __init__(self, lines):
        self.windows: set[str] = set()
        self.short: set[str] = set()
        for line in lines:
            folded = fold(line)
            if len(folded) >= self.WINDOW:
                self.windows.update(folded[i:i + self.WINDOW] for i in range(len(folded) - self.WINDOW + 1))
            elif len(folded) >= self.SHORTEST:
                self.short.add(folded)

    def quoted_in(self, text) -> bool:
        folded = fold("" if text is None else str(text))
        if any(folded[i:i + self.WINDOW] in self.windows for i in range(len(folded) - self.WINDOW + 1)):
            return True
        return any(line in folded for line in self.short)


# Unicode categories that print nothing (format, control, unassigned, private use, surrogates,
# combining marks) or separate: dropped before comparing.
_INVISIBLE = {"Cf", "Cc", "Cn", "Co", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"}


def fold(text: str) -> str:
    """``text`` as compared for instructor-only content.

    >>> fold("a\u200bs s\u200be r t  ＴＲＵＥ")
    'asserttrue'
    """
    normal = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normal if not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE).casefold()


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


def _word_leaks(relative: str, data: bytes, words, what: str = "marker") -> list[Leak]:
    leaks = []
    for word in words:
        start = data.find(word.encode())
        while start != -1:
            line_number = data.count(b"\n", 0, start) + 1
            leaks.append(Leak(relative, f"line {line_number}", f"{what} {word!r}"))
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

