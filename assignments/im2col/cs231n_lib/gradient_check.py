"""Numerical gradients by centered differences, shared by notebooks, tests and the autograder.

CS231n's names and signatures (``eval_numerical_gradient``,
``eval_numerical_gradient_array``, ``grad_check_sparse``, ``rel_error``), plus
``check_gradient``, which compares a whole backward pass with numerical
gradients and, when they disagree, names the argument and the index.

Run checks in float64 on the CPU: with float32 the rounding error of a centered
difference with h = 1e-5 is about 1e-3, as large as the errors one hunts for.

>>> from cs231n_lib.backend import np
>>> x = np.array([1.0, 2.0, 3.0])
>>> num = eval_numerical_gradient(lambda v: float((v ** 2).sum()), x, verbose=False)
>>> bool(rel_error(num, 2 * x) < 1e-8)
True
"""

from .backend import np, to_numpy


def rel_error(x, y):
    """Largest relative error ``|x - y| / max(1e-8, |x| + |y|)`` over all entries, as a float."""
    x, y = np.asarray(to_numpy(x), dtype=np.float64), np.asarray(to_numpy(y), dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Gradient of a scalar function ``f(x)`` at ``x`` by centered differences.

    ``x`` is changed in place while probing and restored. Returns an array of x's shape.
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient of ``sum(f(x) * df)`` at ``x``: the numerical input gradient of a layer.

    ``f`` maps an array to an array; ``df`` is the upstream gradient of f's output.
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True):
    """Compare the analytic gradient with centered differences at ``num_checks`` random entries.

    Returns the list of relative errors (CS231n prints them; so does this when verbose).
    """
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = float(analytic_grad[ix])
        error = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
        errors.append(error)
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
    return errors


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def check_gradient(forward, backward, inputs, dout=None, tol=1e-7, atol=1e-8, h=1e-5, seed=0):
    """Check a layer's backward pass against numerical gradients of its forward pass.

    - forward: ``forward(*inputs) -> (out, cache)``, a layer's forward function
    - backward: ``backward(dout, cache) -> dinput`` or a tuple of them, in the
      order of the array inputs
    - inputs: dict ``name -> value`` in forward's argument order; values that are
      float arrays are checked, others (``conv_param``...) passed through
    - dout: upstream gradient (random normal when None)

    Raises GradientCheckError naming the argument and the index of the worst entry
    when an entry's relative error exceeds ``tol`` and its absolute error exceeds
    ``atol``: a true gradient of zero (a bias before batch normalization) is
    only probed to rounding noise, whose relative error means nothing.
    Returns ``{name: rel_error(numerical, analytic)}``, the number CS231n prints (about
    1e-8 or smaller for a right gradient), over every entry: rounding noise on a zero
    gradient can make it larger while the check, by the rule above, still passes.
    """
    names = list(inputs)
    args = [_as_float64(v) for v in inputs.values()]
    out, cache = forward(*args)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    array_positions = [i for i, a in enumerate(args) if _is_float_array(a)]
    if len(grads) != len(array_positions):
        raise ValueError(f"backward returned {len(grads)} gradients for the "
                         f"{len(array_positions)} array inputs {[names[i] for i in array_positions]}")
    errors = {}
    for position, analytic in zip(array_positions, grads):
        name = names[position]

        def forward_of(value, position=position):
            probe = list(args)
            probe[position] = value
            return forward(*probe)[0]

        numeric = eval_numerical_gradient_array(forward_of, args[position], dout, h=h)
        analytic = to_numpy(analytic)
        if analytic.shape != numeric.shape:
            raise GradientCheckError(f"gradient of {name!r} has shape {analytic.shape}, "
                                     f"expected {numeric.shape} (the shape of {name})")
        abs_diff = np.abs(analytic - numeric)
        rel_diff = abs_diff / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        rel_diff[abs_diff <= atol] = 0.0   # rounding noise on a zero gradient is not an error
        worst_counted = float(rel_diff.max(initial=0.0))
        if worst_counted > tol:
            worst = np.unravel_index(int(np.argmax(rel_diff)), rel_diff.shape)
            raise GradientCheckError(
                f"gradient of {name!r} disagrees with the numerical gradient at index "
                f"{tuple(int(i) for i in worst)}: analytic {analytic[worst]:.6g}, numerical "
                f"{numeric[worst]:.6g}, relative error {worst_counted:.3g} > {tol:g}")
        errors[name] = rel_error(numeric, analytic)
    return errors


def _is_float_array(value):
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _as_float64(value):
    if hasattr(value, "dtype") and value.dtype.kind == "f":
        return np.array(to_numpy(value), dtype=np.float64)
    return value
