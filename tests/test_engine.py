"""The training engine against the naive layers and the models' own loss, on every branch.

MEC conv against the naive conv (stride, pad, odd and non-square sizes, 1x1 filters);
the engine against model.loss for ThreeLayerConvNet and ConvNet specs that take each
path (fused pool before or after the ReLU, no pool, no ReLU, strides, FC-only, ties in
the pool); threads and memory shards; Adam in place over several steps; the fallback
where the engine does not apply, and the Solver's choice.
"""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cs231n_lib import fast_layers, layers, optim
from cs231n_lib.backend import np, resolve_backend, to_device, to_numpy
from cs231n_lib.classifiers import ConvNet, ThreeLayerConvNet
from cs231n_lib.engine import EngineUnsupported, TrainingEngine
from cs231n_lib.gradient_check import eval_numerical_gradient
from cs231n_lib.mec import conv_backward_mec, conv_forward_mec
from cs231n_lib.solver import Solver

from .conftest import BACKEND_PARAMS


# ----------------------------------------------------------------------------- MEC conv vs naive

@st.composite
def mec_cases(draw):
    """A valid conv geometry without dilation: the output size first, then the input size."""
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 3))
    HH, WW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    H_out, W_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    H, W = (H_out - 1) * stride + HH - 2 * pad, (W_out - 1) * stride + WW - 2 * pad
    assume(H >= 1 and W >= 1)
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)),
            rng.standard_normal(F), {"stride": stride, "pad": pad})


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@given(case=mec_cases())
def test_mec_conv_matches_naive_forward_and_backward(backend, case):
    xp = resolve_backend(backend)
    x, w, b, conv_param = case
    out, cache = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    expected = layers.conv_backward_naive(dout, cache)
    out_mec, cache_mec = conv_forward_mec(*(to_device(a, xp) for a in (x, w, b)), conv_param)
    got = conv_backward_mec(to_device(dout, xp), cache_mec)
    np.testing.assert_allclose(to_numpy(out_mec), out, rtol=1e-10, atol=1e-10)
    for name, g, e in zip(("dx", "dw", "db"), got, expected):
        np.testing.assert_allclose(to_numpy(g), e, rtol=1e-10, atol=1e-10, err_msg=name)


def test_mec_conv_refuses_dilation_and_checks_its_input(rng):
    x, w, b = rng.standard_normal((1, 1, 7, 7)), rng.standard_normal((1, 1, 3, 3)), np.zeros(1)
    with pytest.raises(ValueError, match="dilation 1 only, got 2"):
        conv_forward_mec(x, w, b, {"stride": 1, "pad": 0, "dilation": 2})
    with pytest.raises(ValueError, match=r"W=7, F=3, P=0, S=3 gives 2\.333"):
        conv_forward_mec(x, w, b, {"stride": 3, "pad": 0})
    out, cache = conv_forward_mec(x, w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 1, 7, 7\)"):
        conv_backward_mec(out[:, :, 1:], cache)


# ----------------------------------------------------------------------------- engine vs model.loss

def assert_engine_matches(model, N, rng, threads=1, tolerance=1e-9):
    X = rng.standard_normal((N, *model.input_dim))
    y = rng.integers(10, size=N)
    engine = TrainingEngine(model, threads=threads)
    expected_loss, expected_grads = model.loss(X, y)
    loss, grads = engine.loss(X, y)
    assert loss == pytest.approx(expected_loss, rel=tolerance)
    assert set(grads) == set(expected_grads)
    for name, grad in grads.items():
        scale = np.abs(expected_grads[name]).max()
        np.testing.assert_allclose(grad, expected_grads[name], rtol=0, atol=tolerance * scale, err_msg=name)
    np.testing.assert_allclose(engine.loss(X), model.loss(X), rtol=tolerance, atol=tolerance)
    engine.close()
    return engine


@pytest.mark.parametrize("filter_size, size", [(3, 8), (5, 6), (7, 10), (1, 4)])
def test_three_layer_convnet(rng, filter_size, size):
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(3, size, size), num_filters=4, filter_size=filter_size, hidden_dim=7,
                              weight_scale=0.1, reg=0.1, dtype=np.float64)
    assert_engine_matches(model, 5, rng)


CONVNET_CASES = [  # (spec, input side): each takes another branch of the engine
    ("CONV3-4 -> RELU -> POOL2 -> CONV3-6 -> RELU -> POOL2 -> FC-8 -> RELU -> FC", 12),  # the recipe's shape
    ("CONV5-4/p1 -> POOL2 -> RELU -> CONV3-5/p0 -> FC-6 -> FC", 12),  # pool before ReLU; conv without ReLU
    ("CONV3-4 -> RELU -> CONV3-6/s2/p0 -> RELU -> FC", 11),  # odd size, stride 2, no pool
    ("CONV3-4/s2/p1 -> RELU -> CONV1-3 -> POOL2 -> FC", 11),  # strided conv; 1x1 conv into a pool
    ("CONV3-4/s3/p1 -> RELU -> CONV2-3/s2/p0 -> FC", 16),  # stride 3; even filter
    ("CONV3-3/p2 -> RELU -> POOL2 -> FC", 6),  # padding wider than the filter's centre
    ("CONV5-3/s2/p2 -> POOL2 -> FC-5 -> RELU -> FC-4 -> RELU -> FC", 15),  # pool without ReLU; three FCs
    ("FC-10 -> RELU -> FC", 5),  # no conv at all
]


@pytest.mark.parametrize("spec, side", CONVNET_CASES)
@pytest.mark.parametrize("threads", [1, 2])
def test_convnet_specs(rng, spec, side, threads):
    model = ConvNet(spec, input_dim=(3, side, side), dtype=np.float64, reg=0.05, seed=1)
    assert_engine_matches(model, 5, rng, threads=threads)


def test_pool_ties_go_to_the_first_maximum(rng):
    """Windows with equal maxima in every arrangement: the gradient goes where the naive pool sends it.

    The conv's filter copies its input (a centred 1), so the pool sees the 0/1 images, full
    of ties; its first-layer weight gradient reads each routed position's neighbours, so a
    gradient sent to another of the tied taps changes it.
    """
    for relu in ("", "-> RELU "):
        model = ConvNet(f"CONV3-1 {relu}-> POOL2 -> FC", input_dim=(1, 8, 8), dtype=np.float64, seed=2)
        model.params["W1"][...] = 0
        model.params["W1"][0, 0, 1, 1] = 1
        X = rng.integers(0, 2, size=(20, 1, 8, 8)).astype(np.float64)
        y = rng.integers(10, size=20)
        _, expected = model.loss(X, y)
        _, got = TrainingEngine(model).loss(X, y)
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_float32_agrees_within_float32_rounding(rng):
    np.random.seed(3)
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=8, filter_size=7, hidden_dim=20, weight_scale=1e-2)
    engine = TrainingEngine(model)
    X, y = rng.standard_normal((6, 3, 16, 16)).astype(np.float32), rng.integers(10, size=6)
    agrees, difference = engine.agrees_with_model(X, y)
    assert agrees, difference
    loss, grads = engine.loss(X, y)
    assert isinstance(loss, float) and all(g.dtype == np.float32 for g in grads.values())


def test_memory_shards_accumulate_the_same_gradients(rng):
    model = ConvNet("CONV3-4 -> RELU -> POOL2 -> FC-6 -> RELU -> FC", input_dim=(3, 8, 8), dtype=np.float64,
                    reg=0.01, seed=4)
    engine = TrainingEngine(model)
    try:
        fast_layers.set_workspace_budget(3 * engine.workspace_bytes(1))  # three images per shard
        shards = engine.shards(7)
        assert len(shards) == 3 and all(b - a <= 3 for a, b in shards) and shards[-1][1] == 7
        assert_engine_matches(model, 7, rng)
        assert_engine_matches(model, 7, rng, threads=2)
    finally:
        fast_layers.set_workspace_budget(None)


def test_model_params_are_views_and_replacements_are_picked_up(rng):
    model = ConvNet("CONV3-2 -> RELU -> POOL2 -> FC", input_dim=(1, 4, 4), dtype=np.float64, seed=5)
    engine = TrainingEngine(model)
    X, y = rng.standard_normal((2, 1, 4, 4)), np.array([0, 1])
    assert np.shares_memory(model.params["W1"], engine.param_flat)
    model.params["W1"] = model.params["W1"] * 2  # as another update rule or load_checkpoint does
    loss, _ = engine.loss(X, y)
    assert np.shares_memory(model.params["W1"], engine.param_flat)
    assert loss == pytest.approx(model.loss(X, y)[0], rel=1e-12)


# ----------------------------------------------------------------------------- Adam in place

def test_adam_in_place_is_adam_bit_for_bit(rng):
    w, dw = rng.standard_normal(50).astype(np.float32), rng.standard_normal(50).astype(np.float32)
    config_a, config_b = {"learning_rate": 1e-2}, {"learning_rate": 1e-2}
    w_a, w_b = w.copy(), w.copy()
    for _ in range(3):
        w_a, config_a = optim.adam(w_a, dw, config_a)
        w_b_before = w_b
        w_b, config_b = optim.adam_in_place(w_b, dw, config_b)
        assert w_b is w_b_before
    np.testing.assert_array_equal(w_a, w_b)
    np.testing.assert_array_equal(config_a["v"], config_b["v"])
    assert config_a["t"] == config_b["t"] == 3


@pytest.mark.parametrize("threads", [1, 2])
def test_solver_with_the_engine_trains_like_the_solver_without(threads):
    """Several Adam steps: the engine's flat in-place Adam against per-parameter adam on model.loss."""
    rng = np.random.default_rng(6)
    data = {"X_train": rng.standard_normal((30, 3, 8, 8)), "y_train": rng.integers(10, size=30),
            "X_val": rng.standard_normal((10, 3, 8, 8)), "y_val": rng.integers(10, size=10)}
    solvers = []
    for engine in ("off", "on"):
        np.random.seed(7)
        model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                                  weight_scale=0.1, reg=0.01, dtype=np.float64)
        solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9,
                        num_epochs=2, batch_size=10, verbose=False, seed=8, engine=engine, threads=threads)
        solver.train()
        solvers.append(solver)
    off, on = solvers
    assert off.engine is None and on.engine is not None and on.engine_note.startswith("on")
    np.testing.assert_allclose(on.loss_history, off.loss_history, rtol=1e-9)
    for name in off.model.params:
        np.testing.assert_allclose(on.model.params[name], off.model.params[name], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(on.optim_configs[name]["m"], off.optim_configs[name]["m"], rtol=1e-8, atol=1e-14)
        assert on.optim_configs[name]["t"] == off.optim_configs[name]["t"] == 6
    assert on.val_acc_history == off.val_acc_history


def test_the_engine_applies_the_models_label_smoothing(rng):
    model = ConvNet(CONVNET_CASES[0][0], input_dim=(3, 12, 12), dtype=np.float64, reg=0.05, seed=1,
                    label_smoothing=0.3)
    engine = assert_engine_matches(model, 5, rng)
    X, y = rng.standard_normal((4, 3, 12, 12)), rng.integers(10, size=4)
    smoothed = engine.loss(X, y)[0]
    model.label_smoothing = 0.0
    assert engine.loss(X, y)[0] != pytest.approx(smoothed, rel=1e-6)  # read at every call, not frozen


@pytest.mark.parametrize("threads, lr_scales", [(1, None), (2, None), (2, {"W3": 0.25, "b*": 4, "W1": 0})])
def test_the_engines_nesterov_with_weight_decay_trains_like_the_per_parameter_rule(threads, lr_scales):
    """SGD with Nesterov momentum, weight decay, a warm-up and cosine schedule, label smoothing,
    per-parameter learning rates: the engine's flat in-place update against sgd_nesterov on each
    array of model.loss's gradients."""
    rng = np.random.default_rng(6)
    data = {"X_train": rng.standard_normal((30, 3, 8, 8)), "y_train": rng.integers(10, size=30),
            "X_val": rng.standard_normal((10, 3, 8, 8)), "y_val": rng.integers(10, size=10)}
    solvers = []
    for engine in ("off", "on"):
        model = ConvNet("CONV3-4 -> RELU -> POOL2 -> FC-8 -> RELU -> FC", input_dim=(3, 8, 8), dtype=np.float64,
                        reg=0.01, seed=7, label_smoothing=0.2)
        solver = Solver(model, data, update_rule="sgd_nesterov", num_epochs=2, batch_size=10, verbose=False,
                        optim_config={"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.1},
                        lr_schedule="cosine", warmup_epochs=1, seed=8, engine=engine, threads=threads,
                        lr_scales=lr_scales)
        before = {name: w.copy() for name, w in model.params.items()}
        solver.train()
        solvers.append(solver)
    off, on = solvers
    assert off.engine is None and on.engine is not None
    if lr_scales:  # a factor of 0 freezes W1 (and its decay); the others moved
        assert np.array_equal(on.model.params["W1"], before["W1"])
        assert not np.array_equal(on.model.params["W3"], before["W3"])
    np.testing.assert_allclose(on.loss_history, off.loss_history, rtol=1e-9)
    for name in off.model.params:
        np.testing.assert_allclose(on.model.params[name], off.model.params[name], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(on.optim_configs[name]["velocity"], off.optim_configs[name]["velocity"],
                                   rtol=1e-8, atol=1e-14)
        assert np.shares_memory(on.optim_configs[name]["velocity"], on.engine._state[optim.sgd_nesterov]
                                ["velocity"][0])


def test_other_update_rules_still_work_with_the_engine():
    rng = np.random.default_rng(9)
    data = {"X_train": rng.standard_normal((20, 3, 8, 8)), "y_train": rng.integers(10, size=20),
            "X_val": rng.standard_normal((5, 3, 8, 8)), "y_val": rng.integers(10, size=5)}
    histories = []
    for engine in ("off", "on"):
        np.random.seed(1)
        model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                                  weight_scale=0.1, dtype=np.float64)
        solver = Solver(model, data, update_rule="sgd_momentum", num_epochs=1, batch_size=5, verbose=False,
                        seed=2, engine=engine)
        solver.train()
        histories.append(solver.loss_history)
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-9)


# ----------------------------------------------------------------------------- where it does not apply

@pytest.mark.parametrize("spec, side, reason", [
    ("CONV3-4/d2 -> RELU -> FC", 8, "dilation 2"),
    ("CONV3-4 -> RELU -> POOL3/s2 -> FC", 9, "only 2x2 stride-2 max pooling"),  # windows overlap, do not tile
    ("CONV3-4 -> RELU -> AVGPOOL2 -> FC", 8, "only 2x2 stride-2 max pooling"),
    ("CONV3-4 -> RELU -> L2POOL2 -> FC", 8, "only 2x2 stride-2 max pooling"),
    ("CONV3-4 -> RELU -> POOL2 -> POOL2 -> FC", 8, "does not follow a CONV or FC layer"),
    ("CONV3-4 -> RELU -> CONV8-10/p0", 8, "fully convolutional"),
])
def test_unsupported_layers_are_refused_and_the_solver_falls_back(rng, spec, side, reason):
    model = ConvNet(spec, input_dim=(3, side, side), dtype=np.float64, seed=0)
    with pytest.raises(EngineUnsupported, match=reason):
        TrainingEngine(model)
    if "fully convolutional" in reason:
        return
    data = {"X_train": rng.standard_normal((10, 3, side, side)), "y_train": rng.integers(10, size=10),
            "X_val": rng.standard_normal((4, 3, side, side)), "y_val": rng.integers(10, size=4)}
    solver = Solver(model, data, num_epochs=1, batch_size=5, verbose=False)
    solver.train()
    assert solver.engine is None and solver.engine_note.startswith("off") and reason in solver.engine_note
    with pytest.raises(EngineUnsupported, match=reason):
        Solver(model, data, num_epochs=1, batch_size=5, verbose=False, engine="on").train()


def test_other_models_are_refused():
    class TwoLayerNet:
        params = {"W1": np.zeros((3, 2))}
    with pytest.raises(EngineUnsupported, match="not TwoLayerNet"):
        TrainingEngine(TwoLayerNet())


def test_a_model_whose_loss_disagrees_trains_with_its_own_loss(rng, capsys):
    """A student's ThreeLayerConvNet.loss with a bug: the Solver must train what the student wrote."""
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10, weight_scale=0.1,
                              dtype=np.float64)
    correct_loss = model.loss

    def buggy_loss(X, y=None):
        if y is None:
            return correct_loss(X)
        loss, grads = correct_loss(X, y)
        grads["W2"] = 2 * grads["W2"]  # a wrong gradient
        return loss, grads
    model.loss = buggy_loss
    data = {"X_train": rng.standard_normal((20, 3, 8, 8)), "y_train": rng.integers(10, size=20),
            "X_val": rng.standard_normal((5, 3, 8, 8)), "y_val": rng.integers(10, size=5)}
    solver = Solver(model, data, num_epochs=1, batch_size=10, verbose=True, print_every=100)
    solver.train()
    assert solver.engine is None
    assert "engine disagrees with model.loss" in solver.engine_note and "gradient of W2" in solver.engine_note
    assert "(training engine: off: the engine disagrees" in capsys.readouterr().out
    with pytest.raises(ValueError, match="disagrees with model.loss"):
        Solver(model, data, num_epochs=1, batch_size=10, verbose=False, engine="on").train()


def test_an_unfinished_loss_raises_instead_of_being_replaced(rng):
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10)

    def stub(X, y=None):
        raise NotImplementedError("ThreeLayerConvNet.loss: replace this with your solution")
    model.loss = stub
    data = {"X_train": rng.standard_normal((10, 3, 8, 8)), "y_train": rng.integers(10, size=10),
            "X_val": rng.standard_normal((5, 3, 8, 8)), "y_val": rng.integers(10, size=5)}
    with pytest.raises(NotImplementedError, match="replace this"):
        Solver(model, data, num_epochs=1, batch_size=5, verbose=False).train()


def test_bad_input_and_arguments(rng):
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10)
    engine = TrainingEngine(model)
    with pytest.raises(ValueError, match=r"X must have shape \(2, 3, 8, 8\)"):
        engine.loss(rng.standard_normal((2, 3, 8, 6)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        engine.loss(rng.standard_normal((2, 3, 8, 8)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        TrainingEngine(model, threads=0)
    with pytest.raises(ValueError, match="engine must be one of"):
        Solver(model, {"X_train": np.zeros((2, 3, 8, 8)), "y_train": np.zeros(2, int),
                       "X_val": np.zeros((2, 3, 8, 8)), "y_val": np.zeros(2, int)}, engine="fast")


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_engine_on_each_backend(backend, rng):
    xp = resolve_backend(backend)
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                              weight_scale=0.1, backend=backend)
    engine = TrainingEngine(model, threads=2)
    assert engine.threads == (2 if xp is np else 1)
    X, y = to_device(rng.standard_normal((4, 3, 8, 8)).astype(np.float32), xp), to_device(np.array([0, 1, 2, 3]), xp)
    agrees, difference = engine.agrees_with_model(X, y)
    assert agrees, difference


# ----------------------------------------------------------------------------- batch normalization

BN_CASES = [  # (spec, input side): each takes another branch of the BN stages
    ("CONV3-4 -> BN -> RELU -> POOL2 -> CONV3-6 -> BN -> RELU -> POOL2 -> FC-8 -> BN -> RELU -> FC", 12),
    ("CONV3-4 -> BN -> POOL2 -> RELU -> CONV3-5/s2/p0 -> BN -> RELU -> FC-6 -> BN -> FC", 14),  # pool first; BN into rows
    ("CONV3-4 -> BN -> RELU -> CONV3-5/p0 -> RELU -> FC", 7),  # BN without pool, then a plain conv
    ("FC-10 -> BN -> RELU -> FC", 5),  # BN on an FC only
]


def assert_bn_engine_matches(spec, side, rng, threads, N=7, dtype=np.float64, tolerance=1e-9):
    """The engine against model.loss on a twin model: loss, gradients, the running statistics
    both update, and the test-mode scores with them."""
    model = ConvNet(spec, input_dim=(3, side, side), dtype=dtype, reg=0.05, seed=1)
    twin = ConvNet(spec, input_dim=(3, side, side), dtype=dtype, reg=0.05, seed=1)
    engine = TrainingEngine(twin, threads=threads)
    for step in range(2):  # the second step starts from the running statistics the first left
        X = (2 + 3 * rng.standard_normal((N, 3, side, side))).astype(dtype)
        y = rng.integers(10, size=N)
        expected_loss, expected_grads = model.loss(X, y)
        loss, grads = engine.loss(X, y)
        assert loss == pytest.approx(expected_loss, rel=tolerance)
        assert set(grads) == set(expected_grads) == set(model.params)
        for name, grad in grads.items():
            scale = np.abs(expected_grads[name]).max()
            np.testing.assert_allclose(grad, expected_grads[name], rtol=0, atol=tolerance * scale,
                                       err_msg=f"{name} at step {step}")
        for number, bn_param in model.bn_params.items():
            for key in ("running_mean", "running_var"):
                np.testing.assert_allclose(twin.bn_params[number][key], bn_param[key], rtol=tolerance,
                                           err_msg=f"{key}{number} at step {step}")
        scores = engine.loss(X)  # test mode: the running statistics
        np.testing.assert_allclose(scores, model.loss(X), rtol=tolerance, atol=tolerance)
    engine.close()
    return model


@pytest.mark.parametrize("spec, side", BN_CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_batchnorm_stages_match_the_naive_layers(rng, spec, side, threads):
    """With threads the shards exchange their sums: the statistics are the whole minibatch's
    (shard statistics would give other values, and other gradients)."""
    assert_bn_engine_matches(spec, side, rng, threads)


def test_batchnorm_in_float32_agrees_within_float32_rounding(rng):
    model = ConvNet("CONV3-8 -> BN -> RELU -> POOL2 -> FC-16 -> BN -> RELU -> FC", input_dim=(3, 16, 16), seed=2)
    engine = TrainingEngine(model, threads=2)
    X, y = (3 + 5 * rng.standard_normal((10, 3, 16, 16))).astype(np.float32), rng.integers(10, size=10)
    assert engine.agrees_with_model(X, y) == (True, "")
    assert all(value.dtype == np.float32 for value in engine.loss(X, y)[1].values())
    assert all(v.dtype == np.float32 for p in model.bn_params.values() for v in (p["running_mean"], p["running_var"]))


# The plan's net (docs/training.md) at a quarter of its widths: six convs each before a BN.
DEEP_BN_SPEC = ("CONV3-16 -> BN -> RELU -> POOL2 -> CONV3-16 -> BN -> RELU -> CONV3-32 -> BN -> RELU -> POOL2 -> "
                "CONV3-32 -> BN -> RELU -> CONV3-32 -> BN -> RELU -> POOL2 -> CONV3-32 -> BN -> RELU -> POOL2 -> FC")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_deep_batchnorm_net_in_float32_is_accepted(rng, seed):
    """In float32 the engine and model.loss each differ from float64 by ~0.1-1% on the convs before
    a BN (its backward subtracts means); comparing them with each other in float32 refused a right
    engine (issue 18). The check measures the algorithm, in float64, and leaves the model as it was."""
    model = ConvNet(DEEP_BN_SPEC, input_dim=(3, 32, 32), seed=seed, weight_scale="he", label_smoothing=0.2)
    engine = TrainingEngine(model, threads=2)
    X, y = rng.standard_normal((32, 3, 32, 32)).astype(np.float32), rng.integers(10, size=32)
    params = dict(model.params)
    statistics = {number: dict(bn_param) for number, bn_param in model.bn_params.items()}
    assert engine.agrees_with_model(X, y) == (True, "")
    assert all(model.params[name] is value for name, value in params.items())
    assert model.bn_params == statistics and model.dtype == np.float32
    assert all(value.dtype == np.float32 for value in engine.loss(X, y)[1].values())
    engine.close()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_wrong_batchnorm_stage_is_refused(rng, monkeypatch, dtype, capsys):
    """The check still refuses an engine that computes something else, in float32 as in float64,
    and the Solver then trains with model.loss (or raises with engine="on")."""
    from cs231n_lib import engine as engine_module
    right_backward = engine_module._batchnorm_backward

    def backward_with_doubled_dgamma(*args, **kwargs):  # args: (dz, centered, scratch, inv_std, prepared, names, grads, ...)
        dz = right_backward(*args, **kwargs)
        args[6][args[5][0]] *= 2
        return dz
    monkeypatch.setattr(engine_module, "_batchnorm_backward", backward_with_doubled_dgamma)
    spec = "CONV3-4 -> BN -> RELU -> POOL2 -> FC"
    model = ConvNet(spec, input_dim=(3, 8, 8), seed=1, dtype=dtype)
    X, y = rng.standard_normal((12, 3, 8, 8)).astype(dtype), rng.integers(10, size=12)
    agrees, difference = TrainingEngine(model, threads=2).agrees_with_model(X, y)
    assert not agrees and "gradient of gamma1" in difference
    data = {"X_train": X, "y_train": y, "X_val": X[:4], "y_val": y[:4]}
    solver = Solver(model, data, num_epochs=1, batch_size=6, verbose=True, print_every=100, threads=2)
    solver.train()
    assert solver.engine is None and "gradient of gamma1" in solver.engine_note
    assert "(training engine: off: the engine disagrees" in capsys.readouterr().out
    with pytest.raises(ValueError, match="disagrees with model.loss"):
        Solver(ConvNet(spec, input_dim=(3, 8, 8), seed=1, dtype=dtype), data, num_epochs=1, batch_size=6,
               verbose=False, engine="on").train()


def test_batchnorm_engine_gradients_match_numerical_ones(rng):
    """The engine's own loss, differentiated numerically, for every parameter of a small BN net."""
    model = ConvNet("CONV3-2 -> BN -> RELU -> POOL2 -> FC-3 -> BN -> RELU -> FC", input_dim=(2, 4, 4),
                    num_classes=3, dtype=np.float64, reg=0.1, seed=3)
    engine = TrainingEngine(model, threads=2)
    X, y = rng.standard_normal((5, 2, 4, 4)), rng.integers(3, size=5)
    _, grads = engine.loss(X, y)
    grads = {name: grad.copy() for name, grad in grads.items()}  # views of the engine's buffer
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: engine.loss(X, y)[0], param, verbose=False, h=1e-6)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)
    engine.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_a_bn_minibatch_over_the_workspace_budget_is_one_shard_per_thread(rng, monkeypatch, threads):
    """Batch normalization needs the whole minibatch at once: past the budget the engine still runs one
    shard per thread (normalizing over the whole minibatch, as model.loss) while the memory holds it,
    and says so, without computing anything, when it does not."""
    from cs231n_lib import engine as engine_module
    model = ConvNet("CONV3-4 -> BN -> RELU -> POOL2 -> FC", input_dim=(3, 8, 8), dtype=np.float64, seed=4)
    engine = TrainingEngine(model, threads=threads)
    X, y = rng.standard_normal((7, 3, 8, 8)), rng.integers(10, size=7)
    try:
        fast_layers.set_workspace_budget(3 * engine.workspace_bytes(1))  # three images per shard
        assert len(engine.shards(7)) == 3
        needed = sum(engine.workspace_bytes(n) for n in ([7] if threads == 1 else [4, 3]))  # its shards
        monkeypatch.setattr(engine_module, "_available_memory_bytes", lambda xp: needed - 1)
        with pytest.raises(ValueError, match=rf"a minibatch of 7 images needs {needed:,} bytes of buffers at once "
                                             r"\(one shard per thread: batch normalization needs the whole "
                                             r"minibatch at once\) but only [\d,]+ bytes of memory are available"):
            engine.loss(X, y)
        monkeypatch.setattr(engine_module, "_available_memory_bytes", lambda xp: needed)
        assert engine.agrees_with_model(X, y) == (True, "")
        scores = engine.loss(X)  # test mode normalizes each image alone: memory shards are fine
        np.testing.assert_allclose(scores, model.loss(X), rtol=1e-9)
    finally:
        fast_layers.set_workspace_budget(None)
        engine.close()


def test_available_memory_is_known_on_this_machine():
    from cs231n_lib.engine import _available_memory_bytes
    assert 0 < _available_memory_bytes(np) < 2**50


def test_a_failing_shard_releases_the_others_and_its_error_is_raised(rng, monkeypatch):
    """A worker that fails before the BN exchange must not leave the others waiting forever."""
    from cs231n_lib import engine as engine_module
    model = ConvNet("CONV3-4 -> BN -> RELU -> FC", input_dim=(3, 6, 6), dtype=np.float64, seed=5)
    engine = TrainingEngine(model, threads=2)
    original = engine_module.BatchNormConvStage.forward

    def failing(self, ws, x, prepared):
        if ws["worker"] == 1:
            raise MemoryError("shard 1 ran out of memory")
        return original(self, ws, x, prepared)
    monkeypatch.setattr(engine_module.BatchNormConvStage, "forward", failing)
    with pytest.raises(MemoryError, match="shard 1 ran out of memory"):
        engine.loss(rng.standard_normal((4, 3, 6, 6)), rng.integers(10, size=4))
    monkeypatch.setattr(engine_module.BatchNormConvStage, "forward", original)
    assert np.isfinite(engine.loss(rng.standard_normal((4, 3, 6, 6)), rng.integers(10, size=4))[0])
    engine.close()


def test_solver_trains_a_bn_net_with_the_engine_as_without():
    rng = np.random.default_rng(6)
    data = {"X_train": rng.standard_normal((30, 3, 8, 8)), "y_train": rng.integers(10, size=30),
            "X_val": rng.standard_normal((10, 3, 8, 8)), "y_val": rng.integers(10, size=10)}
    solvers = []
    for engine in ("off", "on"):
        model = ConvNet("CONV3-4 -> BN -> RELU -> POOL2 -> FC-6 -> BN -> RELU -> FC", input_dim=(3, 8, 8),
                        dtype=np.float64, reg=0.01, seed=7)
        solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2}, num_epochs=2,
                        batch_size=10, verbose=False, seed=8, engine=engine, threads=2)
        solver.train()
        solvers.append(solver)
    off, on = solvers
    assert on.engine_note.startswith("on") and off.engine is None
    np.testing.assert_allclose(on.loss_history, off.loss_history, rtol=1e-9)
    assert on.val_acc_history == off.val_acc_history
    for number, bn_param in off.model.bn_params.items():
        for key in ("running_mean", "running_var"):
            np.testing.assert_allclose(on.model.bn_params[number][key], bn_param[key], rtol=1e-9)
