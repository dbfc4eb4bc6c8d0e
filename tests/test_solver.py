"""The Solver: CS231n's arguments and histories, overfitting, checkpoints and resume."""

import pytest

from cs231n_lib.backend import np, to_device
from cs231n_lib.classifiers import ThreeLayerConvNet
from cs231n_lib.solver import Solver


def random_images(n, shape=(3, 32, 32), num_classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(num_classes, size=n)


def small_problem(n=40, seed=0):
    X, y = random_images(n, shape=(3, 8, 8), num_classes=3, seed=seed)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


def small_model(**kwargs):
    return ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                             num_classes=3, weight_scale=1e-2, **kwargs)


@pytest.mark.slow
def test_overfits_100_training_images_to_100_percent():
    """CS231n's sanity check: the full-size model memorizes 100 images (here random noise)."""
    X, y = random_images(100)
    data = {"X_train": X, "y_train": y, "X_val": X[:20], "y_val": y[:20]}
    np.random.seed(231)
    model = ThreeLayerConvNet(weight_scale=1e-2)
    solver = Solver(model, data, num_epochs=30, batch_size=50, update_rule="adam",
                    optim_config={"learning_rate": 1e-3}, verbose=False, seed=0)
    solver.train()
    assert solver.train_acc_history[0] < 0.3
    assert max(solver.train_acc_history) == 1.0
    assert solver.loss_history[-1] < solver.loss_history[0] / 2


def test_unknown_arguments_are_rejected():
    with pytest.raises(TypeError, match=r"unknown arguments \['learning_rate'\]"):
        Solver(small_model(), small_problem(), learning_rate=1e-3)
    with pytest.raises(ValueError, match="unknown update_rule 'adamw'"):
        Solver(small_model(), small_problem(), update_rule="adamw")
    with pytest.raises(ValueError, match=r"missing \['y_val'\]"):
        Solver(small_model(), {k: v for k, v in small_problem().items() if k != "y_val"})


def test_histories_lr_decay_and_best_params_swapped_in(capsys):
    np.random.seed(0)
    model = small_model()
    solver = Solver(model, small_problem(), num_epochs=3, batch_size=10, update_rule="sgd",
                    optim_config={"learning_rate": 0.5}, lr_decay=0.5, print_every=1, seed=1)
    solver.train()
    iterations = 3 * 40 // 10
    assert len(solver.loss_history) == iterations
    assert all(isinstance(v, float) for v in solver.loss_history)
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4  # epoch 0 to 3
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert all(c["learning_rate"] == pytest.approx(0.5 * 0.5 ** 3) for c in solver.optim_configs.values())
    for name, best in solver.best_params.items():
        assert model.params[name] is best
    assert solver.check_accuracy(solver.X_val, solver.y_val) == pytest.approx(solver.best_val_acc)
    printed = capsys.readouterr().out
    assert "(Epoch 3 / 3) train acc:" in printed and "(Iteration 1 / 12) loss:" in printed


def test_progress_bar_when_not_verbose(capsys):
    solver = Solver(small_model(), small_problem(), num_epochs=1, batch_size=20, verbose=False)
    solver.train()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "training" in captured.err and "2/2" in captured.err


def test_seed_makes_training_repeatable():
    histories = []
    for _ in range(2):
        np.random.seed(5)
        solver = Solver(small_model(), small_problem(), num_epochs=1, batch_size=10, verbose=False, seed=3)
        solver.train()
        histories.append(solver.loss_history)
    assert histories[0] == histories[1]


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    def make_solver(num_epochs):
        np.random.seed(7)
        return Solver(small_model(), small_problem(), num_epochs=num_epochs, batch_size=10,
                      update_rule="adam", verbose=False, seed=11,
                      checkpoint_name=str(tmp_path / "run"))

    first = make_solver(1)
    first.train()
    checkpoint = tmp_path / "run_epoch_1.pkl"
    assert checkpoint.exists() and not list(tmp_path.glob("*.part"))
    resumed = make_solver(2)
    resumed.load_checkpoint(checkpoint)
    assert resumed.epoch == 1 and resumed.loss_history == first.loss_history
    assert resumed.optim_configs["W1"]["t"] == 4  # Adam's state came back too
    resumed.train()
    assert len(resumed.loss_history) == 8 and len(resumed.val_acc_history) == 3
    assert (tmp_path / "run_epoch_2.pkl").exists()


def test_checkpoint_of_another_model_is_refused(tmp_path):
    solver = Solver(small_model(), small_problem(), num_epochs=1, batch_size=20, verbose=False,
                    checkpoint_name=str(tmp_path / "a"))
    solver.train()
    other = Solver(ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=4,
                                     num_classes=3), small_problem(), verbose=False)
    other.model.params.pop("b3")
    with pytest.raises(ValueError, match="holds parameters"):
        other.load_checkpoint(tmp_path / "a_epoch_1.pkl")


def test_trains_on_each_backend(xp):
    backend = "numpy" if xp is np else "cupy"
    model = small_model(backend=backend)
    solver = Solver(model, small_problem(), num_epochs=1, batch_size=10, verbose=False)
    solver.train()
    assert all(type(v) is type(to_device(np.zeros(1), xp)) for v in model.params.values())
    assert isinstance(solver.val_acc_history[-1], float)


def test_the_best_parameters_come_back_with_their_running_statistics():
    """BN's running statistics are state beside the parameters: the best epoch's come back with its
    parameters (the last step's would not match them)."""
    from cs231n_lib.classifiers import ConvNet
    from cs231n_lib.solver import bn_state
    data = small_problem(n=40, seed=1)
    rng = np.random.default_rng(7)
    data["y_val"] = rng.integers(3, size=10)  # labels the net cannot learn: here the best epoch is the second
    model = ConvNet("CONV3-4 -> BN -> RELU -> POOL2 -> FC-6 -> BN -> RELU -> FC", input_dim=(3, 8, 8), num_classes=3,
                    seed=0)
    solver = Solver(model, data, num_epochs=5, batch_size=10, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    verbose=False, seed=3)
    seen = []
    record = solver._record_accuracies

    def spy():
        result = record()
        seen.append(bn_state(model))
        return result
    solver._record_accuracies = spy
    solver.train()
    best = solver.val_acc_history.index(max(solver.val_acc_history))
    assert best < len(seen) - 1, "the test needs a best epoch before the last"
    for number, stats in seen[best].items():
        for key, value in stats.items():
            np.testing.assert_array_equal(model.bn_params[number][key], value, err_msg=f"{key}{number}")


def test_the_solver_asks_no_other_model_for_bn_state():
    """The grader trains a student's model through a proxy that answers a missing attribute with the
    student's error, not an AttributeError: the Solver must not probe a ThreeLayerConvNet for bn_params."""
    class AnswersEverything(ThreeLayerConvNet):
        def __getattr__(self, name):
            raise RuntimeError(f"the student's process says: no attribute {name!r}")
    model = AnswersEverything(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10, num_classes=3,
                              weight_scale=1e-2)
    solver = Solver(model, small_problem(), num_epochs=1, batch_size=10, verbose=False)
    solver.train()
    assert solver.best_bn_state == {} and len(solver.loss_history) == 4
