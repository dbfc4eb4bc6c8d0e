"""The GPU path end to end: the training engine, the Solver, ``python -m cs231n_lib.train`` and the
training notebook's best-model section on CuPy.

Every test here is marked ``gpu``: with a CUDA GPU it runs on the real CuPy (``make gpu-check``);
elsewhere on the strict stand-in (tests/strict_cupy.py), which refuses every implicit host-device
mix. The transfer counts are the stand-in's and are checked on it everywhere. Shapes are tiny:
this is about where arrays live, not about speed.
"""

import contextlib
import io
import json

import nbformat
import pytest

from cs231n_lib import notebook_utils, optim, train
from cs231n_lib.checkpoint import load_checkpoint
from cs231n_lib.backend import get_array_module, np, resolve_backend, to_device, to_numpy
from cs231n_lib.classifiers import ConvNet, ThreeLayerConvNet
from cs231n_lib.engine import TrainingEngine
from cs231n_lib.solver import Solver

from . import strict_cupy
from .datasets.conftest import write_batches
from .notebooks.kit import SOLUTIONS, nbgrader_meta
from .test_engine import BN_CASES, CONVNET_CASES
from .test_solver import small_problem

pytestmark = pytest.mark.gpu

TRAINING_NOTEBOOK = SOLUTIONS / "train_cifar10" / "TrainCIFAR10.ipynb"


@pytest.fixture
def cp():
    """The device's array module: the real CuPy with a GPU, else the strict stand-in."""
    return resolve_backend("cupy")


def assert_same(device_value, host_value, what):
    np.testing.assert_allclose(to_numpy(device_value), host_value, rtol=1e-9, atol=1e-12, err_msg=what)


# ----------------------------------------------------------------------------- the engine

@pytest.mark.parametrize("spec, side", CONVNET_CASES[:4] + BN_CASES[:2])
def test_the_engine_on_the_device_computes_what_it_computes_on_numpy(cp, rng, spec, side):
    host_model = ConvNet(spec, input_dim=(3, side, side), dtype=np.float64, reg=0.05, seed=1)
    device_model = ConvNet(spec, input_dim=(3, side, side), dtype=np.float64, reg=0.05, seed=1, backend="cupy")
    host_engine, device_engine = TrainingEngine(host_model), TrainingEngine(device_model)
    X, y = rng.standard_normal((5, 3, side, side)), rng.integers(10, size=5)
    X_device, y_device = to_device(X, cp), to_device(y, cp)
    assert device_engine.agrees_with_model(X_device, y_device) == (True, "")
    host_loss, host_grads = host_engine.loss(X, y)
    device_loss, device_grads = device_engine.loss(X_device, y_device)
    assert type(device_loss) is float and device_loss == pytest.approx(host_loss, rel=1e-9)
    for name, grad in host_grads.items():
        assert get_array_module(device_grads[name]) is cp
        assert_same(device_grads[name], grad, f"gradient of {name}")
    for number, bn_param in host_model.bn_params.items():  # the running statistics stay on the device
        for key in ("running_mean", "running_var"):
            assert get_array_module(device_model.bn_params[number][key]) is cp
            assert_same(device_model.bn_params[number][key], bn_param[key], f"{key}{number}")
    assert_same(device_engine.loss(X_device), host_engine.loss(X), "scores")
    configs = {name: {"learning_rate": 1e-2} for name in host_model.params}
    device_configs = {name: {"learning_rate": 1e-2} for name in host_model.params}
    assert host_engine.adam_update(configs) and device_engine.adam_update(device_configs)
    # Adam's first step is about lr * sign(gradient): on a real GPU a gradient that is rounding
    # noise may change sign, moving that entry by up to 2 * lr; the stand-in computes as NumPy does.
    atol = 1e-12 if cp is strict_cupy else 2 * 1e-2
    for name, value in host_model.params.items():
        np.testing.assert_allclose(to_numpy(device_model.params[name]), value, rtol=1e-9, atol=atol,
                                   err_msg=f"{name} after one Adam step")
    # SGD with Nesterov momentum and weight decay, in place on the device's flat buffers.
    host_engine.loss(X, y), device_engine.loss(X_device, y_device)
    nesterov = {"learning_rate": 1e-2, "momentum": 0.9, "weight_decay": 0.1}
    configs = {name: dict(nesterov) for name in host_model.params}
    device_configs = {name: dict(nesterov) for name in host_model.params}
    assert (host_engine.update_in_place(optim.sgd_nesterov, configs)
            and device_engine.update_in_place(optim.sgd_nesterov, device_configs))
    for name, value in host_model.params.items():
        assert get_array_module(device_configs[name]["velocity"]) is cp
        np.testing.assert_allclose(to_numpy(device_model.params[name]), value, rtol=1e-9, atol=atol,
                                   err_msg=f"{name} after a Nesterov step")


# ----------------------------------------------------------------------------- the Solver

@pytest.mark.parametrize("engine, rule", [("auto", "adam"), ("off", "sgd_momentum")])
def test_the_solver_trains_on_the_device_and_checkpoints_to_the_host(cp, tmp_path, engine, rule):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10, num_classes=3,
                              weight_scale=1e-2, reg=1e-3, backend="cupy")
    solver = Solver(model, small_problem(), num_epochs=2, batch_size=10, update_rule=rule, engine=engine,
                    verbose=False, seed=0, checkpoint_name=str(tmp_path / "run"))
    solver.train()
    assert solver.engine_note.startswith("on" if engine == "auto" else "off")
    assert all(get_array_module(v) is cp for v in model.params.values())
    assert all(type(loss) is float and np.isfinite(loss) for loss in solver.loss_history)
    resumed = Solver(ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                                       num_classes=3, backend="cupy"),
                     small_problem(), num_epochs=3, batch_size=10, update_rule=rule, engine=engine, verbose=False)
    resumed.load_checkpoint(tmp_path / "run_epoch_2.pkl")
    assert all(get_array_module(v) is cp for v in resumed.model.params.values())
    resumed.train()
    assert resumed.epoch == 3 and len(resumed.loss_history) == 3 * 4


def device_reads_per_step(stand_in, model, engine, steps=3):
    """(host-to-device, device-to-host) transfers of each of ``steps`` Solver steps after the first."""
    solver = Solver(model, small_problem(), batch_size=10, update_rule="adam", engine=engine, verbose=False, seed=0)
    solver._step()  # the first step also checks the engine against model.loss
    strict_cupy.TRANSFERS.reset()
    for _ in range(steps):
        solver._step()
    counts = strict_cupy.TRANSFERS
    where = counts.where("device_to_host")
    return counts.host_to_device / steps, counts.device_to_host / steps, where


@pytest.mark.parametrize("engine, expected_reads", [
    ("auto", 4),  # labels checked by the engine and by softmax_loss, the data loss, the L2 term
    ("off", 3),   # labels, the data loss, the L2 term of all weights at once
])
def test_a_training_step_copies_the_batch_in_and_reads_back_only_scalars(stand_in_cupy, engine, expected_reads):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10, num_classes=3,
                              weight_scale=1e-2, reg=1e-3, backend="cupy")
    copies_in, reads, where = device_reads_per_step(stand_in_cupy, model, engine)
    assert copies_in == 2, strict_cupy.TRANSFERS.log  # X_batch and y_batch, once each
    assert reads == expected_reads, f"device-to-host reads per step: {where}"


def test_a_convnet_step_reads_its_l2_term_once_however_deep(stand_in_cupy):
    model = ConvNet("[CONV3-4 -> RELU]*2 -> POOL2 -> FC-6 -> RELU -> FC-5 -> RELU -> FC", input_dim=(3, 8, 8),
                    reg=1e-3, num_classes=3, backend="cupy", seed=0)
    _, reads, where = device_reads_per_step(stand_in_cupy, model, engine="off")
    assert reads == 3, f"device-to-host reads per step: {where}"


def test_the_accuracy_check_copies_one_batch_in_and_its_predictions_out(stand_in_cupy):
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10, num_classes=3,
                              backend="cupy")
    data = small_problem()
    solver = Solver(model, data, verbose=False)
    strict_cupy.TRANSFERS.reset()
    solver.check_accuracy(data["X_train"], data["y_train"], batch_size=10)  # 40 images: 4 batches
    counts = strict_cupy.TRANSFERS
    assert (counts.host_to_device, counts.device_to_host) == (4, 4), counts.log


# ----------------------------------------------------------------------------- the training command

def test_the_training_command_runs_on_the_device(cp, tmp_path):
    data = str(write_batches(tmp_path / "data" / "cifar-10-batches-py"))
    common = ["--data", data, "--out", str(tmp_path / "run"), "--backend", "cupy", "--num-train", "40",
              "--num-val", "10", "--num-test", "10", "--batch-size", "20"]
    metrics = train.main([*common, "--num-filters", "4", "--hidden-dim", "8", "--epochs", "1"])
    assert metrics["backend"] == cp.__name__ and metrics["engine"].startswith("on")
    metrics = train.main([*common, "--num-filters", "4", "--hidden-dim", "8", "--epochs", "2", "--resume"])
    assert metrics["epochs"] == 2
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["backend"] == cp.__name__ and 0.0 <= saved["test_acc"] <= 1.0
    metrics = train.main(["--data", data, "--out", str(tmp_path / "convnet"), "--backend", "auto", "--model", "convnet",
                          "--spec", "CONV3-4 -> RELU -> POOL2 -> FC", "--augment", "--normalize", "--num-train", "40",
                          "--num-val", "10", "--num-test", "10", "--batch-size", "20"])
    assert metrics["backend"] == cp.__name__  # auto picks the device


def test_the_90_percent_recipes_options_train_on_the_device_as_on_numpy(cp, tmp_path):
    """Every option of the recipe (docs/training.md) at once, on a tiny BN net: the device run
    ends with the parameters and accuracies of the NumPy run."""
    data = str(write_batches(tmp_path / "data" / "cifar-10-batches-py"))
    recipe = ["--data", data, "--model", "convnet", "--dtype", "float64", "--num-train", "40", "--num-val", "10",
              "--num-test", "10", "--batch-size", "10", "--epochs", "2",
              "--spec", "CONV3-4 -> BN -> RELU -> CONV3-4 -> BN -> RELU -> POOL2 -> FC", "--normalize",
              "--augment", "--crop-pad", "2", "--dirac-init", "--score-scale", "1/9", "--reg", "0",
              "--update-rule", "sgd_nesterov", "--learning-rate", "0.5", "--momentum", "0.85",
              "--weight-decay", "0.01", "--lr-scale", "gamma*=0", "--lr-scale", "beta*=64",
              "--label-smoothing", "0.2", "--schedule", "linear", "--warmup-epochs", "1",
              "--sampling", "permutation", "--lookahead", "--tta", "--tta-translate", "1"]
    runs = {backend: train.main([*recipe, "--backend", backend, "--out", str(tmp_path / backend)])
            for backend in ("numpy", "cupy")}
    assert runs["cupy"]["backend"] == cp.__name__ and runs["cupy"]["engine"].startswith("on")
    for key in ("final_train_acc", "best_val_acc", "test_acc", "test_acc_flip_only", "test_acc_without_tta"):
        assert runs["cupy"][key] == runs["numpy"][key], key
    saved = {backend: load_checkpoint(tmp_path / backend / "best_model.npz").model.params for backend in runs}
    for name, value in saved["numpy"].items():
        np.testing.assert_allclose(saved["cupy"][name], value, rtol=1e-9, atol=1e-12, err_msg=name)


# ----------------------------------------------------------------------------- the training notebook

def notebook_cells(path):
    """{grade id or position: source} of the code cells, and the ids in order."""
    nb = nbformat.read(path, as_version=4)
    cells = [(nbgrader_meta(cell).get("grade_id") or f"cell {i}", cell.source)
             for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    return cells


def test_the_training_notebooks_best_model_section_runs_on_the_device(cp, tmp_path, monkeypatch):
    """The setup cell, then every code cell from the best model on, in quick mode with
    backend="auto" resolving to the device, on a small synthetic data set."""
    data = notebook_utils.synthetic_cifar10(num_training=100, num_validation=50, num_test=20,
                                              with_mean_image=True)   # as notebook_data gives it
    monkeypatch.setattr(notebook_utils, "notebook_data", lambda: type(data)(data))
    monkeypatch.setenv("CS231N_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    cells = notebook_cells(TRAINING_NOTEBOOK)
    ids = [grade_id for grade_id, _ in cells]
    setup = dict(cells)["train-setup"]
    section = cells[ids.index("train-best-model"):]
    namespace = {"__name__": "__main__", "data": notebook_utils.notebook_data()}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile("\n".join(line for line in setup.splitlines() if not line.startswith("%")),
                     "train-setup", "exec"), namespace)
        for grade_id, source in section:
            exec(compile(source, f"{TRAINING_NOTEBOOK.name} [{grade_id}]", "exec"), namespace)
    output = printed.getvalue()
    best_model, score = namespace["best_model"], namespace["score"]
    assert all(get_array_module(v) is cp for v in best_model.params.values()), output
    assert not any("10 scores per image" in failure for failure in score.failures), output
    assert isinstance(namespace["best_val_acc"], float), output
    assert "test accuracy:" in output
