"""docs/notes-checklist.md says what its cells hold, and its counts are the table's.

Every row of the checklist is one item of the CS231n ConvNet notes. Its "covered by" column is a
``; ``-separated list of evidence, each a reference in backticks followed by the phrases or numbers
it is cited for, in double quotes::

    `ConvPool.ipynb#convpool-text-04` "54.25"; `cs231n_lib.architecture.ALEXNET_CONV1` "CONV11-96/s4/p0"

A reference is a cell of an instructor notebook in solutions/ (by cell id), a library object
(its source), a test function (its source) or a docs page (its text). Each quoted phrase must
occur in its target (case-insensitive, runs of whitespace collapsed, numbers with or without
thousands separators, a comma or Python's underscore), so a row cannot claim what its pointer
does not hold. A ``covered`` row points at something a student meets: a notebook cell, or a
library object a notebook uses; a ``partial`` row says in its item what is missing.
"""

import ast
import importlib
import inspect
import re
from functools import cache

import nbformat
import pytest

from .kit import REPO, solution_notebooks

CHECKLIST = REPO / "docs" / "notes-checklist.md"
STATUSES = ("covered", "partial", "missing")
MIN_ITEMS = 80

SECTION = re.compile(r"^##\s+(.+?)\s*$")
ROW = re.compile(r"^\|\s*(\d+)\s*\|(.*)\|\s*$")
CELL_REF = re.compile(r"^(\w+\.ipynb)#([\w-]+)$")
TEST_REF = re.compile(r"^(tests/[\w/]+\.py)::(\w+)$")
DOC_REF = re.compile(r"^docs/[\w.-]+\.md$")
LIBRARY_REF = re.compile(r"^cs231n_lib(\.\w+)+$")
# One piece of evidence: `reference` "phrase", "phrase", ...
EVIDENCE = re.compile(r'^`([^`]+)`\s+("[^"]+"(?:\s*,\s*"[^"]+")*)$')
PHRASE = re.compile(r'"([^"]+)"')
COUNTS = re.compile(r"\*\*(\d+) items: (\d+) covered, (\d+) partial, (\d+) missing\.\*\*")


# ---------------------------------------------------------------------------------------------
# Reading the checklist


def rows(text=None):
    """[(section, number, item, numbers, covered_by, status)] in the order of the file."""
    text = CHECKLIST.read_text(encoding="utf-8") if text is None else text
    found, section = [], None
    for line in text.splitlines():
        if match := SECTION.match(line):
            section = match.group(1)
        elif match := ROW.match(line):
            # A "|" inside a cell is written "\|" in Markdown; it does not split the row.
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", match.group(2))]
            assert len(cells) == 4, f"row {match.group(1)}: expected item | numbers | covered by | status, got {cells}"
            found.append((section, int(match.group(1)), *cells))
    return found


def sections():
    return list(dict.fromkeys(row[0] for row in rows()))


def parse_evidence(covered_by):
    """``covered by`` -> [(reference, [phrase, ...])]; raises ValueError naming a malformed piece."""
    if not covered_by:
        return []
    evidence = []
    # "; " separates two pieces only before the next reference: a phrase may hold "; " itself.
    for piece in re.split(r";\s+(?=`)", covered_by):
        match = EVIDENCE.match(piece.strip())
        if not match:
            raise ValueError(f"{piece!r} is not `reference` \"phrase\", \"phrase\", ...")
        evidence.append((match.group(1), PHRASE.findall(match.group(2))))
    return evidence


# ---------------------------------------------------------------------------------------------
# What a reference points at


@cache
def notebook_cells():
    """{notebook file name: {cell id: cell}} of the instructor notebooks."""
    return {path.name: {cell.id: cell for cell in nbformat.read(path, as_version=nbformat.NO_CONVERT).cells}
            for path in solution_notebooks()}


@cache
def notebook_code():
    """The code cells of every instructor notebook, joined: what a notebook calls."""
    return "\n".join(cell.source for cells in notebook_cells().values() for cell in cells.values()
                     if cell.cell_type == "code")


def resolve_library(reference):
    """(module, object) for ``reference``: import the longest module prefix, then follow attributes."""
    parts = reference.split(".")
    for split in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        target = module
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return module, target
    raise ModuleNotFoundError(reference)


def library_source(reference):
    """The source of a library function, class or module; for a constant, its assignment."""
    module, target = resolve_library(reference)
    if inspect.ismodule(target) or inspect.isclass(target) or inspect.isroutine(target):
        return inspect.getsource(target)
    name = reference.rsplit(".", 1)[1]
    source = inspect.getsource(module)
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return ast.get_source_segment(source, node)
    raise LookupError(f"{reference} is a value with no assignment of its own in {module.__name__}")


def function_source(path, function):
    """The source of one function of a test file."""
    tree_source = (REPO / path).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(tree_source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            return ast.get_source_segment(tree_source, node)
    raise LookupError(f"no test {function} in {path}")


def target_text(reference):
    """The text a reference points at; LookupError (or an import error) says why there is none."""
    if match := CELL_REF.match(reference):
        notebook, cell_id = match.groups()
        cells = notebook_cells()
        if notebook not in cells:
            raise LookupError(f"no instructor notebook {notebook}")
        if cell_id not in cells[notebook]:
            raise LookupError(f"no cell {cell_id!r} in {notebook}")
        return cells[notebook][cell_id].source
    if match := TEST_REF.match(reference):
        path, function = match.groups()
        if not (REPO / path).is_file():
            raise LookupError(f"no file {path}")
        return function_source(path, function)
    if DOC_REF.match(reference):
        if not (REPO / reference).is_file():
            raise LookupError(f"no page {reference}")
        return (REPO / reference).read_text(encoding="utf-8")
    if LIBRARY_REF.match(reference):
        return library_source(reference)
    raise LookupError(f"{reference!r} is not a notebook cell, test, docs page or library name")


def reaches_a_student(reference):
    """A notebook cell, or a library object whose name a notebook's code uses."""
    if CELL_REF.match(reference):
        return True
    if LIBRARY_REF.match(reference):
        name = reference.rsplit(".", 1)[1]
        return re.search(rf"\b{re.escape(name)}\b", notebook_code()) is not None
    return False


# ---------------------------------------------------------------------------------------------
# Matching a phrase


def normalized(text):
    """Lower case, Markdown escapes and code quotes dropped, runs of whitespace as one space, 73,728 as 73728.

    Backticks go so that a phrase quoted in the table need not nest a code span in a code span.
    """
    text = re.sub(r"\\([*_|`\\])", r"\1", text.lower()).replace("`", "")
    text = re.sub(r"(?<=\d)[,_](?=\d{3}(?!\d))", "", text)  # 73,728 and Python's 73_728
    return re.sub(r"\s+", " ", text).strip()


def phrase_problems(reference, phrases):
    """What does not hold in one piece of evidence: [] when the target holds every phrase."""
    try:
        text = normalized(target_text(reference))
    except (LookupError, ImportError, AttributeError, OSError, TypeError) as error:
        return [f"`{reference}` does not resolve: {error}"]
    return [f"`{reference}` does not contain {phrase!r}" for phrase in phrases if normalized(phrase) not in text]


def row_problems(number, item, covered_by, status):
    """Everything wrong with one row: its status, the shape of its evidence, every phrase."""
    if status not in STATUSES:
        return [f"row {number}: status {status!r}, expected one of {STATUSES}"]
    try:
        evidence = parse_evidence(covered_by)
    except ValueError as error:
        return [f"row {number}: {error}"]
    problems = []
    if status == "partial" and "missing" not in item.lower():
        problems.append(f"row {number} is partial: say in the item what is missing (\"Missing: ...\")")
    if status != "missing" and not evidence:
        problems.append(f"row {number} is {status}: name the evidence")
    if status == "covered" and not any(reaches_a_student(reference) for reference, _ in evidence):
        problems.append(f"row {number} is covered: cite a notebook cell or a library object a notebook "
                        f"uses (developer tests alone make it partial at best)")
    for reference, phrases in evidence:
        problems += [f"row {number}: {problem}" for problem in phrase_problems(reference, phrases)]
    return problems


# ---------------------------------------------------------------------------------------------
# The checklist


def test_the_checklist_has_every_item_numbered_in_order():
    numbers = [row[1] for row in rows()]
    assert len(numbers) >= MIN_ITEMS, f"{len(numbers)} items; the notes have about {MIN_ITEMS}"
    assert numbers == list(range(1, len(numbers) + 1)), "rows must be numbered 1, 2, 3, ... in order"


@pytest.mark.parametrize("section", sections())
def test_every_row_holds_when_its_pointers_are_opened(section):
    problems = []
    for row_section, number, item, _, covered_by, status in rows():
        if row_section == section:
            if not item:
                problems.append(f"row {number}: no item")
            problems += row_problems(number, item, covered_by, status)
    assert not problems, f"{section}:\n" + "\n".join(problems)


def test_every_inline_question_is_in_the_checklist():
    text = CHECKLIST.read_text(encoding="utf-8")
    missing = [f"{notebook}#{cell_id}" for notebook, cells in notebook_cells().items()
               for cell_id in sorted(cells) if "-question-" in cell_id and f"`{notebook}#{cell_id}`" not in text]
    assert not missing, f"inline questions the checklist does not name: {missing}"


def test_the_stated_counts_are_the_table_s():
    statuses = [row[5] for row in rows()]
    actual = (len(statuses), *(statuses.count(status) for status in STATUSES))
    stated = f"**{actual[0]} items: {actual[1]} covered, {actual[2]} partial, {actual[3]} missing.**"
    print(f"\nnotes checklist: {stated}")
    match = COUNTS.search(CHECKLIST.read_text(encoding="utf-8"))
    assert match, f"the checklist states its counts as '**N items: C covered, P partial, M missing.**'; the table has {stated}"
    assert tuple(int(n) for n in match.groups()) == actual, f"the table has {stated}"


# ---------------------------------------------------------------------------------------------
# The checks above can fail


@pytest.mark.parametrize("reference, phrases, problem", [
    # A phrase the target holds, and one it does not: the second is reported by name.
    ("cs231n_lib.geometry.conv_output_size", ["stride"], None),
    ("cs231n_lib.geometry.conv_output_size", ["honeycomb and wheel"], "does not contain 'honeycomb and wheel'"),
    # The separator is optional on both sides: the table's 105,705,600 is the source's 105_705_600.
    ("tests/test_architecture.py::test_alexnet_first_layer_with_and_without_parameter_sharing", ["105,705,600"], None),
    ("tests/test_architecture.py::test_alexnet_first_layer_with_and_without_parameter_sharing", ["105705600"], None),  # the source says 105_705_600,
    ("tests/test_architecture.py::test_alexnet_first_layer_with_and_without_parameter_sharing", ["105,705,601"], "does not contain"),
    # References that point nowhere.
    ("ConvPool.ipynb#convpool-no-such-cell", ["x"], "no cell 'convpool-no-such-cell'"),
    ("tests/test_architecture.py::test_no_such_test", ["x"], "no test test_no_such_test"),
    ("docs/no-such-page.md", ["x"], "no page"),
    ("cs231n_lib.layers.no_such_layer", ["x"], "does not resolve"),
    ("cs231n_lib.no_module.f", ["x"], "does not resolve"),
    ("Notes.ipynb", ["x"], "is not a notebook cell"),
])
def test_a_phrase_is_checked_in_its_target(reference, phrases, problem):
    problems = phrase_problems(reference, phrases)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize("text, phrase, holds", [
    ("VGG: 73728 weights", "73,728", True),
    ("VGG: 73,728 weights", "73728", True),
    ("VGG: 73_728 weights", "73,728", True),
    ("a 3,4 pair", "34", False),              # a comma that is no thousands separator stays
    ("W  =\n 5", "w = 5", True),              # case and runs of whitespace
    (r"(3\*3\*64)\*128", "(3*3*64)*128", True),  # Markdown escapes
    ("is `X[x, y, :]`", "is X[x, y, :]", True),    # code quotes
])
def test_normalized_matching(text, phrase, holds):
    assert (normalized(phrase) in normalized(text)) is holds


@pytest.mark.parametrize("item, covered_by, status, problem", [
    ("item", '`ConvPool.ipynb#convpool-text-volumes` "3072"', "covered", None),
    ("item", '`ConvPool.ipynb#convpool-text-volumes`', "covered", "is not `reference`"),
    ("item", '`ConvPool.ipynb#convpool-text-volumes` "3072"', "existing", "status 'existing'"),
    ("item", '`tests/test_architecture.py::test_alexnet_first_layer_with_and_without_parameter_sharing` "34944"', "covered", "is covered: cite"),
    ("item. Missing: a check", '`tests/test_architecture.py::test_alexnet_first_layer_with_and_without_parameter_sharing` "34944"', "partial", None),
    ("item", '`ConvPool.ipynb#convpool-text-volumes` "3072"', "partial", "say in the item what is missing"),
    ("item. Missing: all", '', "partial", "name the evidence"),
    ("item", '', "missing", None),
])
def test_a_row_s_status_and_evidence_are_checked(item, covered_by, status, problem):
    problems = row_problems(0, item, covered_by, status)
    if problem is None:
        assert problems == []
    else:
        assert problems and problem in problems[0], problems


def test_a_phrase_in_a_table_cell_may_hold_an_escaped_bar():
    table = "## S\n| # | item | numbers | covered by | status |\n|---|---|---|---|---|\n" \
            '| 1 | a \\| b | | `docs/library.md` "x" | covered |\n'
    assert rows(table) == [("S", 1, "a \\| b", "", '`docs/library.md` "x"', "covered")]


@pytest.mark.parametrize("reference, resolves", [
    ("cs231n_lib.layers.conv_forward_naive", True), ("cs231n_lib.layers.no_such_layer", False),
    ("cs231n_lib.classifiers.convnet.check_layer_pattern", True), ("cs231n_lib.no_module.f", False),
])
def test_library_references_resolve_only_when_they_exist(reference, resolves):
    try:
        resolve_library(reference)
    except (ImportError, AttributeError):
        assert not resolves
    else:
        assert resolves
