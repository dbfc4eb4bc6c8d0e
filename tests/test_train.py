"""The training entry point on a small CIFAR-10 in the real format: outputs, resume, errors."""

import json
import pathlib
import pickle
import re
import shlex

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
    # A run from before the recipe's settings existed (no such keys in its config.json) resumes with their defaults.
    saved = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({k: v for k, v in saved.items() if k not in
                                                 ("momentum", "weight_decay", "label_smoothing", "schedule",
                                                  "warmup_epochs")}))
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


# ----------------------------------------------------------------------------- the recipe's flags

CONVNET = ["--model", "convnet", "--spec", "CONV3-4 -> RELU -> POOL2 -> FC", "--weight-scale", "he", "--normalize"]


def first_batch_loss(data_dir, out, *flags):
    """The loss of the first training step, as a fresh model built from the flags computes it."""
    args = train.parse_args(["--data", data_dir, "--out", str(out), *SMALL_RUN, *flags])
    model = train.build_model(args)
    data, _ = train.load_data(args)
    batch = np.random.default_rng(args.seed).choice(args.num_train, args.batch_size)  # the Solver's first draw
    return model.loss(data["X_train"][batch], data["y_train"][batch])[0]


def test_update_rule_momentum_and_weight_decay_flags(data_dir, tmp_path):
    flags = ["--update-rule", "sgd_nesterov", "--momentum", "0.5", "--learning-rate", "1e-3"]
    metrics = run(data_dir, tmp_path / "plain", *CONVNET, *flags)
    configs = pickle.loads((tmp_path / "plain" / "checkpoint_epoch_1.pkl").read_bytes())["optim_configs"]
    assert metrics["engine"].startswith("on") and metrics["recipe"]["update_rule"] == "sgd_nesterov"
    assert all(c["momentum"] == 0.5 and c["weight_decay"] == 0.0 and "velocity" in c for c in configs.values())
    metrics = run(data_dir, tmp_path / "decayed", *CONVNET, *flags, "--weight-decay", "50")
    assert metrics["recipe"]["weight_decay"] == 50.0
    # 4 steps of decoupled decay at lr 1e-3: each shrinks the weights by 5%, far more than the gradients move them.
    norms = {}
    for run_name in ("plain", "decayed"):
        checkpoint = pickle.loads((tmp_path / run_name / "checkpoint_epoch_1.pkl").read_bytes())
        norms[run_name] = float(np.linalg.norm(checkpoint["params"]["W1"]))
    assert norms["decayed"] < 0.85 * norms["plain"]
    with pytest.raises(SystemExit):
        run(data_dir, tmp_path / "bad", "--weight-decay", "0.1")  # Adam: --reg is its L2 term


def test_label_smoothing_flag_changes_the_loss_trained(data_dir, tmp_path):
    metrics = run(data_dir, tmp_path / "run", *CONVNET, "--label-smoothing", "0.4")
    assert metrics["recipe"]["label_smoothing"] == 0.4
    history = pickle.loads((tmp_path / "run" / "checkpoint_epoch_1.pkl").read_bytes())["loss_history"]
    smoothed = first_batch_loss(data_dir, tmp_path / "run", *CONVNET, "--label-smoothing", "0.4")
    plain = first_batch_loss(data_dir, tmp_path / "run", *CONVNET)
    assert history[0] == pytest.approx(smoothed, rel=1e-5) and smoothed != pytest.approx(plain, rel=1e-3)
    with pytest.raises(SystemExit):
        run(data_dir, tmp_path / "bad", "--label-smoothing", "0.1")  # ThreeLayerConvNet: CS231n's plain loss
    with pytest.raises(SystemExit, match="0 <= smoothing < 1, got 1.0"):
        run(data_dir, tmp_path / "bad", *CONVNET, "--label-smoothing", "1")


def test_schedule_and_warmup_flags(data_dir, tmp_path):
    """The linear schedule (the Solver's tests check the cosine one, tests/test_solver.py)."""
    out = tmp_path / "linear"
    metrics = run(data_dir, out, "--epochs", "2", "--learning-rate", "1e-2", "--schedule", "linear",
                  "--warmup-epochs", "1")
    assert metrics["recipe"]["schedule"] == "linear" and metrics["recipe"]["warmup_epochs"] == 1.0
    # 4 iterations per epoch: the warm-up ends at the peak at step 4, the decay takes steps 5 to 8.
    for epoch, factor in ((1, 1.0), (2, 1 / 4)):
        configs = pickle.loads((out / f"checkpoint_epoch_{epoch}.pkl").read_bytes())["optim_configs"]
        assert all(c["learning_rate"] == pytest.approx(1e-2 * factor) for c in configs.values())
    with pytest.raises(SystemExit):
        run(data_dir, tmp_path / "bad", "--warmup-epochs", "1", "--epochs", "2")  # warm-up needs a decay


def test_tta_flag_averages_the_test_scores_with_the_mirror_images(data_dir, tmp_path, monkeypatch):
    evaluations = []
    check_accuracy = Solver.check_accuracy

    def spy(self, X, y, *args, **kwargs):
        evaluations.append((len(X), kwargs.get("flip", False)))
        return check_accuracy(self, X, y, *args, **kwargs)
    monkeypatch.setattr(Solver, "check_accuracy", spy)
    out = tmp_path / "run"
    metrics = run(data_dir, out, *CONVNET, "--tta")
    assert metrics["recipe"]["tta"] is True
    assert evaluations[-2:] == [(30, True), (30, False)]  # the test set with TTA, then without
    assert all(not flip for _, flip in evaluations[:-2])  # validation during training: plain
    args = train.parse_args(["--data", data_dir, "--out", str(out), *SMALL_RUN, *CONVNET])
    data, _ = train.load_data(args)
    model = load_checkpoint(out / "best_model.npz").model
    X = data["X_test"]
    scores = model.loss(X) + model.loss(np.ascontiguousarray(X[..., ::-1]))
    assert metrics["test_acc"] == pytest.approx(float(np.mean(scores.argmax(axis=1) == data["y_test"])))
    assert metrics["test_acc_without_tta"] == pytest.approx(float(np.mean(model.loss(X).argmax(axis=1)
                                                                          == data["y_test"])))


def test_lr_scale_and_sampling_flags(data_dir, tmp_path, capsys):
    """--lr-scale reaches each parameter's rate (a fraction allowed, 0 freezes) and is a run setting."""
    out = tmp_path / "run"
    flags = ["--update-rule", "sgd_nesterov", "--learning-rate", "1e-2", "--lr-scale", "W2=1/4",
             "--lr-scale", "W1=0", "--sampling", "permutation"]
    metrics = run(data_dir, out, *CONVNET, *flags, "--tta", "--tta-translate", "1", "--lookahead")
    assert metrics["recipe"]["tta_translate"] == 1 and 0 <= metrics["test_acc_flip_only"] <= 1
    assert metrics["recipe"]["lookahead"] is True
    assert pickle.loads((out / "checkpoint_epoch_1.pkl").read_bytes())["lookahead_average"] is not None
    assert metrics["recipe"]["lr_scale"] == {"W2": 0.25, "W1": 0.0}
    assert metrics["recipe"]["sampling"] == "permutation"
    configs = pickle.loads((out / "checkpoint_epoch_1.pkl").read_bytes())["optim_configs"]
    assert configs["W2"]["learning_rate"] == pytest.approx(2.5e-3) and configs["b1"]["learning_rate"] == 1e-2
    assert np.array_equal(load_checkpoint(out / "best_model.npz").model.params["W1"],
                          train.build_model(train.parse_args(["--seed", "0", *CONVNET])).params["W1"])
    with pytest.raises(SystemExit, match="used other settings: lr_scale was"):  # another setting
        run(data_dir, out, *CONVNET, *flags[:-4], "--sampling", "permutation", "--tta", "--tta-translate", "1",
            "--lookahead", "--resume", "--epochs", "2")
    dirac = train.build_model(train.parse_args([*CONVNET, "--dirac-init"]))
    assert np.array_equal(dirac.params["W1"][:3, :, 1, 1], np.eye(3))
    with pytest.raises(SystemExit):
        train.parse_args([*CONVNET, "--tta-translate", "1"])
    assert "--tta-translate goes with --tta" in capsys.readouterr().err
    for bad in ("W1", "W1=x", "=2", "W1=-1", "W1=1/0"):
        with pytest.raises(SystemExit):
            train.parse_args([*CONVNET, "--lr-scale", bad])
        assert "expected PATTERN=FACTOR" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="matches no parameter"):
        run(data_dir, tmp_path / "nomatch", *CONVNET, "--update-rule", "sgd_nesterov", "--lr-scale", "gamma*=0")


class ScoresTimes:
    """A model whose scores are ``scale`` times ``model``'s, by the chain rule: the reference
    --score-scale's equivalent form must train like."""

    def __init__(self, model, last, scale):
        self.model, self.last, self.scale = model, last, scale

    @property
    def params(self):
        return self.model.params

    @params.setter
    def params(self, params):  # the Solver swaps in the best parameters at the end
        self.model.params = params

    def loss(self, X, y=None):
        saved = {name: self.params[name] for name in self.last}
        for name in self.last:
            self.params[name] = saved[name] * self.scale
        try:
            result = self.model.loss(X, y)
        finally:
            self.params.update(saved)
        if y is None:
            return result
        loss, grads = result
        return loss, {**grads, **{name: grads[name] * self.scale for name in self.last}}


def test_score_scale_trains_like_scores_times_the_scale(data_dir, tmp_path):
    """--score-scale S, as built (initial last layer times S, its learning rate times S^2),
    against a model whose scores are S times the plain one's, trained by the same SGD steps."""
    flags = ["--data", data_dir, "--out", str(tmp_path), *SMALL_RUN, *CONVNET, "--dtype", "float64",
             "--update-rule", "sgd_nesterov", "--learning-rate", "0.05", "--weight-decay", "0.1", "--reg", "0"]
    scaled_args = train.parse_args([*flags, "--score-scale", "1/3"])
    equivalent = train.build_model(scaled_args)
    assert train.lr_scales(scaled_args, equivalent) == {"W2": 1 / 9, "b2": 1 / 9}
    plain = train.build_model(train.parse_args(flags))
    reference = ScoresTimes(plain, ["W2", "b2"], 1 / 3)
    data, _ = train.load_data(scaled_args)
    solvers = [Solver(model, data, update_rule="sgd_nesterov", engine="off", num_epochs=2, batch_size=20,
                      optim_config={"learning_rate": 0.05, "weight_decay": 0.1}, seed=0, verbose=False,
                      lr_scales=scales)
               for model, scales in ((reference, None), (equivalent, train.lr_scales(scaled_args, equivalent)))]
    for solver in solvers:
        solver.train()
    X = data["X_val"]
    np.testing.assert_allclose(solvers[1].model.loss(X), reference.loss(X), rtol=1e-9, atol=1e-12)
    assert not np.allclose(reference.loss(X), plain.loss(X))  # the scale did change the scores
    with pytest.raises(SystemExit, match="--lr-scale 'W\\*' also matches W2"):
        run(data_dir, tmp_path / "both", *CONVNET, "--update-rule", "sgd_nesterov", "--score-scale", "0.5",
            "--lr-scale", "W*=2")


def test_the_docs_recipe_command_is_train_recipe_90():
    """docs/training.md's command for the 90% recipe runs exactly train.RECIPE_90 (which the
    benchmark reads), plus a seed and a folder."""
    text = (pathlib.Path(__file__).parents[1] / "docs" / "training.md").read_text()
    block = re.search(r"```bash\nfor seed in [^\n]*\n(.*?)\ndone\n```", text, re.S)
    assert block, "docs/training.md: the recipe's for-seed loop is missing"
    words = shlex.split(block.group(1).replace("\\\n", " "))
    flags = words[words.index("cs231n_lib.train") + 1:]
    assert flags[-4:] == ["--seed", "$seed", "--out", "runs/recipe90-seed$seed"]
    assert tuple(flags[:-4]) == train.RECIPE_90
