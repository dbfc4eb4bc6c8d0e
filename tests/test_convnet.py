"""The general ConvNet of the notes' pattern, and the FC->CONV conversion."""

import pytest

from cs231n_lib import layers
from cs231n_lib.backend import np
from cs231n_lib.classifiers import ConvNet, fc_to_conv, fc_weights_as_filters, total_stride
from cs231n_lib.solver import Solver


def numerical_model_gradients(model, X, y, h=1e-6):
    grads = {}
    for name, param in model.params.items():
        grads[name] = np.zeros_like(param)
        for ix in np.ndindex(*param.shape):
            old = param[ix]
            param[ix] = old + h
            plus = model.loss(X, y)[0]
            param[ix] = old - h
            minus = model.loss(X, y)[0]
            param[ix] = old
            grads[name][ix] = (plus - minus) / (2 * h)
    return grads


@pytest.mark.parametrize("spec", [
    "INPUT-6x6x2 -> [CONV3-3 -> RELU]*2 -> POOL2 -> FC-5 -> RELU -> FC",
    "INPUT-7x7x2 -> CONV3-3/p0 -> RELU -> AVGPOOL3/s2 -> FC",
    "INPUT-6x6x1 -> CONV3-2/d2 -> RELU -> L2POOL2 -> [FC-4 -> RELU]*2 -> FC",
    "INPUT-6x6x2 -> CONV3-3 -> BN -> RELU -> POOL2 -> FC-5 -> BN -> RELU -> FC",
])
def test_gradients_match_numerical_ones(rng, spec):
    model = ConvNet(spec, num_classes=3, reg=0.1, dtype=np.float64, seed=0)
    X = rng.standard_normal((3, *model.input_dim))  # three images: a batch norm over two is degenerate
    y = rng.integers(3, size=3)
    _, grads = model.loss(X, y)
    numeric = numerical_model_gradients(model, X, y)
    assert set(grads) == set(model.params)
    for name in grads:
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-4, atol=1e-7, err_msg=name)


def test_params_follow_the_spec():
    model = ConvNet("[[CONV3-8 -> RELU]*2 -> POOL2]*2 -> [FC-50 -> RELU]*1 -> FC", input_dim=(3, 32, 32))
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes["W1"] == (8, 3, 3, 3) and shapes["W4"] == (8, 8, 3, 3)
    assert shapes["W5"] == (8 * 8 * 8, 50) and shapes["W6"] == (50, 10)
    assert len(shapes) == 12
    # He initialization: the standard deviation is sqrt(2 / fan_in).
    assert float(model.params["W5"].std()) == pytest.approx(np.sqrt(2 / 512), rel=0.05)


@pytest.mark.parametrize("spec, message", [
    ("CONV3-8 -> RELU -> FC-10 -> CONV3-8 -> FC", "comes after an FC layer"),
    ("CONV3-8 -> RELU -> POOL2", "the last layer must give the class scores"),
    ("CONV3-8/p0 -> POOL2 -> FC", r"W=3, F=2, P=0, S=2"),
])
def test_bad_architectures_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        ConvNet(spec, input_dim=(3, 5, 5))


def test_batchnorm_parameters_and_state_are_cs231n_style():
    model = ConvNet("INPUT-8x8x3 -> CONV3-4 -> BN -> RELU -> POOL2 -> FC-6 -> BN -> RELU -> FC", seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    # beta takes the place of the bias of the layer before a BN (the batch mean would remove it)
    assert shapes == {"W1": (4, 3, 3, 3), "gamma1": (4,), "beta1": (4,), "W2": (64, 6),
                      "gamma2": (6,), "beta2": (6,), "W3": (6, 10), "b3": (10,)}
    assert np.all(model.params["gamma1"] == 1) and np.all(model.params["beta2"] == 0)
    assert sorted(model.bn_params) == [1, 2]
    assert {k: v for k, v in model.bn_params[1].items() if not hasattr(v, "shape")} == \
        {"mode": "train", "eps": 1e-5, "momentum": 0.9}
    assert model.bn_params[2]["running_mean"].shape == model.bn_params[2]["running_var"].shape == (6,)


def test_the_calculator_counts_the_parameters_a_bn_model_has():
    from cs231n_lib.architecture import summarize
    spec = "INPUT-16x16x3 -> [CONV3-8 -> BN -> RELU]*2 -> POOL2 -> FC-12 -> BN -> RELU -> FC-10"
    model = ConvNet(spec, seed=0)
    assert summarize(spec).total_parameters == sum(value.size for value in model.params.values()) == 7122  # 216 + 16, 576 + 16, 6144 + 24, 130


def test_loss_with_labels_trains_the_running_statistics_and_without_uses_them(rng):
    """loss(X, y) runs in train mode (batch statistics, running ones updated); loss(X) in test mode."""
    model = ConvNet("INPUT-4x4x2 -> CONV3-3 -> BN -> RELU -> FC", num_classes=3, dtype=np.float64, seed=0)
    X = 5 + 3 * rng.standard_normal((20, 2, 4, 4))
    y = rng.integers(3, size=20)
    before = model.loss(X)
    assert model.bn_params[1]["mode"] == "test"
    assert np.all(model.bn_params[1]["running_mean"] == 0)  # a test-mode pass leaves them
    for _ in range(60):
        model.loss(X, y)
    assert model.bn_params[1]["mode"] == "train"
    conv_out = layers.conv_forward_naive(X, model.params["W1"], np.zeros(3), {"stride": 1, "pad": 1})[0]
    np.testing.assert_allclose(model.bn_params[1]["running_mean"], conv_out.mean(axis=(0, 2, 3)), rtol=1e-2)
    np.testing.assert_allclose(model.bn_params[1]["running_var"], conv_out.var(axis=(0, 2, 3)), rtol=1e-2)
    # In test mode one image's scores do not depend on the others in the batch.
    np.testing.assert_allclose(model.loss(X)[:1], model.loss(X[:1]), rtol=1e-12)
    assert not np.allclose(model.loss(X), before)


def test_input_dim_from_the_spec_must_agree():
    assert ConvNet("INPUT-8x8x3 -> FC").input_dim == (3, 8, 8)
    with pytest.raises(ValueError, match="disagrees"):
        ConvNet("INPUT-8x8x3 -> FC", input_dim=(3, 16, 16))


def test_learns_a_small_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > 0).astype(int)  # a visual feature decides the class
    model = ConvNet("[CONV3-8 -> RELU -> POOL2]*2 -> FC-16 -> RELU -> FC", input_dim=(3, 8, 8),
                    num_classes=2, seed=0)
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, num_epochs=25,
                    batch_size=20, update_rule="adam", optim_config={"learning_rate": 3e-3},
                    verbose=False, seed=0)
    solver.train()
    assert solver.best_val_acc >= 0.95


def test_fc_to_conv_slides_the_net_over_a_larger_image():
    """The notes' 224 -> 384 example, scaled down: a net trained on 18x18 images with total
    stride 4, forwarded once on a 30x30 image, gives the 4x4 grid of scores that the original
    net gives on the 18x18 crops taken every 4 pixels."""
    rng = np.random.default_rng(3)
    # Unpadded convs: a crop then sees exactly what the big image's window sees (zero
    # padding at a crop's border would differ from the neighbouring pixels of the big image).
    net = ConvNet("INPUT-18x18x3 -> CONV3-6/p0 -> RELU -> POOL2 -> CONV3-8/p0 -> RELU -> POOL2 "
                  "-> FC-12 -> RELU -> FC", num_classes=5, dtype=np.float64, seed=1)
    X = rng.standard_normal((40, 3, 18, 18))
    y = rng.integers(5, size=40)
    Solver(net, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, num_epochs=2, batch_size=10,
           update_rule="adam", verbose=False, seed=0).train()  # "a trained net"
    conv_net = fc_to_conv(net)
    assert "FC" not in conv_net.spec and conv_net.spec.endswith("CONV3-12/p0 -> RELU -> CONV1-5")
    same_size = rng.standard_normal((2, 3, 18, 18))
    np.testing.assert_allclose(conv_net.loss(same_size), net.loss(same_size), rtol=1e-10)
    stride = total_stride(net)
    assert stride == 4
    big = rng.standard_normal((2, 3, 30, 30))
    grid = conv_net.loss(big)
    assert grid.shape == (2, 5, 4, 4)
    for i in range(4):
        for j in range(4):
            crop = big[:, :, i * stride:i * stride + 18, j * stride:j * stride + 18]
            np.testing.assert_allclose(grid[:, :, i, j], net.loss(crop), rtol=1e-9, atol=1e-12)


def test_fc_to_conv_carries_batchnorm(rng):
    net = ConvNet("INPUT-6x6x2 -> CONV3-3/p0 -> BN -> RELU -> FC-5 -> BN -> RELU -> FC", num_classes=4,
                  dtype=np.float64, seed=0)
    for _ in range(3):
        net.loss(rng.standard_normal((8, 2, 6, 6)), rng.integers(4, size=8))  # running statistics move
    X = rng.standard_normal((2, 2, 6, 6))
    np.testing.assert_allclose(fc_to_conv(net).loss(X), net.loss(X), rtol=1e-10)


def test_fc_weights_as_filters_turn_an_affine_layer_into_a_one_position_conv():
    rng = np.random.default_rng(0)
    volumes, weights = rng.standard_normal((2, 3, 2, 4)), rng.standard_normal((24, 5))  # a non-square 3x2x4 volume
    filters = fc_weights_as_filters(weights, (3, 2, 4))
    assert filters.shape == (5, 3, 2, 4)
    # A filter as large as its input fits once: one dot product per filter, the affine layer's output.
    np.testing.assert_allclose(np.einsum("nchw,mchw->nm", volumes, filters), volumes.reshape(2, -1) @ weights)
    # The layout students try first fits the shape and gives other numbers.
    wrong = weights.reshape(5, 3, 2, 4)
    assert not np.allclose(np.einsum("nchw,mchw->nm", volumes, wrong), volumes.reshape(2, -1) @ weights)


def test_fc_weights_as_filters_refuse_weights_of_another_volume():
    with pytest.raises(ValueError, match=r"read 24 values, but a 3x3x3 volume has 27: expected weights of shape \(27, M\)"):
        fc_weights_as_filters(np.zeros((24, 5)), (3, 3, 3))


def test_fc_to_conv_refuses_a_non_square_volume():
    net = ConvNet("CONV3-2 -> RELU -> FC", input_dim=(1, 4, 6))
    with pytest.raises(ValueError, match="4x6 volume"):
        fc_to_conv(net)


def test_dirac_init_makes_size_keeping_convs_the_identity_and_the_engine_accepts_it():
    """Identity-initialized convs: a conv of as many filters as channels passes its input through;
    the engine's first-minibatch check accepts such a net, although a BN's gamma then has a
    gradient that is zero but for rounding (the next BN removes its scale): in this net gamma3's
    is ~4e-10 and the two paths differ by ~3e-16, which the plain relative check refused."""
    from cs231n_lib.classifiers import dirac_init
    from cs231n_lib.engine import TrainingEngine
    from cs231n_lib.layers import conv_forward_naive
    model = ConvNet("CONV3-8 -> BN -> RELU -> CONV5-8 -> CONV2-4/s2/p0 -> FC", input_dim=(3, 8, 8),
                    dtype=np.float64, seed=0)
    before = {name: w.copy() for name, w in model.params.items()}
    assert dirac_init(model) == ["W1", "W2"]  # not W3: stride 2 and even
    X = np.random.default_rng(1).standard_normal((6, 3, 8, 8))
    same, _ = conv_forward_naive(X, model.params["W1"][:3], np.zeros(3), {"stride": 1, "pad": 1})
    np.testing.assert_array_equal(same, X)  # the first 3 filters pass the 3 channels through
    np.testing.assert_array_equal(model.params["W1"][3:], before["W1"][3:])  # the rest stay random
    assert np.array_equal(model.params["W3"], before["W3"])
    wide = ConvNet("CONV3-8 -> BN -> RELU -> POOL2 -> CONV3-8 -> BN -> RELU -> CONV3-16 -> BN -> RELU -> POOL2 "
                   "-> CONV3-16 -> BN -> RELU -> CONV3-16 -> BN -> RELU -> POOL2 -> FC", input_dim=(3, 16, 16),
                   dtype=np.float32, seed=0)
    dirac_init(wide)
    engine = TrainingEngine(wide, threads=2)
    X = np.random.default_rng(1).standard_normal((32, 3, 16, 16)).astype(np.float32)
    agrees, difference = engine.agrees_with_model(X, np.arange(32) % 10)
    assert agrees, difference
    engine.close()
