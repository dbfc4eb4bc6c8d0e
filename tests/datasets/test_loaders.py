"""CS231n loaders on the small data set: shapes, dtypes, layout, mean, where they look."""

import os
import pathlib
import subprocess
import sys

import pytest

from cs231n_lib.backend import np
from cs231n_lib.data_utils import get_CIFAR10_data, load_CIFAR10, load_CIFAR_batch
from cs231n_lib.datasets import DataNotFoundError, VerificationError, verify_folder
from cs231n_lib.datasets import locate

from cs231n_lib.datasets.cifar10 import FOLDER_NAME

from .conftest import SMALL, pixel_value, small_labels, write_batches
from .helpers import SMALL_COUNTS, run_cli

REPO = pathlib.Path(__file__).resolve().parents[2]
FETCH = "python -m cs231n_lib.datasets fetch cifar10"


def expected_nhwc(first_image, count):
    """(count, 32, 32, 3) from the pixel formula, indexed [n, h, w, c]."""
    n, h, w, c = np.meshgrid(np.arange(first_image, first_image + count), np.arange(32),
                             np.arange(32), np.arange(3), indexing="ij")
    return pixel_value(n, c, h, w)


def test_load_CIFAR_batch_is_N_H_W_C(small_folder):
    X, Y = load_CIFAR_batch(small_folder / "data_batch_2")
    assert X.shape == (20, 32, 32, 3) and X.dtype == np.float32
    assert Y.shape == (20,) and Y.dtype == np.int64
    np.testing.assert_array_equal(X, expected_nhwc(20, 20))  # images 20..39 live in batch 2
    np.testing.assert_array_equal(Y, small_labels()[0][20:40])


def test_load_CIFAR10_concatenates_the_five_batches(small_folder):
    Xtr, Ytr, Xte, Yte = load_CIFAR10(small_folder, dtype=np.float64)
    assert Xtr.shape == (100, 32, 32, 3) and Xte.shape == (30, 32, 32, 3)
    assert Xtr.dtype == Xte.dtype == np.float64
    np.testing.assert_array_equal(Xtr, expected_nhwc(0, 100))
    np.testing.assert_array_equal(Xte, expected_nhwc(100, 30))
    train_labels, test_labels = small_labels()
    np.testing.assert_array_equal(Ytr, train_labels)
    np.testing.assert_array_equal(Yte, test_labels)


def test_load_CIFAR10_accepts_the_folder_holding_the_batches(small_folder):
    Xtr, *_ = load_CIFAR10(small_folder.parent)
    assert Xtr.shape == (100, 32, 32, 3)


def test_get_CIFAR10_data_splits_and_transposes_to_N_C_H_W(small_folder):
    data = get_CIFAR10_data(num_training=70, num_validation=20, num_test=25, subtract_mean=False,
                            cifar10_dir=small_folder)
    shapes = {key: value.shape for key, value in data.items()}
    assert shapes == {"X_train": (70, 3, 32, 32), "y_train": (70,), "X_val": (20, 3, 32, 32),
                      "y_val": (20,), "X_test": (25, 3, 32, 32), "y_test": (25,)}
    assert data["X_train"].dtype == np.float32 and data["X_train"].flags.c_contiguous
    nchw = lambda first, count: expected_nhwc(first, count).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(data["X_train"], nchw(0, 70))
    np.testing.assert_array_equal(data["X_val"], nchw(70, 20))  # the images right after training
    np.testing.assert_array_equal(data["X_test"], nchw(100, 25))
    train_labels, test_labels = small_labels()
    np.testing.assert_array_equal(data["y_val"], train_labels[70:90])
    np.testing.assert_array_equal(data["y_test"], test_labels[:25])


def test_get_CIFAR10_data_subtracts_the_training_mean_from_every_split(small_folder):
    raw = get_CIFAR10_data(70, 20, 25, subtract_mean=False, dtype=np.float64, cifar10_dir=small_folder)
    centred = get_CIFAR10_data(70, 20, 25, subtract_mean=True, dtype=np.float64, cifar10_dir=small_folder)
    mean_image = raw["X_train"].mean(axis=0)  # (C, H, W)
    assert np.ptp(mean_image) > 0  # a constant mean would hide a wrong axis
    np.testing.assert_allclose(centred["X_train"].mean(axis=0), 0, atol=1e-9)
    for key in ("X_train", "X_val", "X_test"):
        np.testing.assert_allclose(centred[key], raw[key] - mean_image, atol=1e-9)


def test_float32_halves_the_memory_of_float64(small_folder):
    single = get_CIFAR10_data(70, 20, 25, dtype=np.float32, cifar10_dir=small_folder)
    double = get_CIFAR10_data(70, 20, 25, dtype=np.float64, cifar10_dir=small_folder)
    assert single["X_train"].nbytes * 2 == double["X_train"].nbytes
    np.testing.assert_allclose(single["X_val"], double["X_val"], atol=1e-4)


def test_asking_for_more_images_than_exist_is_a_clear_error(small_folder):
    with pytest.raises(ValueError, match="num_training \\+ num_validation = 101 but .* has 100"):
        get_CIFAR10_data(num_training=100, num_validation=1, num_test=1, cifar10_dir=small_folder)


# ------------------------------------------------------------------ where the loaders look

def fill(place):
    write_batches(place / "cifar-10-batches-py")
    return place / "cifar-10-batches-py"


def test_lookup_order_env_then_course_then_repo(tmp_path, monkeypatch):
    personal, course, repo = tmp_path / "personal", tmp_path / "course", tmp_path / "repo-datasets"
    with pytest.raises(DataNotFoundError):
        locate.find_cifar10()
    fill(repo)
    assert locate.find_cifar10() == repo / "cifar-10-batches-py"
    fill(course)
    monkeypatch.setenv("CS231N_COURSE_DATA", str(course))
    assert locate.find_cifar10() == course / "cifar-10-batches-py"
    fill(personal)
    monkeypatch.setenv("CS231N_DATA", str(personal))
    assert locate.find_cifar10() == personal / "cifar-10-batches-py"
    Xtr, *_ = load_CIFAR10()  # no folder given: the same search
    assert Xtr.shape == (100, 32, 32, 3)


def test_default_course_folder_is_documented_value(monkeypatch):
    monkeypatch.delenv("CS231N_COURSE_DATA")
    assert locate.course_dir() == pathlib.Path("/srv/cs231n/data")


def test_missing_data_says_the_one_command_that_gets_it(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        get_CIFAR10_data()
    assert isinstance(caught.value, DataNotFoundError)
    message = str(caught.value)
    assert message.count(FETCH) == 1 and message.endswith(FETCH)
    assert str(tmp_path / "repo-datasets") in message and str(tmp_path / "no-course-folder") in message


def test_a_wrong_CS231N_DATA_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    fill(tmp_path / "repo-datasets")
    monkeypatch.setenv("CS231N_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataNotFoundError, match=f"CS231N_DATA is set to .*empty.*{FETCH} --dest "):
        load_CIFAR10()


def test_explicit_folder_without_data_names_the_fetch_command(tmp_path):
    with pytest.raises(DataNotFoundError, match=f"{FETCH} --dest {tmp_path}$"):
        load_CIFAR10(tmp_path / "cifar-10-batches-py")


def test_loaders_refuse_a_published_copy_whose_files_changed_size(capsys, tmp_path, small_folder):
    course = tmp_path / "course"
    run = run_cli(capsys, "publish", "--to", course, "--from", small_folder,
                  "--expected-counts", SMALL_COUNTS)
    assert run.code == 0, run.err
    target = course / "cifar-10-batches-py" / "data_batch_1"
    os.chmod(target, 0o644)
    target.write_bytes(target.read_bytes() + b"extra")
    with pytest.raises(VerificationError, match="data_batch_1: .* bytes, .* says .*changed after publishing"):
        load_CIFAR10(course)


def test_where_prints_the_folder_the_loaders_use(capsys, tmp_path):
    missing = run_cli(capsys, "where")
    assert missing.code == 1 and FETCH in missing.error_lines[0]
    fill(tmp_path / "repo-datasets")
    found = run_cli(capsys, "where")
    assert found.code == 0 and found.out.strip() == str(tmp_path / "repo-datasets" / "cifar-10-batches-py")


def test_get_datasets_sh_installs_into_its_own_folder_by_default(tmp_path, small_archive):
    # Run a copy of the wrapper from a scratch "repo" so the real datasets/ folder stays untouched.
    script = REPO / "datasets" / "get_datasets.sh"
    scratch_datasets = tmp_path / "repo" / "datasets"
    scratch_datasets.mkdir(parents=True)
    (scratch_datasets / "get_datasets.sh").write_text(script.read_text())
    os.chmod(scratch_datasets / "get_datasets.sh", 0o755)
    if (REPO / ".venv").exists():
        os.symlink(REPO / ".venv", tmp_path / "repo" / ".venv")
    os.symlink(REPO / "cs231n_lib", tmp_path / "repo" / "cs231n_lib")
    result = subprocess.run(
        ["./get_datasets.sh", "--archive", str(small_archive.path), "--sha256", small_archive.sha256,
         "--expected-counts", SMALL_COUNTS, "--quiet"],
        cwd=scratch_datasets, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    verify_folder(scratch_datasets / "cifar-10-batches-py", SMALL)


def test_an_assignment_folder_finds_data_installed_in_a_folder_above(tmp_path, monkeypatch):
    """assignments/<a>/cs231n_lib finds what `make data` put in the kit's datasets/."""
    from cs231n_lib.datasets import locate
    kit = tmp_path / "kit"
    bundle_datasets = kit / "assignments" / "conv_pool" / "datasets"
    monkeypatch.setattr(locate, "repo_datasets_dir", lambda: bundle_datasets)
    with pytest.raises(locate.DataNotFoundError, match="get_datasets.sh"):
        locate.find_cifar10()
    installed = write_batches(kit / "datasets" / FOLDER_NAME)
    assert locate.find_cifar10() == installed
    nearer = write_batches(bundle_datasets / FOLDER_NAME)
    assert locate.find_cifar10() == nearer   # the assignment's own copy comes first


def test_a_bundles_data_script_installs_where_its_own_loader_looks(tmp_path, small_archive):
    """An assignment bundle unpacked alone: its get_datasets.sh fills its datasets/, and its library loads that."""
    from ..bundles.kit import unpack_bundle
    bundle = unpack_bundle("train_cifar10", tmp_path)
    if (REPO / ".venv").exists():
        os.symlink(REPO / ".venv", bundle / ".venv")   # what the bundle's setup.sh makes
    result = subprocess.run(
        ["bash", "datasets/get_datasets.sh", "--archive", str(small_archive.path), "--sha256", small_archive.sha256,
         "--expected-counts", SMALL_COUNTS, "--quiet"], cwd=bundle, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    environment = {key: value for key, value in os.environ.items() if key != "CS231N_DATA"}
    environment["CS231N_COURSE_DATA"] = str(tmp_path / "no-course-folder")
    found = subprocess.run([sys.executable, "-c", "import cs231n_lib.data_utils as d, cs231n_lib.datasets.locate as l; "
                            "print(d.__file__); print(l.find_cifar10())"],
                           cwd=bundle, env=environment, capture_output=True, text=True, timeout=60)
    assert found.stdout.splitlines() == [str(bundle / "cs231n_lib" / "data_utils.py"),
                                         str(bundle / "datasets" / FOLDER_NAME)], found.stderr
