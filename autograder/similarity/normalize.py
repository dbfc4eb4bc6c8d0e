"""Code as the similarity report compares it: normalized tokens, in a canonical statement order.

Two pieces of code count as the same when they differ only in what copying usually changes:

- **names**: every identifier a student chose (variables, parameters, module aliases such as
  ``np``/``xp``) becomes ``ID``; Python keywords, builtins (``range``, ``len``), attribute names
  (``.reshape``, ``.sum``) and keyword-argument names (``axis=``) stay, since a renaming
  cannot change them and they say what the code does;
- **literals**: every number becomes ``NUM``, every string ``STR``;
- **layout and comments**: Python's ``tokenize`` drops them (line breaks inside brackets,
  spacing, indentation, comments), and a trailing comma before a closing bracket is dropped;
- **the order of independent statements**: in every block, statements are put in one
  canonical order (the smallest by normalized text among those whose inputs are ready), so
  swapping two statements where neither writes a name the other reads or writes gives the
  same stream. Statements that depend on each other keep their order.

The starter code the release gives (the function's signature, docstring, checks and
``raise NotImplementedError``) is not the student's: a statement whose exact tokens appear in
the release's version of the same function or cell is left out (``given`` lines).
"""

import ast
import bisect
import builtins
import dataclasses
import io
import keyword
import tokenize
from collections.abc import Callable

NAME_TOKEN, NUMBER_TOKEN, STRING_TOKEN = "ID", "NUM", "STR"
_LAYOUT_TYPES = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                 tokenize.ENCODING, tokenize.ENDMARKER}
# Soft keywords (match, case, _) are ordinary names outside a match statement: normalized.
_KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(n for n in dir(builtins) if not n.startswith("_"))
_CLOSING = {")", "]", "}"}
_BARRIERS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Global, ast.Nonlocal)
# A block longer than this keeps its written order (the canonical order costs O(n^2)).
MAX_BLOCK_TO_ORDER = 400


class SourceError(Exception):
    """Code the report cannot read as Python (it says where and why)."""


@dataclasses.dataclass(frozen=True)
class Token:
    """One normalized token: ``text`` is what is compared, ``line`` where it came from (1-based)."""
    text: str
    line: int


@dataclasses.dataclass
class Statement:
    """One statement of a unit: its own tokens (the header of a compound statement) and its blocks."""
    own: list[int]                   # indices into the unit's token list, in source order
    blocks: list[list["Statement"]]  # bodies (body, orelse, handlers, finalbody, cases)
    reads: frozenset[str]
    writes: frozenset[str]
    barrier: bool                    # return/raise/break...: nothing moves across it
    given_key: tuple[str, ...]       # exact token strings: how the release's starter code is recognized
    order_key: str = ""              # normalized text of the whole statement, for the canonical order
    mentions: tuple[str, ...] = ()   # names it may call a helper by, in source order: names read,
                                     # attribute names (``module.helper``), identifier strings (``globals()["helper"]``)


@dataclasses.dataclass(frozen=True)
class ParsedSource:
    """A file or cell: its text (newlines normalized), raw and normalized tokens, and its AST (or None)."""
    text: str
    raw: list[tokenize.TokenInfo]    # significant tokens only (no layout, no comments)
    normalized: list[str]            # same length as ``raw``
    tree: ast.Module | None


def parse_source(text: str, where: str, require_ast: bool = True) -> ParsedSource:
    """Tokenize and parse ``text``. Without ``require_ast``, code that does not parse keeps its tokens.

    >>> parsed = parse_source("out = np.maximum(x, 0)  # relu\\n", "cell")
    >>> " ".join(parsed.normalized)
    'ID = ID . maximum ( ID , NUM )'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        raw = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
               if t.type not in _LAYOUT_TYPES and not (t.type == tokenize.ERRORTOKEN and not t.string.strip())]
    except (tokenize.TokenError, SyntaxError) as error:
        raise SourceError(f"{where}: cannot tokenize: {error}") from None
    try:
        tree = ast.parse(text, where)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        if require_ast:
            detail = str(error) or "nested too deeply"
            raise SourceError(f"{where}: does not parse as Python: {type(error).__name__}: {detail}") from None
        tree = None
    return ParsedSource(text=text, raw=raw, normalized=normalize_tokens(raw), tree=tree)


def normalize_tokens(raw: list[tokenize.TokenInfo]) -> list[str]:
    """The compared text of each token (see the module docstring); a dropped token becomes ``""``.

    >>> toks = parse_source("y = f(a, axis=0, )\\n", "t").raw
    >>> normalize_tokens(toks)
    ['ID', '=', 'ID', '(', 'ID', ',', 'axis', '=', 'NUM', '', ')']
    """
    out, depth = [], 0
    for index, token in enumerate(raw):
        text = token.string
        following = raw[index + 1].string if index + 1 < len(raw) else ""
        if token.type == tokenize.NAME:
            after_dot = index > 0 and raw[index - 1].string == "."
            keyword_argument = depth > 0 and following == "="
            if not (text in _KEPT_NAMES or after_dot or keyword_argument):
                text = NAME_TOKEN
        elif token.type == tokenize.NUMBER:
            text = NUMBER_TOKEN
        elif token.type == tokenize.STRING:
            text = STRING_TOKEN
        elif token.type == tokenize.OP:
            if text in ("(", "[", "{"):
                depth += 1
            elif text in _CLOSING:
                depth = max(0, depth - 1)
            elif text == "," and following in _CLOSING:
                text = ""   # a trailing comma is layout
        out.append(text)
    return out


# ----------------------------------------------------------------------------- statements

def statements_of(parsed: ParsedSource, nodes: list[ast.AST]) -> list[Statement]:
    """The statement trees of ``nodes`` (statements of ``parsed.tree``), with their tokens assigned.

    Every token inside a node's span belongs to the innermost statement around it; the tokens
    of a compound statement that lie in none of its bodies (``for i in range(n):``, ``else:``)
    are its own.
    """
    lines = parsed.text.split("\n")
    starts = [t.start for t in parsed.raw]
    return [_statement(node, parsed, lines, starts) for node in nodes]


def token_statements(parsed: ParsedSource) -> list[Statement]:
    """Flat statements from logical lines, for code that does not parse (order kept: all barriers)."""
    statements, current, last_line = [], [], None
    for index, token in enumerate(parsed.raw):
        # parse_source drops NEWLINE tokens: a logical line starts on a new line outside brackets
        if current and token.start[0] != last_line and _bracket_depth(parsed.raw, current) == 0:
            statements.append(_flat_statement(current, parsed))
            current = []
        current.append(index)
        last_line = parsed.raw[index].end[0]
    if current:
        statements.append(_flat_statement(current, parsed))
    return statements


def statement_keys(statements: list[Statement]) -> set[tuple[str, ...]]:
    """The ``given_key`` of every statement of the trees, at every depth."""
    keys = set()
    for statement in statements:
        keys.add(statement.given_key)
        for block in statement.blocks:
            keys |= statement_keys(block)
    return keys


def canonical_stream(parsed: ParsedSource, statements: list[Statement], given: set[tuple[str, ...]],
                     limit: int, inline: Callable[[Statement], list[Token]] | None = None, line_shift: int = 0
                     ) -> tuple[list[Token], set[int]]:
    """(normalized tokens in canonical order without the starter code, lines of the starter code).

    ``inline(statement)``, when given, returns the tokens of the helpers a statement mentions: they
    follow the statement, so code moved into a helper stays where it was used. ``line_shift`` is
    added to the line of every token and starter line of ``parsed`` (not to inlined tokens, which
    come with their own). At most ``limit`` tokens are kept.
    """
    stream: list[Token] = []
    given_lines: set[int] = set()

    def emit(block: list[Statement]):
        for statement in canonical_order(block):
            if statement.given_key in given:
                for i in statement.own:   # a docstring spans several lines
                    first, last = parsed.raw[i].start[0], parsed.raw[i].end[0]
                    given_lines.update(range(first + line_shift, last + 1 + line_shift))
            else:
                stream.extend(Token(parsed.normalized[i], parsed.raw[i].start[0] + line_shift)
                              for i in statement.own if parsed.normalized[i])
            for inner in statement.blocks:
                emit(inner)
            if inline is not None and statement.mentions and len(stream) <= limit:
                stream.extend(inline(statement))

    emit(statements)
    return stream[:limit], given_lines


def canonical_order(block: list[Statement]) -> list[Statement]:
    """The block's statements, each time taking the smallest (by normalized text) whose predecessors are placed.

    Statement j must follow statement i < j when one writes a name the other reads or writes,
    or when either is a barrier. Swapping two adjacent independent statements changes none of
    these constraints, so the result does not change.
    """
    if len(block) > MAX_BLOCK_TO_ORDER:
        return list(block)
    waiting_on = [{i for i in range(j) if _depends(block[i], block[j])} for j in range(len(block))]
    placed: set[int] = set()
    order = []
    while len(order) < len(block):
        ready = [j for j in range(len(block)) if j not in placed and waiting_on[j] <= placed]
        chosen = min(ready, key=lambda j: (block[j].order_key, j))
        placed.add(chosen)
        order.append(block[chosen])
    return order


def _depends(first: Statement, second: Statement) -> bool:
    return (first.barrier or second.barrier
            or bool(first.writes & (second.reads | second.writes))
            or bool(second.writes & first.reads))


def _statement(node: ast.AST, parsed: ParsedSource, lines: list[str], starts: list) -> Statement:
    begin, end = _span(node, lines)
    inside = range(bisect.bisect_left(starts, begin), bisect.bisect_left(starts, end))
    blocks = [[_statement(child, parsed, lines, starts) for child in block] for block in _blocks(node)]
    taken = set()
    for child in (c for block in _blocks(node) for c in block):
        child_begin, child_end = _span(child, lines)
        taken.update(range(bisect.bisect_left(starts, child_begin), bisect.bisect_left(starts, child_end)))
    own = [i for i in inside if i not in taken]
    reads, writes, mentions = _names(node)
    statement = Statement(own=own, blocks=blocks, reads=reads, writes=writes,
                          barrier=isinstance(node, _BARRIERS),
                          given_key=tuple(parsed.raw[i].string for i in own))
    statement.order_key = " ".join([parsed.normalized[i] for i in own] +
                                   [s.order_key for block in blocks for s in block])
    statement.mentions = tuple(dict.fromkeys(name for _, name in sorted(mentions)))
    return statement


def _flat_statement(indices: list[int], parsed: ParsedSource) -> Statement:
    return Statement(own=indices, blocks=[], reads=frozenset(), writes=frozenset(), barrier=True,
                     given_key=tuple(parsed.raw[i].string for i in indices),
                     order_key=" ".join(parsed.normalized[i] for i in indices))


def _bracket_depth(raw, indices) -> int:
    depth = 0
    for i in indices:
        if raw[i].string in ("(", "[", "{"):
            depth += 1
        elif raw[i].string in _CLOSING:
            depth -= 1
    return depth


def _blocks(node: ast.AST) -> list[list[ast.AST]]:
    """The statement lists directly inside ``node`` (except handlers and match cases count as statements)."""
    blocks = []
    for field in ("body", "handlers", "orelse", "finalbody", "cases"):
        value = getattr(node, field, None)
        if isinstance(value, list) and value and isinstance(value[0], (ast.stmt, ast.excepthandler, ast.match_case)):
            blocks.append(value)
    return blocks


def _span(node: ast.AST, lines: list[str]) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start, end) of a node as tokenize counts them: line 1-based, column in characters."""
    if isinstance(node, ast.match_case):   # match cases carry no position of their own
        first, last = node.pattern, node.body[-1]
    else:
        first = node.decorator_list[0] if getattr(node, "decorator_list", None) else node
        last = node
    return (_character_position(lines, first.lineno, first.col_offset),
            _character_position(lines, last.end_lineno, last.end_col_offset))


def _character_position(lines: list[str], line: int, byte_column: int) -> tuple[int, int]:
    # ast counts columns in UTF-8 bytes, tokenize in characters.
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return line, len(text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))


def _names(node: ast.AST) -> tuple[frozenset[str], frozenset[str], list[tuple[tuple[int, int], str]]]:
    """(names read, names written, mentions) anywhere in ``node``; assigning into ``a[i]`` or ``a.b`` writes ``a``.

    A mention is ((line, column), name) for every name read, attribute name and string that is an identifier:
    whatever a helper can be reached by (``helper(x)``, ``run = helper``, ``module.helper``, ``globals()["helper"]``).
    """
    reads, writes, mentions = set(), set(), []
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
            mentions.append(((inner.lineno, inner.col_offset), inner.id))
        elif isinstance(inner, ast.Attribute):
            mentions.append(((inner.lineno, inner.col_offset), inner.attr))
        elif isinstance(inner, ast.Constant) and isinstance(inner.value, str) and inner.value.isidentifier():
            mentions.append(((inner.lineno, inner.col_offset), inner.value))
        if isinstance(inner, ast.Name):
            (reads if isinstance(inner.ctx, ast.Load) else writes).add(inner.id)
        elif isinstance(inner, (ast.Subscript, ast.Attribute)) and not isinstance(inner.ctx, ast.Load):
            base = inner
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                writes.add(base.id)
        elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            writes.add(inner.name)
        elif isinstance(inner, (ast.Import, ast.ImportFrom)):
            writes.update((alias.asname or alias.name).split(".")[0] for alias in inner.names)
    return frozenset(reads), frozenset(writes), mentions
