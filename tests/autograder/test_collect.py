"""collect: folders, student zips, a zip of zips; malicious zips are refused and nothing escapes."""

import dataclasses
import os
import stat
import zipfile
from pathlib import Path

import pytest

from autograder import files
from autograder.collect import collect, student_of_zip
from autograder.nbgrader import open_gradebook

from .conftest import new_layout

pytestmark = pytest.mark.slow   # collects zips of zips through nbgrader

NOTEBOOK = "ConvPool.ipynb"


def write_zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def honest_entries(prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{NOTEBOOK}": b"{}", f"{prefix}cs231n_lib/layers.py": b"x = 1\n"}


def test_student_ids_come_from_lms_zip_names():
    assert student_of_zip(Path("alice_1234_ConvPool.zip")) == "alice"
    assert student_of_zip(Path("bob.zip")) == "bob"


def test_folders_zips_and_a_zip_of_zips_all_land_in_submitted(tmp_path):
    layout = new_layout(tmp_path)
    folders = tmp_path / "folders"
    (folders / "ada" / "cs231n_lib").mkdir(parents=True)
    (folders / "ada" / NOTEBOOK).write_text("{}")
    (folders / "ada" / "cs231n_lib" / "layers.py").write_text("x = 1\n")
    (folders / "ada" / "link.py").symlink_to("/etc/passwd")             # never followed or kept
    single = write_zip(tmp_path / "ben_77_ConvPool.zip", honest_entries("conv_pool/"))   # wrapped in a folder
    inner = write_zip(tmp_path / "cy_1_x.zip", honest_entries())
    outer = tmp_path / "class.zip"
    with zipfile.ZipFile(outer, "w") as archive:
        archive.write(inner, "cy_1_x.zip")
        archive.writestr("__MACOSX/._cy_1_x.zip", b"junk")
    report = collect(layout, "conv_pool", [folders, single, outer], log=lambda line: None)
    assert sorted(report.collected) == ["ada", "ben", "cy"] and not report.refused
    for student in ("ada", "ben", "cy"):
        folder = layout.submitted_dir("conv_pool", student)
        assert (folder / NOTEBOOK).is_file() and (folder / "cs231n_lib" / "layers.py").is_file()
        assert (folder / "timestamp.txt").is_file()
    assert not (layout.submitted_dir("conv_pool", "ada") / "link.py").exists()
    with open_gradebook(layout.gradebook) as gradebook:
        assert sorted(s.id for s in gradebook.students) == ["ada", "ben", "cy"]


def test_collecting_again_replaces_a_submission_whole(tmp_path):
    layout = new_layout(tmp_path)
    write_zip(tmp_path / "ada.zip", {**honest_entries(), "old.py": b""})
    collect(layout, "conv_pool", [tmp_path / "ada.zip"], log=lambda line: None)
    write_zip(tmp_path / "ada.zip", honest_entries())
    collect(layout, "conv_pool", [tmp_path / "ada.zip"], log=lambda line: None)
    folder = layout.submitted_dir("conv_pool", "ada")
    assert not (folder / "old.py").exists() and (folder / NOTEBOOK).exists()
    assert [p.name for p in folder.parent.iterdir()] == ["conv_pool"]     # no staging left behind


@pytest.mark.parametrize("entries, symlinks, why", [
    ({"/etc/evil.py": b""}, None, "absolute"),
    ({"../../evil.py": b""}, None, "'..'"),
    ({"a\\..\\evil.py": b""}, None, "Windows"),
    ({NOTEBOOK: b"{}"}, {"cs231n_lib/layers.py": "/work/main/cs231n_lib/layers.py"}, "symlink"),
])
def test_malicious_zips_are_refused_and_write_nothing(tmp_path, entries, symlinks, why):
    layout = new_layout(tmp_path)
    bad = write_zip(tmp_path / "mallory_1.zip", entries, symlinks)
    good = write_zip(tmp_path / "ada_1.zip", honest_entries())
    report = collect(layout, "conv_pool", [bad, good], log=lambda line: None)
    assert list(report.collected) == ["ada"]
    assert any(why in reason for reason in report.refused.values()), report.refused
    assert not layout.submitted_dir("conv_pool", "mallory").exists()
    assert not (tmp_path / "evil.py").exists() and not Path("/etc/evil.py").exists()


def test_a_zip_bomb_is_stopped_while_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "LIMITS", dataclasses.replace(files.LIMITS, zip_total_bytes=2**20))
    layout = new_layout(tmp_path)
    bomb = write_zip(tmp_path / "mallory.zip", {NOTEBOOK: b"{}", "zeros.bin": bytes(4 * 2**20)})
    report = collect(layout, "conv_pool", [bomb], log=lambda line: None)
    assert not report.collected and "expands beyond" in " ".join(report.refused.values())
    assert not layout.submitted_dir("conv_pool", "mallory").exists()


def test_a_bad_student_id_is_refused(tmp_path):
    layout = new_layout(tmp_path)
    write_zip(tmp_path / ".hidden_1.zip", honest_entries())
    folders = tmp_path / "folders"
    (folders / "bad name").mkdir(parents=True)
    report = collect(layout, "conv_pool", [folders, tmp_path / ".hidden_1.zip"], log=lambda line: None)
    assert not report.collected and report.refused
    assert not os.path.exists(layout.course_dir / "submitted" / ".hidden")


def test_names_from_the_lms_zip_cannot_steer_the_instructors_terminal(tmp_path):
    """A zip entry named with escape sequences (erase the line above, reverse the text) is
    refused, and the log shows the sequences as escapes instead of running them."""
    layout = new_layout(tmp_path)
    hostile = "eve\x1b[1A\x1b[2K\u202e_1.zip"
    write_zip(tmp_path / "lms.zip", {hostile: write_zip(tmp_path / "inner.zip", honest_entries()).read_bytes()})
    printed = []
    report = collect(layout, "conv_pool", [tmp_path / "lms.zip"], log=printed.append)
    assert report.refused and not report.collected
    log = "\n".join(printed)
    assert "\x1b" not in log and "\u202e" not in log, log
    assert "\\x1b[1A\\x1b[2K\\u202e" in log, log


def test_folders_nested_beyond_the_limit_are_refused_and_the_others_collected(tmp_path):
    layout = new_layout(tmp_path)
    folders = tmp_path / "folders"
    (folders / "ada").mkdir(parents=True)
    (folders / "ada" / NOTEBOOK).write_text("{}")
    deep = folders / "eve"
    deep.mkdir()
    (deep / NOTEBOOK).write_text("{}")
    os.chdir(deep)
    try:
        for _ in range(files.LIMITS.depth + 5):    # nested deeper than any submission needs
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(tmp_path)
    deep_zip = write_zip(tmp_path / "fay.zip", {"/".join(["d"] * (files.LIMITS.depth + 5)) + "/x.py": b"1",
                                                NOTEBOOK: b"{}"})
    report = collect(layout, "conv_pool", [folders, deep_zip], log=lambda line: None)
    assert set(report.collected) == {"ada"}
    refused = " ".join(report.refused.values())
    assert refused.count(f"nested more than {files.LIMITS.depth}") == 2, report.refused
    assert not layout.submitted_dir("conv_pool", "eve").exists()
