"""The gradient-checking helpers catch wrong gradients and say where."""

import pytest

from autograder.grading.library import diagnosis
from cs231n_lib import layers
from cs231n_lib.backend import np
from cs231n_lib.classifiers import ThreeLayerConvNet
from cs231n_lib.gradient_check import (GradientCheckError, check_gradient, check_model_gradients, check_model_loss,
                                       compare_arrays,
                                       eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse,
                                       non_finite_problem, rel_error)
from cs231n_lib.notebook_utils import AUTOGRADING, assert_close


def test_rel_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one shape"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradients_of_known_functions(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(eval_numerical_gradient(lambda v: float(np.sum(np.sin(v))), x, verbose=False),
                               np.cos(x), rtol=1e-7)
    df = rng.standard_normal((3, 4))
    np.testing.assert_allclose(eval_numerical_gradient_array(lambda v: v ** 3, x, df), 3 * x ** 2 * df,
                               rtol=1e-6)


def test_grad_check_sparse_reports_small_errors_for_a_right_gradient(rng, capsys):
    x = rng.standard_normal(10)
    errors = grad_check_sparse(lambda v: float(np.sum(v ** 2)), x, 2 * x, num_checks=5, seed=0)
    assert len(errors) == 5 and max(errors) < 1e-7
    assert "relative error" in capsys.readouterr().out


def test_a_wrong_backward_is_caught_with_argument_and_index(rng):
    def broken_affine_backward(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        dw = dw.copy()
        dw[2, 1] += 1.0  # one wrong entry
        return dx, dw, db

    inputs = {"x": rng.standard_normal((3, 4)), "w": rng.standard_normal((4, 2)), "b": rng.standard_normal(2)}
    with pytest.raises(GradientCheckError, match=r"gradient of 'w' disagrees .* at index \(2, 1\)"):
        check_gradient(layers.affine_forward, broken_affine_backward, inputs)


def test_a_gradient_of_the_wrong_shape_is_named(rng):
    def transposed_backward(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw.T, db

    inputs = {"x": rng.standard_normal((3, 4)), "w": rng.standard_normal((4, 2)), "b": rng.standard_normal(2)}
    with pytest.raises(GradientCheckError, match=r"gradient of 'w' has shape \(2, 4\), expected \(4, 2\)"):
        check_gradient(layers.affine_forward, transposed_backward, inputs)


def test_check_gradient_returns_cs231n_relative_errors(rng):
    """The returned numbers are rel_error over every entry, as CS231n prints them."""
    inputs = {"x": rng.standard_normal((4, 3, 5, 5)), "w": rng.standard_normal((2, 3, 3, 3)),
              "b": rng.standard_normal(2), "conv_param": {"stride": 1, "pad": 1}}
    errors = check_gradient(layers.conv_forward_naive, layers.conv_backward_naive, inputs)
    assert set(errors) == {"x", "w", "b"}
    assert all(0 < error < 1e-7 for error in errors.values()), errors


def test_rounding_noise_on_a_zero_gradient_is_reported_but_passes():
    """A gradient that is truly zero is probed to rounding noise: shown, never a failure."""
    def forward(x, b):
        # b is shifted away by subtracting the mean, so its true gradient is zero.
        out = x + b - (x + b).mean()
        return out, None

    def backward(dout, cache):
        return dout - dout.mean(), np.zeros(1)

    errors = check_gradient(forward, backward, {"x": np.linspace(-1.0, 1.0, 6), "b": np.array([1e3])})
    assert errors["b"] > 1e-7   # the number CS231n would print: noise over a zero gradient
    assert errors["x"] < 1e-7


# ----------------------------------------------------------------------------- non-finite values never pass (issue 16)

NON_FINITE = [np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("bad", NON_FINITE)
@pytest.mark.parametrize("side", ["actual", "expected"])
def test_compare_arrays_fails_on_any_non_finite_value_and_says_so(bad, side):
    good = np.arange(24.0).reshape(2, 3, 4)
    poisoned = good.copy()
    poisoned[0, 1, 2] = poisoned[1, 2, 3] = bad
    actual, expected = (poisoned, good) if side == "actual" else (good, poisoned)
    comparison = compare_arrays("dx", actual, expected, rtol=1e30, atol=1e30)   # no threshold saves it
    assert not comparison.passed and comparison.error == np.inf
    kind = "NaN" if np.isnan(bad) else "infinite"
    named = "dx" if side == "actual" else "the expected dx"
    assert comparison.message == f"{named} holds 2 {kind} values (first at index (0, 1, 2))"


@pytest.mark.parametrize("bad", NON_FINITE)
def test_non_finite_values_in_both_places_are_still_not_equal(bad):
    same = np.array([1.0, bad])
    assert not compare_arrays("dx", same, same.copy(), rtol=1.0).passed
    assert rel_error(same, same.copy()) == np.inf


def test_negative_zero_equals_zero_everywhere_a_check_compares():
    negative, positive = np.array([-0.0, 1.0, -0.0]), np.array([0.0, 1.0, 0.0])
    assert compare_arrays("dx", negative, positive, rtol=0.0).passed
    assert compare_arrays("dx", negative, positive, rtol=0.0, relative_to="largest").passed
    assert rel_error(negative, positive) == 0.0
    assert assert_close("dx", negative, positive, tol=0.0) == 0.0
    assert diagnosis.compare(negative, positive, "dx").passed
    assert non_finite_problem("dx", negative) is None


@pytest.mark.parametrize("bad", NON_FINITE)
def test_rel_error_counts_non_finite_as_failure(bad):
    assert not rel_error(np.array([1.0, bad]), np.array([1.0, 2.0])) < 1e-7
    assert rel_error(np.array([bad]), np.array([bad])) == np.inf


@pytest.mark.parametrize("bad", NON_FINITE)
def test_assert_close_and_the_clean_room_refuse_non_finite_values(bad):
    actual = np.array([[1.0, bad], [3.0, 4.0]])
    with pytest.raises(AssertionError, match=r"out holds 1 .* value \(first at index \(0, 1\)\)"):
        assert_close("out", actual, np.array([[1.0, 2.0], [3.0, 4.0]]), tol=1e30)
    verdict = diagnosis.compare(actual, np.array([[1.0, 2.0], [3.0, 4.0]]), "out", rtol=1e30)
    assert not verdict.passed and "out holds 1" in verdict.diagnosis


def _affine_inputs(rng):
    return {"x": rng.standard_normal((3, 2, 2)), "w": rng.standard_normal((4, 5)), "b": rng.standard_normal(5)}


@pytest.mark.parametrize("bad", NON_FINITE)
def test_a_non_finite_backward_fails_the_numerical_check_with_its_count(rng, bad):
    """What a 0/0 gives: before issue 16 check_gradient passed it (a NaN error is never 'too large')."""
    def poisoned_backward(dout, cache):
        return tuple(np.full_like(g, bad) for g in layers.affine_backward(dout, cache))
    with pytest.raises(GradientCheckError, match=r"gradient of 'x' holds 12 .* values \(first at index \(0, 0, 0\)\)"):
        check_gradient(layers.affine_forward, poisoned_backward, _affine_inputs(rng))


# ----------------------------------------------------------------------------- consistent is not right (issue 16)

def _zeros_forward(x, w, b):
    return np.zeros((x.shape[0], w.shape[1])), (x, w, b)


def _zeros_backward(dout, cache):
    return tuple(np.zeros_like(a) for a in cache)


def _doubled_forward(x, w, b):
    out, cache = layers.affine_forward(x, w, b)
    return 2 * out, cache


def _doubled_backward(dout, cache):
    return tuple(2 * g for g in layers.affine_backward(dout, cache))


def _constant_forward(x, w, b):
    return np.full((x.shape[0], w.shape[1]), 3.0), (x, w, b)


SELF_CONSISTENT = {"zeros": (_zeros_forward, _zeros_backward), "doubled": (_doubled_forward, _doubled_backward),
                   "constant": (_constant_forward, _zeros_backward)}
AFFINE = ("layers.affine_forward", "layers.affine_backward")


@pytest.fixture
def grading():
    token = AUTOGRADING.set(True)
    yield
    AUTOGRADING.reset(token)


@pytest.mark.parametrize("kind", sorted(SELF_CONSISTENT))
def test_a_self_consistent_wrong_layer_passes_only_the_students_own_numerical_check(rng, kind):
    """The numerical gradient of one's own forward is all a student's kernel has: consistency is what it sees."""
    forward, backward = SELF_CONSISTENT[kind]
    errors = check_gradient(forward, backward, _affine_inputs(rng), reference=AFFINE)
    assert set(errors) == {"x", "w", "b"} and max(errors.values()) < 1e-7   # passes, as a right layer would


@pytest.mark.parametrize("kind", sorted(SELF_CONSISTENT))
def test_while_grading_a_self_consistent_wrong_layer_fails_against_the_reference(rng, grading, kind):
    forward, backward = SELF_CONSISTENT[kind]
    with pytest.raises(GradientCheckError, match="disagrees with the reference gradient"):
        check_gradient(forward, backward, _affine_inputs(rng), reference=AFFINE)


@pytest.mark.parametrize("bad", NON_FINITE)
def test_while_grading_a_non_finite_backward_fails(rng, grading, bad):
    def poisoned_backward(dout, cache):
        return tuple(np.full_like(g, bad) for g in layers.affine_backward(dout, cache))
    with pytest.raises(GradientCheckError, match="compared with the reference gradient"):
        check_gradient(layers.affine_forward, poisoned_backward, _affine_inputs(rng), reference=AFFINE)


def test_while_grading_a_failure_says_which_of_the_pair_to_fix(rng, grading):
    with pytest.raises(GradientCheckError, match="forward's output is wrong too: fix the forward first"):
        check_gradient(_doubled_forward, _doubled_backward, _affine_inputs(rng), reference=AFFINE)
    with pytest.raises(GradientCheckError, match="forward's output is right, so the error is in the backward"):
        check_gradient(layers.affine_forward, _doubled_backward, _affine_inputs(rng), reference=AFFINE)


def test_while_grading_a_right_backward_passes_even_after_a_wrong_forward(rng, grading):
    """A wrong forward is the forward's loss: the backward, given the right cache, is judged on its own."""
    errors = check_gradient(_zeros_forward, layers.affine_backward, _affine_inputs(rng), reference=AFFINE)
    assert set(errors) == {"x", "w", "b"} and max(errors.values()) == 0.0


def test_while_grading_a_check_without_a_reference_is_refused(rng, grading):
    with pytest.raises(ValueError, match="needs reference"):
        check_gradient(layers.affine_forward, layers.affine_backward, _affine_inputs(rng))


class _ScaledModel:
    """A ThreeLayerConvNet whose loss and gradients are ``scale`` times the reference's (0: a constant loss)."""

    def __init__(self, sizes, scale, poison=None):
        self.inner = ThreeLayerConvNet(**sizes)
        self.params = self.inner.params
        self.scale, self.poison = scale, poison

    def loss(self, X, y):
        loss, grads = self.inner.loss(X, y)
        grads = {name: self.scale * g if self.poison is None else np.full_like(g, self.poison)
                 for name, g in grads.items()}
        return self.scale * loss, grads


MODEL_SIZES = dict(input_dim=(2, 6, 6), num_filters=2, filter_size=3, hidden_dim=4, num_classes=3, weight_scale=0.2,
                   reg=0.1, dtype=np.float64)


@pytest.mark.parametrize("scale, poison", [(0.0, None), (2.0, None), (1.0, np.nan), (1.0, np.inf)])
def test_while_grading_model_gradients_are_judged_by_the_reference_model(rng, grading, scale, poison):
    X, y = rng.standard_normal((2, 2, 6, 6)), np.array([0, 2])
    reference = ("classifiers.cnn.ThreeLayerConvNet", MODEL_SIZES)
    assert set(check_model_gradients(_ScaledModel(MODEL_SIZES, 1.0), X, y, reference=reference)) == \
        {"W1", "W2", "W3", "b1", "b2", "b3"}
    with pytest.raises(GradientCheckError, match="compared with the reference gradient"):
        check_model_gradients(_ScaledModel(MODEL_SIZES, scale, poison), X, y, reference=reference)


def test_in_the_students_kernel_model_gradients_are_checked_numerically(rng):
    X, y = rng.standard_normal((2, 2, 6, 6)), np.array([0, 2])
    check_model_gradients(_ScaledModel(MODEL_SIZES, 2.0), X, y)   # consistent: all a kernel can see
    with pytest.raises(GradientCheckError, match="holds .* NaN values"):
        check_model_gradients(_ScaledModel(MODEL_SIZES, 1.0, np.nan), X, y)


class _ConstantLossModel:
    """Scores of zeros and a loss of log(10): what a right model gives at initialization, computed from nothing."""

    def __init__(self, params):
        self.params = params

    def loss(self, X, y=None):
        scores = np.zeros((X.shape[0], 3))
        return scores if y is None else (float(np.log(3)), {name: np.zeros_like(v) for name, v in self.params.items()})


def test_while_grading_a_constant_loss_at_initialization_fails_against_the_reference_model(rng, grading):
    X, y = rng.standard_normal((4, 2, 6, 6)), np.array([0, 2, 1, 1])
    sizes = {**MODEL_SIZES, "weight_scale": 1e-3}
    reference = ("classifiers.cnn.ThreeLayerConvNet", sizes)
    honest = ThreeLayerConvNet(**sizes)
    assert check_model_loss(honest, X, y, reference=reference) < 1e-12
    with pytest.raises(AssertionError, match="scores differs .*compared with the reference model on your parameters"):
        check_model_loss(_ConstantLossModel(honest.params), X, y, reference=reference)


def test_in_the_students_kernel_check_model_loss_has_nothing_to_compare_with(rng):
    X, y = rng.standard_normal((4, 2, 6, 6)), np.array([0, 2, 1, 1])
    model = _ConstantLossModel(ThreeLayerConvNet(**MODEL_SIZES).params)
    assert check_model_loss(model, X, y, reference=("classifiers.cnn.ThreeLayerConvNet", MODEL_SIZES)) is None


@pytest.mark.parametrize("bad", NON_FINITE)
def test_grad_check_sparse_reports_a_non_finite_analytic_gradient_as_an_infinite_error(rng, bad):
    x = rng.standard_normal(6)
    analytic = 2 * x
    analytic[:] = bad
    errors = grad_check_sparse(lambda v: float(np.sum(v ** 2)), x, analytic, num_checks=3, seed=0, verbose=False)
    assert errors == [np.inf] * 3
