"""The training entry point on a small CIFAR-10 in the real format: outputs, resume, errors."""

import json
import pickle

import pytest

from cs231n_lib import train
from cs231n_lib.augment import flip_and_crop, random_crop, random_flip
from cs231n_lib.checkpoint import load_checkpoint
from cs231n_lib.backend import np
from cs231n_lib.solver import Solver

from .conftest import CUPY_USABLE
from .datasets.conftest import write_batches

SMALL_RUN = ["--num-train", "80", "--num-val", "20", "--num-test", "30", "--batch-size", "20",
             "--num-filters", "4", "--hidden-dim", "8"]


@pytest.fixture
def data_dir(tmp_path):
    return str(write_batches(tmp_path / "data" / "cifar-10-batches-py"))


def run(data_dir, out, *extra):
    return train.main(["--data", data_dir, "--out", str(out), *SMALL_RUN, *extra])


def test_a_run_writes_checkpoints_metrics_and_plots(data_dir, tmp_path):
    metrics = run(data_dir, tmp_path / "run", "--epochs", "2")
    assert metrics["engine"].startswith("on")  # the training engine, by default
    out = tmp_path / "run"
    for name in ("checkpoint_epoch_1.pkl", "checkpoint_epoch_2.pkl", "config.json", "metrics.json"):
        assert (out / name).exists(), name
    for name in ("history.png", "filters.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == metrics and saved["epochs"] == 2 and 0.0 <= saved["test_acc"] <= 1.0
    checkpoint = pickle.loads((out / "checkpoint_epoch_2.pkl").read_bytes())
    assert all(type(v) is np.ndarray for v in checkpoint["params"].values())  # host arrays
    best = load_checkpoint(out / "best_model.npz")   # the model to submit, as data
    assert best.architecture == "ThreeLayerConvNet" and best.reported_accuracy == saved["best_val_acc"]
    for name, value in checkpoint["best_params"].items():
        np.testing.assert_array_equal(best.model.params[name], value)


def test_resume_continues_and_refuses_other_settings(data_dir, tmp_path):
    out = tmp_path / "run"
    run(data_dir, out, "--epochs", "1")
    with pytest.raises(SystemExit, match="already holds checkpoints"):
        run(data_dir, out, "--epochs", "2")
    with pytest.raises(SystemExit, match="learning_rate was 0.001, now 0.01"):
        run(data_dir, out, "--epochs", "2", "--resume", "--learning-rate", "1e-2")
    metrics = run(data_dir, out, "--epochs", "2", "--resume")
    assert metrics["epochs"] == 2
    resumed = pickle.loads((out / "checkpoint_epoch_2.pkl").read_bytes())
    assert len(resumed["loss_history"]) == 2 * 80 // 20 and len(resumed["val_acc_history"]) == 3
    metrics = run(data_dir, out, "--epochs", "1", "--overwrite")
    assert metrics["epochs"] == 1 and not (out / "checkpoint_epoch_2.pkl").exists()


def test_convnet_with_augmentation_and_normalization(data_dir, tmp_path):
    metrics = run(data_dir, tmp_path / "run", "--model", "convnet", "--spec",
                  "CONV3-4 -> RELU -> POOL2 -> FC", "--weight-scale", "he", "--augment", "--normalize",
                  "--threads", "2")
    assert metrics["epochs"] == 1 and metrics["engine"] == "on (2 threads)"
    # --normalize divides the centred images by the training set's standard deviation: the checkpoint says so.
    best = load_checkpoint(tmp_path / "run" / "best_model.npz")
    assert best.scale > 1.0 and best.spec == "INPUT-32x32x3 -> CONV3-4 -> RELU -> POOL2 -> FC-10"
    metrics = run(data_dir, tmp_path / "off", "--model", "convnet", "--spec", "CONV3-4 -> RELU -> AVGPOOL2 -> FC",
                  "--engine", "auto")
    assert metrics["engine"].startswith("off: layer 3 (AVGPOOL2)")  # outside the engine: model.loss trains
    metrics = run(data_dir, tmp_path / "forced_off", "--engine", "off")
    assert metrics["engine"].startswith("off (engine='off')")


def test_a_bn_convnet_trains_with_the_engine_and_saves_its_running_statistics(data_dir, tmp_path, capsys):
    spec = "CONV3-4 -> BN -> RELU -> POOL2 -> FC-8 -> BN -> RELU -> FC"
    metrics = run(data_dir, tmp_path / "run", "--model", "convnet", "--spec", spec, "--weight-scale", "he",
                  "--threads", "2", "--epochs", "2")
    assert metrics["engine"] == "on (2 threads)" and "training engine: on (2 threads)" in capsys.readouterr().out
    best = load_checkpoint(tmp_path / "run" / "best_model.npz")
    assert best.spec == "INPUT-32x32x3 -> CONV3-4 -> BN -> RELU -> POOL2 -> FC-8 -> BN -> RELU -> FC-10"
    saved = pickle.loads((tmp_path / "run" / f"checkpoint_epoch_{metrics['epochs']}.pkl").read_bytes())
    for number in (1, 2):  # the running statistics of the best parameters, not of the last step
        for key in ("running_mean", "running_var"):
            np.testing.assert_array_equal(best.model.bn_params[number][key], saved["best_bn_state"][number][key])
    for name, value in saved["best_params"].items():
        np.testing.assert_array_equal(best.model.params[name], value)
    metrics = run(data_dir, tmp_path / "run", "--model", "convnet", "--spec", spec, "--weight-scale", "he",
                  "--threads", "2", "--epochs", "3", "--resume")
    assert metrics["epochs"] == 3


def test_bad_arguments_and_missing_data(data_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run(data_dir, tmp_path / "run", "--model", "convnet")  # no --spec
    assert "--model convnet needs a --spec" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"error: .*expected \"\*N\" right after"):
        run(data_dir, tmp_path / "run", "--model", "convnet", "--spec", "[CONV3-4] -> FC")
    with pytest.raises(SystemExit, match=r"error: layer 3 \(BN\) follows RELU: expected BN right after a CONV"):
        run(data_dir, tmp_path / "run", "--model", "convnet", "--spec", "CONV3-4 -> RELU -> BN -> FC")
    with pytest.raises(SystemExit, match="fetch cifar10"):
        train.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])


@pytest.mark.skipif(CUPY_USABLE, reason="this machine has a GPU, so cupy runs")
def test_cupy_without_a_gpu_says_so(data_dir, tmp_path):
    with pytest.raises(SystemExit, match="backend 'cupy' was asked for but cannot run"):
        run(data_dir, tmp_path / "run", "--backend", "cupy")


def test_flip_mirrors_about_half_and_crop_shifts_content():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3, 8, 8)).astype(np.float32)
    flipped = random_flip(X, np.random.default_rng(1))
    mirrored = np.all(flipped == X[:, :, :, ::-1], axis=(1, 2, 3))
    unchanged = np.all(flipped == X, axis=(1, 2, 3))
    assert np.all(mirrored | unchanged) and 70 < mirrored.sum() < 130
    cropped = random_crop(X, np.random.default_rng(2), pad=2)
    assert cropped.shape == X.shape
    # Each crop is the image shifted by at most 2 pixels: its interior matches some shift.
    for i in range(5):
        assert any(np.array_equal(cropped[i, :, 2:6, 2:6], X[i, :, 2 - dy:6 - dy, 2 - dx:6 - dx])
                   for dy in range(-2, 3) for dx in range(-2, 3))
    assert flip_and_crop(X, rng).dtype == np.float32


def test_solver_applies_augment_to_each_minibatch():
    from .test_solver import small_model, small_problem
    seen = []

    def spy(X, rng):
        seen.append(X.shape)
        return X
    Solver(small_model(), small_problem(), num_epochs=1, batch_size=10, verbose=False, augment=spy).train()
    assert seen == [(10, 3, 8, 8)] * 4
    with pytest.raises(TypeError, match="augment must be a function"):
        Solver(small_model(), small_problem(), augment="flip")
