"""verify: every check names the file, the check, what was expected and what was found."""

import json
import os
import stat

import pytest

from cs231n_lib.backend import np
from cs231n_lib.datasets import CIFAR10, Expectations, VerificationError, verify_folder
from cs231n_lib.datasets.checksum import file_digest
from cs231n_lib.datasets.manifest import MANIFEST_NAME

from .conftest import SMALL, batch_dicts, small_labels, write_batches
from .helpers import SMALL_COUNTS, run_cli


def problems_of(folder, expectations=SMALL):
    with pytest.raises(VerificationError) as caught:
        verify_folder(folder, expectations)
    return caught.value.problems


def test_defaults_are_the_real_cifar10_numbers():
    assert CIFAR10 == Expectations(train_rows_per_batch=10_000, test_rows=10_000,
                                   train_per_class=5_000, test_per_class=1_000)


def test_small_folder_passes_with_matching_expectations(small_folder):
    report = verify_folder(small_folder, SMALL)
    assert (report.train_images, report.test_images) == (100, 30)
    # The check only means something if a single batch is NOT balanced while the totals are.
    first_batch = small_labels()[0][:SMALL.train_rows_per_batch]
    assert len(set(np.bincount(first_batch, minlength=10).tolist())) > 1


def test_real_expectations_reject_the_small_folder_by_shape(small_folder):
    problems = problems_of(small_folder, CIFAR10)
    assert "data_batch_1: b'data' has shape (20, 3072), expected (10000, 3072)" in problems
    assert "test_batch: 30 labels, expected 10000" in problems


def test_missing_file_is_named(small_folder):
    (small_folder / "data_batch_3").unlink()
    assert problems_of(small_folder) == ["data_batch_3: missing"]


def test_wrong_dtype_is_named(tmp_path):
    files = batch_dicts()
    files["data_batch_4"][b"data"] = files["data_batch_4"][b"data"].astype(np.int16)
    problems = problems_of(write_batches(tmp_path / "c", files))
    assert problems == ["data_batch_4: b'data' has dtype int16, expected uint8"]


def test_wrong_row_count_is_named(tmp_path):
    files = batch_dicts()
    files["test_batch"][b"data"] = files["test_batch"][b"data"][:-1]
    problems = problems_of(write_batches(tmp_path / "c", files))
    assert problems == ["test_batch: b'data' has shape (29, 3072), expected (30, 3072)"]


def test_unbalanced_train_totals_are_reported_per_class(tmp_path):
    files = batch_dicts()
    labels = files["data_batch_2"][b"labels"]
    index = labels.index(0)
    labels[index] = 1  # one airplane relabelled automobile
    problems = problems_of(write_batches(tmp_path / "c", files))
    assert problems == ["train batches (data_batch_1..5): expected 10 images per class, "
                        "found airplane 9, automobile 11"]


def test_label_out_of_range_is_reported(tmp_path):
    files = batch_dicts()
    files["test_batch"][b"labels"][0] = 10
    problems = problems_of(write_batches(tmp_path / "c", files))
    assert problems == ["test_batch: 1 labels outside 0..9 (e.g. 10)"]


def test_wrong_label_names_are_reported(tmp_path):
    files = batch_dicts()
    files["batches.meta"][b"label_names"][3] = b"kitten"
    problems = problems_of(write_batches(tmp_path / "c", files))
    assert len(problems) == 1 and problems[0].startswith("batches.meta: b'label_names' is (")
    assert "'kitten'" in problems[0] and "expected ('airplane', 'automobile'" in problems[0]


def test_every_problem_is_listed_not_just_the_first(tmp_path):
    files = batch_dicts()
    files["data_batch_1"][b"data"] = files["data_batch_1"][b"data"].astype(np.float32)
    del files["data_batch_5"]
    problems = problems_of(write_batches(tmp_path / "c", files))
    assert "data_batch_5: missing" in problems
    assert "data_batch_1: b'data' has dtype float32, expected uint8" in problems


def test_cli_verify_ok_and_failure(capsys, small_folder):
    ok = run_cli(capsys, "verify", "--dest", small_folder.parent, "--expected-counts", SMALL_COUNTS)
    assert ok.code == 0 and ok.out.startswith("OK ")
    (small_folder / "batches.meta").write_bytes(b"garbage")
    bad = run_cli(capsys, "verify", "--dest", small_folder.parent, "--expected-counts", SMALL_COUNTS)
    assert bad.code == 1 and len(bad.error_lines) == 1
    assert "batches.meta: not a readable CIFAR-10 pickle" in bad.error_lines[0]


def test_cli_verify_with_real_counts_rejects_the_small_folder(capsys, small_folder):
    run = run_cli(capsys, "verify", "--dest", small_folder.parent)
    assert run.code == 1 and "expected (10000, 3072)" in run.error_lines[0]


# ------------------------------------------------------------------------------ publish

def publish(capsys, to, *source):
    return run_cli(capsys, "publish", "--to", to, *source, "--expected-counts", SMALL_COUNTS)


def test_publish_makes_a_read_only_verified_copy_with_a_manifest(capsys, tmp_path, small_folder):
    course = tmp_path / "course"
    run = publish(capsys, course, "--from", small_folder)
    assert run.code == 0, run.err
    published = course / "cifar-10-batches-py"
    assert stat.S_IMODE(published.stat().st_mode) == 0o555
    for path in published.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path
    manifest = json.loads((published / MANIFEST_NAME).read_text())
    assert sorted(manifest["files"]) == sorted(os.listdir(small_folder))
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == file_digest(small_folder / name, "sha256")
        assert entry["bytes"] == (small_folder / name).stat().st_size
    assert verify_folder(published, SMALL).manifest_checked
    assert sorted(os.listdir(course)) == ["cifar-10-batches-py"]


def test_publish_twice_is_a_no_op(capsys, tmp_path, small_folder):
    course = tmp_path / "course"
    assert publish(capsys, course, "--from", small_folder).code == 0
    manifest = (course / "cifar-10-batches-py" / MANIFEST_NAME).read_text()
    again = publish(capsys, course, "--from", small_folder)
    assert again.code == 0 and "already published and valid" in again.err
    assert (course / "cifar-10-batches-py" / MANIFEST_NAME).read_text() == manifest


def test_publish_from_an_archive(capsys, tmp_path, small_archive):
    course = tmp_path / "course"
    run = publish(capsys, course, "--archive", small_archive.path, "--sha256", small_archive.sha256)
    assert run.code == 0, run.err
    assert verify_folder(course / "cifar-10-batches-py", SMALL).manifest_checked


def test_publish_from_an_archive_needs_a_checksum(capsys, tmp_path, small_archive):
    run = publish(capsys, tmp_path / "course", "--archive", small_archive.path)
    assert run.code == 1 and "needs the checksum" in run.error_lines[0]
    assert not (tmp_path / "course").exists()


def test_a_file_changed_after_publishing_is_caught_by_verify_and_republish(capsys, tmp_path, small_folder):
    course = tmp_path / "course"
    assert publish(capsys, course, "--from", small_folder).code == 0
    published = course / "cifar-10-batches-py"
    target = published / "data_batch_2"
    os.chmod(target, 0o644)
    content = bytearray(target.read_bytes())
    content[-10] ^= 0xFF  # same size, one pixel flipped: only the hash can tell
    target.write_bytes(bytes(content))
    run = run_cli(capsys, "verify", "--dest", course, "--expected-counts", SMALL_COUNTS)
    assert run.code == 1
    assert "data_batch_2: sha256" in run.error_lines[0] and "changed after publishing" in run.error_lines[0]
    # Publishing again replaces the tampered copy.
    again = publish(capsys, course, "--from", small_folder)
    assert again.code == 0 and "replacing" in again.err
    assert verify_folder(published, SMALL).manifest_checked
    assert stat.S_IMODE(published.stat().st_mode) == 0o555
