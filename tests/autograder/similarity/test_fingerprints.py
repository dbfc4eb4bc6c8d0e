"""Tokens, normalization, canonical order and winnowing: what counts as the same code."""

import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.course import REPO_ROOT
from autograder.similarity.normalize import (SourceError, Token, canonical_stream, parse_source, statement_keys,
                                             statements_of, token_statements)
from autograder.similarity.winnowing import fingerprint, kgram_hashes, winnow

REPO = REPO_ROOT


def stream(code: str, starter: str | None = None) -> list[str]:
    """The compared tokens of ``code`` (module statements), without the statements of ``starter``."""
    parsed = parse_source(textwrap.dedent(code), "code")
    given = set()
    if starter is not None:
        starter_parsed = parse_source(textwrap.dedent(starter), "starter")
        given = statement_keys(statements_of(starter_parsed, starter_parsed.tree.body))
    tokens, _ = canonical_stream(parsed, statements_of(parsed, parsed.tree.body), given, 10_000)
    return [token.text for token in tokens]


def test_renamed_variables_are_the_same_code():
    assert stream("padded = np.pad(x, 1)\nout = padded.sum(axis=0)\n") == \
           stream("xp_ = numpy.pad(inputs, 1)\nresult = xp_.sum(axis=0)\n")


def test_layout_comments_and_trailing_commas_are_not_code():
    one = "out = f(a, b)  # call f\n"
    other = "# a comment line\nout = f(\n    a,\n    b,\n)\n"
    assert stream(one) == stream(other)


def test_literals_are_normalized_but_methods_and_keywords_stay():
    assert stream("y = x.sum(axis=0) + 'a'\n") == ["ID", "=", "ID", ".", "sum", "(", "axis", "=", "NUM", ")",
                                                   "+", "STR"]
    assert stream("y = x.sum(axis=0)\n") != stream("y = x.max(axis=0)\n")       # the operation differs
    assert stream("y = x.sum(axis=0)\n") != stream("y = x.sum(keepdims=0)\n")
    assert stream("for i in range(n): pass\n")[:4] == ["for", "ID", "in", "range"]   # builtins stay


def test_independent_statements_swapped_are_the_same_code():
    one = "dw = np.zeros_like(w)\ndb = np.zeros_like(b)\nfor i in range(n):\n    dw += i\n    db += i\n"
    swapped = "db = np.zeros_like(b)\ndw = np.zeros_like(w)\nfor i in range(n):\n    db += i\n    dw += i\n"
    assert stream(one) == stream(swapped)


def test_dependent_statements_keep_their_order():
    one = "a = x.sum()\nb = a.max()\n"
    reordered = "b = a.max()\na = x.sum()\n"   # a different program: b reads a
    assert stream(one) != stream(reordered)
    independent = "b = y.max()\na = x.sum()\n"
    assert stream(independent) == stream("a = x.sum()\nb = y.max()\n")


def test_starter_statements_are_left_out():
    starter = "def f(x):\n    out = None\n    raise NotImplementedError('f')\n    return out\n"
    student = "def f(x):\n    out = None\n    out = x * 2\n    return out\n"
    assert stream(student, starter) == ["ID", "=", "ID", "*", "NUM"]


def test_code_that_does_not_parse_keeps_its_tokens_in_order():
    parsed = parse_source("x = (1 +\n     2)\ny = x +\n", "cell", require_ast=False)
    assert parsed.tree is None
    statements = token_statements(parsed)
    assert [" ".join(parsed.normalized[i] for i in s.own) for s in statements] == ["ID = ( NUM + NUM )", "ID = ID +"]


def test_untokenizable_code_is_a_source_error():
    with pytest.raises(SourceError, match="cannot tokenize"):
        parse_source("x = '''never closed\n", "cell")
    with pytest.raises(SourceError, match="does not parse"):
        parse_source("def f(x) return x\n", "file.py")


def test_winnowing_picks_the_rightmost_minimum_of_each_window():
    # The example of Schleimer, Wilkerson and Aiken (2003), Figure 2: fingerprints 17 17 8 39 17.
    hashes = [77, 74, 42, 17, 98, 50, 17, 98, 8, 88, 67, 39, 77, 74, 42, 17, 98]
    assert [hashes[i] for i in winnow(hashes, 4)] == [17, 17, 8, 39, 17]
    assert winnow([5, 3], 4) == [1]
    assert winnow([], 4) == []


@given(st.lists(st.sampled_from("abcdefgh"), min_size=0, max_size=40),
       st.lists(st.sampled_from("abcdefgh"), min_size=11, max_size=30),
       st.lists(st.sampled_from("abcdefgh"), min_size=0, max_size=40))
def test_a_shared_run_of_k_plus_window_minus_one_tokens_always_shares_a_fingerprint(prefix, shared, suffix):
    one = [Token(t, 1) for t in prefix + shared]
    other = [Token(t, 1) for t in shared + suffix]
    assert fingerprint(one, k=8, window=4).hashes & fingerprint(other, k=8, window=4).hashes


def test_kgram_hashes_are_the_same_in_every_process():
    # BLAKE2b, not Python's hash() of a string, which is salted per process.
    code = "from autograder.similarity.winnowing import kgram_hashes; print(kgram_hashes(list('abcdef'), 3))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert runs == {f"{kgram_hashes(list('abcdef'), 3)}\n"}
