"""The gradient-checking helpers catch wrong gradients and say where."""

import pytest

from cs231n_lib import layers
from cs231n_lib.backend import np
from cs231n_lib.gradient_check import (GradientCheckError, check_gradient, eval_numerical_gradient,
                                       eval_numerical_gradient_array, grad_check_sparse, rel_error)


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
