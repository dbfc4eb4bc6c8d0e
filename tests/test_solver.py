"""The Solver: CS231n's arguments and histories, overfitting, checkpoints and resume."""

import pytest

from cs231n_lib import optim
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

@pytest.mark.parametrize("schedule, expected", [
    # 3 epochs of 4 iterations, 1 epoch of warm-up: 1/4, 2/4, 3/4, 1, then 8 steps of decay to zero.
    ("linear", [0.25, 0.5, 0.75, 1, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8]),
    ("cosine", [0.25, 0.5, 0.75, 1] + [0.5 * (1 + np.cos(np.pi * k / 8)) for k in range(8)]),
])
def test_learning_rate_schedules_set_every_iteration(schedule, expected):
    seen = []

    def spy_sgd(w, dw, config):
        seen.append(config["learning_rate"])
        return optim.sgd(w, dw, config)
    solver = Solver(small_model(), small_problem(), num_epochs=3, batch_size=10, update_rule=spy_sgd,
                    optim_config={"learning_rate": 0.2}, lr_schedule=schedule, warmup_epochs=1,
                    verbose=False, seed=0)
    solver.train()
    per_step = seen[::len(solver.model.params)]  # the rule runs once per parameter
    assert len(seen) == 12 * len(solver.model.params) and len(set(seen[:len(solver.model.params)])) == 1
    np.testing.assert_allclose(per_step, 0.2 * np.array(expected), rtol=1e-12)


def test_schedule_arguments_are_checked():
    problem = small_problem()
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        Solver(small_model(), problem, lr_schedule="exponential", optim_config={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="warmup_epochs goes with lr_schedule 'linear' or 'cosine'"):
        Solver(small_model(), problem, warmup_epochs=1)
    with pytest.raises(ValueError, match=r"0 <= warmup_epochs < num_epochs \(2\), got 2"):
        Solver(small_model(), problem, num_epochs=2, lr_schedule="linear", warmup_epochs=2,
               optim_config={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="lr_decay \\(0.5\\) is the 'step' schedule's"):
        Solver(small_model(), problem, lr_schedule="cosine", lr_decay=0.5, optim_config={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="give one"):
        Solver(small_model(), problem, lr_schedule="cosine")


def test_flip_test_time_augmentation_averages_an_image_and_its_mirror():
    class FirstRowScores:
        """Scores = the first row of the first channel: (N, 1, 1, 3) images, 3 classes."""
        params = {"unused": np.zeros(1)}

        def loss(self, X, y=None):
            return X[:, 0, 0, :]
    X = np.array([[[[3.0, 0.0, 2.0]]], [[[0.0, 2.0, 3.0]]], [[[1.0, 0.0, 0.0]]]])
    y = np.array([0, 2, 2])
    # Plain argmax: 0, 2, 0 (2 of 3); mirrored average (x + x[::-1]) / 2: [2.5, 0, 2.5] -> 0,
    # [1.5, 2, 1.5] -> 1, [0.5, 0, 0.5] -> 0 (1 of 3).
    solver = Solver(FirstRowScores(), {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, engine="off")
    assert solver.check_accuracy(X, y) == pytest.approx(2 / 3)
    assert solver.check_accuracy(X, y, flip=True) == pytest.approx(1 / 3)
    assert solver.check_accuracy(X, np.array([0, 1, 0]), flip=True, batch_size=2) == 1.0


def test_translate_test_time_augmentation_adds_shifted_mirrored_pairs():
    """translate=1: half the plain pair's scores, a quarter each of the pairs shifted by one pixel
    up-left and down-right, the border reflected (index arithmetic written out here)."""
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((2 * 5 * 6, 4))

    class LinearScores:
        params = {"unused": np.zeros(1)}

        def loss(self, X, y=None):
            return X.reshape(len(X), -1) @ weights
    X = rng.standard_normal((40, 2, 5, 6))
    reflect = lambda i, n: -i if i < 0 else 2 * (n - 1) - i if i >= n else i  # noqa: E731

    def moved(X, d):
        rows = [reflect(i - d, 5) for i in range(5)]
        cols = [reflect(j - d, 6) for j in range(6)]
        return X[:, :, rows][:, :, :, cols]
    pair = lambda X: (LinearScores().loss(X) + LinearScores().loss(X[..., ::-1])) / 2  # noqa: E731
    expected = pair(X) / 2 + (pair(moved(X, -1)) + pair(moved(X, 1))) / 4
    y = expected.argmax(axis=1)
    solver = Solver(LinearScores(), {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, engine="off")
    assert solver.check_accuracy(X, y, flip=True, translate=1, batch_size=16) == 1.0
    assert solver.check_accuracy(X, y, flip=True) < 1.0  # the shifted pairs changed some answers
    with pytest.raises(ValueError, match="goes with flip=True"):
        solver.check_accuracy(X, y, translate=1)


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


def test_lr_scales_set_each_parameters_rate_and_keep_its_decay():
    """Per-parameter learning rates follow the schedule times their factor; sgd_nesterov's decay
    per step (learning_rate * weight_decay) stays the same, and bad patterns are refused."""
    seen = {}

    def spy_nesterov(w, dw, config):
        seen.setdefault(id(config), []).append((config["learning_rate"], config["weight_decay"]))
        return optim.sgd_nesterov(w, dw, config)
    solver = Solver(small_model(), small_problem(), num_epochs=2, batch_size=10, update_rule=spy_nesterov,
                    optim_config={"learning_rate": 0.2, "weight_decay": 0.01}, lr_schedule="linear",
                    lr_scales={"W3": 0.25, "b*": 4}, verbose=False, seed=0)
    solver.train()
    schedule = 0.2 * np.array([1 - t / 8 for t in range(8)])
    for name, config in solver.optim_configs.items():
        factor = {"W3": 0.25, "b1": 4, "b2": 4, "b3": 4}.get(name, 1.0)
        rates, decays = np.array(seen[id(config)]).T
        np.testing.assert_allclose(rates, factor * schedule, rtol=1e-12)
        np.testing.assert_allclose(rates * decays, 0.01 * schedule, rtol=1e-12)
    problem, config = small_problem(), {"learning_rate": 0.1}
    for lr_scales, message in [({"V*": 2}, r"pattern 'V\*' matches no parameter; the model's are \['W1'"),
                               ({"W*": 2, "W1": 3}, "parameter 'W1' matches two lr_scales patterns"),
                               ({"b*": -1}, r"lr_scales\['b\*'\] must be a number >= 0, got -1")]:
        with pytest.raises(ValueError, match=message):
            Solver(small_model(), problem, optim_config=config, lr_scales=lr_scales)
    with pytest.raises(ValueError, match="lr_scales scales optim_config"):
        Solver(small_model(), problem, lr_scales={"W1": 2})


def test_permutation_sampling_sees_every_image_once_per_epoch():
    problem = small_problem(n=40)
    seen = []
    solver = Solver(small_model(), problem, num_epochs=3, batch_size=8, sampling="permutation",
                    optim_config={"learning_rate": 0.0}, verbose=False, seed=0)
    original = solver._next_minibatch
    solver._next_minibatch = lambda: seen.append(original()) or seen[-1]
    solver.train()
    epochs = np.array(seen).reshape(3, -1)  # 5 minibatches of 8 per epoch
    for epoch in epochs:
        assert sorted(epoch) == list(range(40))
    assert not np.array_equal(epochs[0], epochs[1])  # a fresh shuffle each epoch
    with pytest.raises(ValueError, match="sampling must be one of"):
        Solver(small_model(), problem, sampling="stratified")


class ConstantSlope:
    """loss(X, y): the gradient of every weight is 1, whatever the minibatch; scores 0."""

    def __init__(self):
        self.params = {"w": np.array([0.0, 10.0])}

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((len(X), 2))
        return 0.0, {"w": np.ones(2)}


def test_lookahead_averages_the_weights_every_5_steps_and_survives_a_resume(tmp_path):
    """lookahead=True against the rule written out on floats: w -= lr each step; every 5th step
    and the last, average += (1 - decay) * (w - average) and w = average, decay = 0.95^5 * p^3
    (p the fraction done), 1 at the end; a run resumed from its epoch-1 checkpoint ends the same."""
    problem = small_problem(n=40)  # 40 images, batch 8: 5 steps an epoch, 3 epochs = 15 steps

    def solver(**kwargs):
        return Solver(ConstantSlope(), problem, num_epochs=3, batch_size=8, update_rule="sgd",
                      optim_config={"learning_rate": 0.1}, engine="off", verbose=False, seed=0, **kwargs)
    w = average = 0.0
    for step in range(1, 16):
        w -= 0.1
        if step % 5 == 0 or step == 15:
            decay = 0.95 ** 5 * (step / 15) ** 3 if step < 15 else 1.0
            average += (1 - decay) * (w - average)
            w = average
    averaged = solver(lookahead=True, checkpoint_name=str(tmp_path / "run"))
    averaged.model.params["w"][...] = 0.0
    averaged.train()
    np.testing.assert_allclose(averaged.lookahead_average["w"], w, rtol=1e-12)
    assert w != pytest.approx(-1.5)  # 15 plain steps of 0.1: the averaging did change the weights
    import pickle
    last = pickle.loads((tmp_path / "run_epoch_3.pkl").read_bytes())
    np.testing.assert_allclose(last["params"]["w"], w, rtol=1e-12)  # the final weights are the average
    resumed = solver(lookahead=True)
    resumed.load_checkpoint(tmp_path / "run_epoch_1.pkl")
    resumed.train()
    np.testing.assert_allclose(resumed.lookahead_average["w"], averaged.lookahead_average["w"], rtol=1e-12)
    with pytest.raises(ValueError, match="lookahead must be True or False"):
        solver(lookahead="yes")
