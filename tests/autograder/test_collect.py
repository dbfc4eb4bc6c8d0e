"""collect: folders, student zips, a zip of zips; malicious zips are refused and nothing escapes."""

import dataclasses
import datetime
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
    report = collect(layout, "conv_pool", [folders, single], class_downloads=[outer], log=lambda line: None)
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
    report = collect(layout, "conv_pool", [], class_downloads=[tmp_path / "lms.zip"], log=printed.append)
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


def notebook_of(layout, student: str) -> bytes:
    return (layout.submitted_dir("conv_pool", student) / NOTEBOOK).read_bytes()


def test_a_zip_inside_a_students_zip_never_replaces_a_classmate(tmp_path):
    """Before: mallory's upload holding only a zip named after ada was read as a zip of zips, and
    ada's own submission was replaced by mallory's copy ("the later one in name order was kept")."""
    layout = new_layout(tmp_path)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    write_zip(downloads / "ada_1_ConvPool.zip", {NOTEBOOK: b'{"by": "ada"}', "cs231n_lib/layers.py": b"x = 1\n"})
    planted = write_zip(tmp_path / "ada_9_ConvPool.zip", {NOTEBOOK: b'{"by": "mallory"}'})
    write_zip(downloads / "mallory_2_ConvPool.zip", {"ada_9_ConvPool.zip": planted.read_bytes()})
    write_zip(downloads / "trudy_3_ConvPool.zip", {**honest_entries(), "ben_4.zip": planted.read_bytes()})
    report = collect(layout, "conv_pool", [downloads], log=lambda line: None)
    assert notebook_of(layout, "ada") == b'{"by": "ada"}'
    assert sorted(report.collected) == ["ada"]
    assert not layout.submitted_dir("conv_pool", "ben").exists()
    for attacker in ("mallory", "trudy"):
        assert not layout.submitted_dir("conv_pool", attacker).exists()
        reason = next(why for name, why in report.refused.items() if name.endswith(f"({attacker})"))
        assert "holds another zip" in reason, report.refused
    # The whole-class download is read as a zip of zips only when the instructor names it so;
    # even there an upload's own inner zips are its uploader's files.
    class_zip = write_zip(tmp_path / "class.zip", {name: (downloads / name).read_bytes()
                                                   for name in ("ada_1_ConvPool.zip", "mallory_2_ConvPool.zip")})
    report = collect(layout, "conv_pool", [], class_downloads=[class_zip], log=lambda line: None)
    assert sorted(report.collected) == ["ada"] and notebook_of(layout, "ada") == b'{"by": "ada"}'
    assert "holds another zip" in report.refused["mallory_2_ConvPool.zip (mallory)"]


def test_a_zip_of_zips_not_named_as_the_class_download_is_one_students_and_refused(tmp_path):
    layout = new_layout(tmp_path)
    inner = write_zip(tmp_path / "ada_1.zip", honest_entries())
    class_zip = write_zip(tmp_path / "class.zip", {"ada_1.zip": inner.read_bytes()})
    report = collect(layout, "conv_pool", [class_zip], log=lambda line: None)
    assert not report.collected and "unzip it" in report.refused["class.zip (class)"]


def test_two_uploads_of_one_student_the_latest_handed_in_is_collected_whatever_the_names(tmp_path):
    """Before: the later one in name order was kept, here the earlier upload."""
    layout = new_layout(tmp_path)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    latest = write_zip(downloads / "ada_1_ConvPool.zip", {NOTEBOOK: b'{"upload": "latest"}'})
    earlier = write_zip(downloads / "ada_2_ConvPool.zip", {NOTEBOOK: b'{"upload": "earlier"}'})
    os.utime(earlier, (1_700_000_000, 1_700_000_000))
    os.utime(latest, (1_700_000_600, 1_700_000_600))
    report = collect(layout, "conv_pool", [downloads], log=lambda line: None)
    assert notebook_of(layout, "ada") == b'{"upload": "latest"}'
    reason = report.refused["ada_2_ConvPool.zip (ada)"]
    assert "earlier submission" in reason and "ada_1_ConvPool.zip" in reason
    stamp = (layout.submitted_dir("conv_pool", "ada") / "timestamp.txt").read_text()
    assert stamp.startswith(datetime.datetime.fromtimestamp(1_700_000_600, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))


def test_in_a_class_download_the_lms_entry_date_decides_and_a_tie_collects_nothing(tmp_path):
    layout = new_layout(tmp_path)
    class_zip = tmp_path / "class.zip"
    uploads = {"ada_1_v.zip": ((2026, 12, 1, 11, 0, 0), b'{"upload": "latest"}'),
               "ada_2_v.zip": ((2026, 12, 1, 10, 0, 0), b'{"upload": "earlier"}'),
               "ben_3_v.zip": ((2026, 12, 1, 10, 0, 0), b'{"upload": "one"}'),
               "ben_4_v.zip": ((2026, 12, 1, 10, 0, 0), b'{"upload": "two"}')}
    with zipfile.ZipFile(class_zip, "w") as archive:
        for name, (when, notebook) in uploads.items():
            archive.writestr(zipfile.ZipInfo(name, when), write_zip(tmp_path / name, {NOTEBOOK: notebook}).read_bytes())
    report = collect(layout, "conv_pool", [], class_downloads=[class_zip], log=lambda line: None)
    assert list(report.collected) == ["ada"] and notebook_of(layout, "ada") == b'{"upload": "latest"}'
    assert (layout.submitted_dir("conv_pool", "ada") / "timestamp.txt").read_text().startswith("2026-12-01 11:00:00")
    assert "earlier submission" in report.refused["ada_2_v.zip (ada)"]
    assert "cannot be told" in report.refused["ben_3_v.zip (ben)"] and "cannot be told" in report.refused["ben_4_v.zip (ben)"]
    assert not layout.submitted_dir("conv_pool", "ben").exists()
