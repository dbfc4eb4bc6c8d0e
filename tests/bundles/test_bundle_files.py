"""The student bundle: its zip, its requirements, and the scripts that bring earlier work and pack a submission."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.bundle import add_student_files, requirements_text, with_settings, write_zip
from autograder.collect import collect
from autograder.stubs import stub_message
from autograder.tasks import Task
from cs231n_lib.notebook_utils import stubbed_tasks

from ..autograder.conftest import new_layout
from .kit import LAYOUT, reference_bundle, run_and_save, unpack_bundle

CATALOG = LAYOUT.catalog()


def run_script(folder: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    """A bundle script as a student runs it: its own folder, a plain python3, nothing of the kit on the path."""
    return subprocess.run([sys.executable, "-I", script, *args], cwd=folder, capture_output=True, text=True,
                          timeout=60)


def test_the_zip_has_the_same_bytes_every_time_and_one_top_folder(tmp_path):
    folder = LAYOUT.student_release_dir("conv_pool")
    first = write_zip(folder, tmp_path / "a" / "conv_pool.zip", top="conv_pool").read_bytes()
    second = write_zip(folder, tmp_path / "b" / "conv_pool.zip", top="conv_pool").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a" / "conv_pool.zip") as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert all(name.startswith("conv_pool/") for name in names)
    assert {"conv_pool/ConvPool.ipynb", "conv_pool/README.md", "conv_pool/requirements.txt", "conv_pool/setup.sh",
            "conv_pool/submit.py", "conv_pool/datasets/get_datasets.sh", "conv_pool/cs231n_lib/layers.py"} <= set(names)
    assert modes["conv_pool/setup.sh"] & 0o111 and not modes["conv_pool/README.md"] & 0o111


def test_requirements_take_the_kits_version_ranges():
    dependencies = tomllib.loads((LAYOUT.lib_dir.parent / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line for line in requirements_text().splitlines() if line and not line.startswith("#")]
    assert [line for line in lines if not line.startswith("jupyterlab")] == \
        [spec for name in ("numpy", "matplotlib", "tqdm", "threadpoolctl", "nbgrader")
         for spec in dependencies if spec.startswith(name)]
    assert any(line.startswith("jupyterlab>=4") for line in lines)


def test_a_template_without_settings_markers_is_refused():
    with pytest.raises(ValueError, match="settings markers"):
        with_settings("print('no settings here')\n", {"A": 1})


def test_the_stub_message_is_what_students_tools_recognise():
    task = Task("layers.affine_forward", "conv_pool", "ConvPool.ipynb", Path("layers.py"), "affine_forward")
    line = f'    raise NotImplementedError("{stub_message(task)}")'
    assert stubbed_tasks(line) == [("layers.affine_forward", "conv_pool")]


def test_only_later_assignments_get_the_earlier_work_script(tmp_path):
    for assignment in CATALOG.assignments:
        folder = tmp_path / assignment.name
        folder.mkdir()
        written = add_student_files(folder, LAYOUT, CATALOG, assignment)
        assert ("bring_earlier_work.py" in written) == (assignment.name != "conv_pool"), assignment.name
        readme = (folder / "README.md").read_text()
        assert f".venv/bin/jupyter lab {assignment.notebook}" in readme and "sh setup.sh" in readme


def test_bring_earlier_work_copies_finished_files_and_never_a_students_own(tmp_path):
    train = unpack_bundle("train_cifar10", tmp_path)
    conv_pool = unpack_bundle("conv_pool", tmp_path)                    # finished: its own file done
    (conv_pool / "cs231n_lib" / "layers.py").write_bytes((LAYOUT.lib_dir / "layers.py").read_bytes())
    im2col = unpack_bundle("im2col", tmp_path)                          # never started
    own_work = train / "cs231n_lib" / "classifiers" / "cnn.py"
    own_before = own_work.read_bytes()

    result = run_script(train, "bring_earlier_work.py", str(conv_pool), str(im2col))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "brought cs231n_lib/layers.py" in result.stdout
    assert (train / "cs231n_lib" / "layers.py").read_bytes() == (conv_pool / "cs231n_lib" / "layers.py").read_bytes()
    assert "cs231n_lib/im2col.py (from im2col)" in result.stderr and "cs231n_lib/fast_layers.py" in result.stderr
    assert own_work.read_bytes() == own_before                          # this assignment's own task file

    finished_im2col = reference_bundle("im2col", tmp_path / "done")   # every task file finished
    result = run_script(train, "bring_earlier_work.py", str(finished_im2col))
    assert result.returncode == 0 and "your earlier work is all here" in result.stdout, result.stderr
    assert stubbed_tasks((train / "cs231n_lib" / "im2col.py").read_text()) == []
    assert own_work.read_bytes() == own_before


def test_bring_earlier_work_says_what_it_expects(tmp_path):
    train = unpack_bundle("train_cifar10", tmp_path)
    assert "python bring_earlier_work.py" in run_script(train, "bring_earlier_work.py").stderr
    result = run_script(train, "bring_earlier_work.py", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "not an assignment folder (no cs231n_lib/ inside)" in result.stderr


def test_submit_refuses_a_notebook_that_has_not_been_run(tmp_path):
    folder = reference_bundle("conv_pool", tmp_path)
    result = run_script(folder, "submit.py")
    assert result.returncode == 1
    assert "ConvPool.ipynb has not been run" in result.stderr and "convpool-test-conv-forward" in result.stderr
    assert not (folder / "conv_pool_submission.zip").exists()


@pytest.mark.slow
def test_submit_packs_a_run_that_stopped_at_an_unfinished_function(tmp_path):
    """JupyterLab's Run All stops at the first error: that notebook was run, and is packed with what is missing."""
    from nbclient.exceptions import CellExecutionError
    folder = unpack_bundle("conv_pool", tmp_path)
    with pytest.raises(CellExecutionError) as stopped:
        run_and_save(folder, "ConvPool.ipynb")
    nbformat.write(stopped.value.notebook, folder / "ConvPool.ipynb")   # the cells run until the stop, saved
    result = run_script(folder, "submit.py")
    assert result.returncode == 0, result.stderr
    assert "not run, after the run stopped with NotImplementedError: convpool-test-weights-per-neuron" in result.stdout
    assert (folder / "conv_pool_submission.zip").is_file()


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    """conv_pool finished and run, then packed with submit.py."""
    folder = reference_bundle("conv_pool", tmp_path_factory.mktemp("student"))
    run_and_save(folder, "ConvPool.ipynb")
    return folder, run_script(folder, "submit.py")


@pytest.mark.slow
def test_submit_packs_exactly_what_the_grader_reads(submitted):
    folder, result = submitted
    assert result.returncode == 0, result.stderr
    assert "all public checks passed; hidden checks run at grading" in result.stdout
    with zipfile.ZipFile(folder / "conv_pool_submission.zip") as archive:
        names = sorted(archive.namelist())
    assert names == sorted(["ConvPool.ipynb"] + [f"cs231n_lib/{name}" for name in CATALOG.student_files()])


@pytest.mark.slow
def test_collect_accepts_the_packed_submission(submitted, tmp_path):
    folder, _ = submitted
    layout = new_layout(tmp_path)
    upload = tmp_path / "downloads" / "ada_123_conv_pool_submission.zip"   # as an LMS names it
    upload.parent.mkdir()
    upload.write_bytes((folder / "conv_pool_submission.zip").read_bytes())
    report = collect(layout, "conv_pool", [upload.parent], log=lambda line: None)
    assert list(report.collected) == ["ada"] and report.refused == {}
    landed = layout.submitted_dir("conv_pool", "ada")
    assert (landed / "ConvPool.ipynb").is_file() and (landed / "cs231n_lib" / "layers.py").is_file()


@pytest.mark.slow
def test_submit_names_the_cells_whose_public_checks_fail(tmp_path):
    folder = reference_bundle("conv_pool", tmp_path)
    layers = folder / "cs231n_lib" / "layers.py"
    layers.write_text(layers.read_text().replace("    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n", 1))
    run_and_save(folder, "ConvPool.ipynb", allow_errors=True)
    result = run_script(folder, "submit.py")
    assert result.returncode == 0, result.stderr   # a submission with failures is still packed
    assert "public checks not passed in 1 of" in result.stdout
    assert "convpool-test-affine-backward: 0 / 2 points; failed: dx, dw, db on a (5, 2, 3) input" in result.stdout


def test_submit_packs_the_trained_models_checkpoint(tmp_path):
    """train_cifar10's submit.py packs best_model.npz (the grader evaluates it) beside the notebook."""
    import importlib.util
    import numpy as np
    from cs231n_lib.checkpoint import load_checkpoint, save_checkpoint
    from cs231n_lib.classifiers import ConvNet
    folder = unpack_bundle("train_cifar10", tmp_path)
    spec = importlib.util.spec_from_file_location("train_submit", folder / "submit.py")
    submit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(submit)
    assert "best_model.npz" not in [name for name, _ in submit.files_to_pack()]   # packed when present
    save_checkpoint(folder / "best_model.npz", ConvNet("INPUT-32x32x3 -> POOL4 -> FC", seed=0),
                    mean_image=np.zeros((3, 32, 32)), scale=1.0)
    packed = dict(submit.files_to_pack())
    assert load_checkpoint(packed["best_model.npz"]).spec == "INPUT-32x32x3 -> POOL4 -> FC-10"
