"""``python -m autograder similarity``: the files it writes, its errors, and hostile submissions."""

import csv
import os
import re
import time

import pytest

from autograder.__main__ import main
from autograder.similarity.report import PAIR_COLUMNS, REFERENCE_COLUMNS

from .class_builder import REFERENCE_COPY, STUBS, build_class

HOSTILE_TEXT = '"</pre><script>alert(1)</script><img src=x onerror=alert(2)>"'


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """ann and bob share; zed copied ann and put hostile text in a string; cat copied the reference."""
    layout = build_class(tmp_path_factory.mktemp("similarity_cli"),
                         {"ann": "ann", "bob": "bob", "cat": REFERENCE_COPY, "dee": "dee", "zed": "ann"})
    layers = layout.submitted_dir("conv_pool", "zed") / "cs231n_lib" / "layers.py"
    text = layers.read_text(encoding="utf-8")
    marker = "    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=\"constant\")\n"
    assert marker in text
    layers.write_text(text.replace(marker, f"    note = {HOSTILE_TEXT}  # <b>bold</b>\n" + marker, 1), encoding="utf-8")
    return layout


def run(capsys, *argv):
    status = main(["similarity", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_report_files(course, capsys):
    status, out, _ = run(capsys, "conv_pool", "--course-dir", course.course_dir)
    assert status == 0
    folder = course.similarity_dir("conv_pool")
    assert f"similarity: {folder / 'index.html'}" in out
    with open(folder / "pairs.csv", newline="", encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    assert list(pairs[0]) == PAIR_COLUMNS and len(pairs) == 10
    flagged = {frozenset((row["student_a"], row["student_b"])) for row in pairs if row["flagged"] == "yes"}
    assert flagged == {frozenset(p) for p in (("ann", "bob"), ("ann", "zed"), ("bob", "zed"))}
    assert all((folder / row["page"]).is_file() for row in pairs if row["flagged"])
    assert "layers.conv_backward_naive 1.00" in pairs[0]["by_function"]
    with open(folder / "reference.csv", newline="", encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))
    assert list(reference[0]) == REFERENCE_COLUMNS and reference[0]["student"] == "cat"
    assert [row["student"] for row in reference if row["flagged"]] == ["cat"]
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert re.search(r"Threshold: 0\.\d\d</b> \(calibrated: class median", index) and "classic_loops.py" in index


def test_student_text_is_escaped_and_pages_load_nothing(course, capsys):
    assert run(capsys, "conv_pool", "--course-dir", course.course_dir)[0] == 0
    folder = course.similarity_dir("conv_pool")
    pages = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.html")}
    zed_pages = [text for text in pages.values() if "zed" in text and "&lt;script&gt;" in text]
    assert zed_pages, "the hostile line should be shown, escaped, beside ann's"
    for name, text in pages.items():
        assert "<script" not in text and "<img" not in text and "<b>bold" not in text, name
        assert "default-src 'none'" in text and "http://" not in text and "https://" not in text, name


def test_a_second_run_replaces_the_report(course, capsys):
    folder = course.similarity_dir("conv_pool")
    (folder / "stale.html").parent.mkdir(parents=True, exist_ok=True)
    (folder / "stale.html").write_text("old", encoding="utf-8")
    status, out, _ = run(capsys, "conv_pool", "--course-dir", course.course_dir, "--threshold", "0.99")
    assert status == 0 and "threshold 0.99 (given)" in out
    assert not (folder / "stale.html").exists()
    assert not any(p.name.startswith(".") for p in folder.parent.iterdir())   # no staging left behind
    assert not list(folder.glob("pair-*.html"))   # nothing reaches 0.99


def test_without_the_corpus(course, capsys):
    status, out, _ = run(capsys, "conv_pool", "--course-dir", course.course_dir, "--no-independent")
    assert status == 0 and "3 pair(s) flagged, 1 close to the reference" in out


@pytest.mark.parametrize("argv, expected", [
    (["nope"], "unknown assignment 'nope': tasks.toml lists conv_pool, im2col"),
    (["conv_pool", "--threshold", "0"], "--threshold must be in (0, 1]"),
    (["conv_pool", "--independent", "/nonexistent/corpus"], "expected a folder of .py files"),
])
def test_bad_arguments_say_what_was_expected(course, capsys, argv, expected):
    status, _, err = run(capsys, *argv, "--course-dir", course.course_dir)
    assert status == 1 and expected in err


def test_no_submissions_says_where_they_were_expected(tmp_path, capsys):
    status, _, err = run(capsys, "conv_pool", "--course-dir", tmp_path / "course")
    assert status == 1
    assert "no submissions of conv_pool" in err and "submitted" in err and "collect" in err


def test_hostile_files_are_skipped_with_a_note(tmp_path, capsys):
    layout = build_class(tmp_path, {"ann": "ann", "bob": "bob", "lnk": STUBS, "big": STUBS, "bin": STUBS,
                                    "deep": STUBS, "odd": "dee"})
    lib = lambda student: layout.submitted_dir("conv_pool", student) / "cs231n_lib" / "layers.py"  # noqa: E731
    lib("lnk").unlink()
    os.symlink("/etc/passwd", lib("lnk"))                                       # a link to a host file
    lib("big").write_text("x = 1\n" * 600_000, encoding="utf-8")               # 3.6 MB: over the cap
    (layout.submitted_dir("conv_pool", "bin") / "ConvPool.ipynb").write_bytes(bytes(range(256)) * 1000)  # binary
    lib("deep").write_text("x = " + "-" * 200_000 + "1\n", encoding="utf-8")     # a parser stress test
    notebook = layout.submitted_dir("conv_pool", "odd") / "ConvPool.ipynb"
    notebook.write_text(notebook.read_text(encoding="utf-8").replace('"cell_type": "code"', '"cell_type": 7', 1),
                        encoding="utf-8")                                       # a malformed cell
    started = time.monotonic()
    status, out, _ = run(capsys, "conv_pool", "--course-dir", layout.course_dir)
    assert status == 0 and time.monotonic() - started < 20
    assert "note: lnk: cs231n_lib/layers.py: skipped, cs231n_lib/layers.py: missing or a link" in out
    assert "note: big: cs231n_lib/layers.py: skipped" in out and "larger than the limit" in out
    assert "note: bin: ConvPool.ipynb: skipped, not a readable notebook" in out
    assert "note: deep: cs231n_lib/layers.py: skipped" in out
    assert "0.8" in out.split("\n")[1] and "ann  bob  FLAGGED" in out   # the rest of the class is still compared
