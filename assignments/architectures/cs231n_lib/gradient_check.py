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

import dataclasses
import sys

from .backend import np, to_numpy

# ----------------------------------------------------------------------------- comparing two arrays
# Every check of the kit that compares numbers (rel_error, check_gradient, notebook_utils.assert_close,
# the autograder's clean-room judges) goes through compare_arrays: a NaN or an infinity never passes.


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare_arrays`."""
    passed: bool
    error: float                  # the largest counted relative error; inf when a value is not finite
    worst: tuple | None = None    # index of the worst entry, when there is one
    message: str | None = None    # why it failed, in words: None when it passed


def non_finite_problem(name, values):
    """What is not finite in ``values``, in words, or None when every value is finite.

    >>> non_finite_problem("dx", np.array([[0.0, np.nan], [np.inf, np.nan]]))
    'dx holds 2 NaN values (first at index (0, 1)) and 1 infinite value (first at index (1, 0))'
    >>> non_finite_problem("dx", np.array([-0.0, 1.0])) is None
    True
    """
    values = np.asarray(to_numpy(values), dtype=np.float64)
    parts = []
    for mask, kind in ((np.isnan(values), "NaN"), (np.isinf(values), "infinite")):
        count = int(mask.sum())
        if count:
            first = tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))
            parts.append(f"{count} {kind} value{'' if count == 1 else 's'} (first at index {first})")
    return f"{name} holds {' and '.join(parts)}" if parts else None


def compare_arrays(name, actual, expected, rtol, atol=0.0, relative_to="entry"):
    """Does ``actual`` equal ``expected`` to relative error ``rtol``? Never when either holds NaN or inf.

    - actual, expected: arrays (or numbers) of one shape; ``name`` names ``actual`` in messages
    - relative_to: ``"entry"``: each entry's error is ``|a - e| / max(1e-8, |a| + |e|)`` (CS231n's
      rel_error); ``"largest"``: ``|a - e| / max|e|``, the error as a share of the largest expected
      magnitude (right when expected values near zero carry only rounding noise)
    - atol: an entry whose absolute error is at most ``atol`` counts as equal

    Returns a :class:`Comparison`; ``-0.0`` equals ``0.0``.
    """
    actual = np.asarray(to_numpy(actual), dtype=np.float64)
    expected = np.asarray(to_numpy(expected), dtype=np.float64)
    if actual.shape != expected.shape:
        return Comparison(False, float("inf"), None, f"{name} has shape {actual.shape}, expected {expected.shape}")
    problem = non_finite_problem(name, actual) or non_finite_problem(f"the expected {name}", expected)
    if problem:
        return Comparison(False, float("inf"), None, problem)
    if actual.size == 0:
        return Comparison(True, 0.0)
    difference = np.abs(actual - expected)
    if relative_to == "entry":
        relative = difference / np.maximum(1e-8, np.abs(actual) + np.abs(expected))
    elif relative_to == "largest":
        relative = difference / max(float(np.abs(expected).max()), 1e-12)
    else:
        raise ValueError(f"relative_to must be 'entry' or 'largest', got {relative_to!r}")
    relative = np.where(difference <= atol, 0.0, relative)   # an array even for 0-d inputs
    worst = tuple(int(i) for i in np.unravel_index(int(relative.argmax()), relative.shape))
    error = float(relative[worst])
    if error <= rtol:
        return Comparison(True, error, worst)
    where = f"worst at index {worst}: " if worst else ""
    return Comparison(False, error, worst,
                      f"{name} differs from the expected value: relative error {error:.2e} > {rtol:.0e}; "
                      f"{where}got {actual[worst]:.6g}, expected {expected[worst]:.6g}")


def rel_error(x, y):
    """Largest relative error ``|x - y| / max(1e-8, |x| + |y|)`` over all entries, as a float.

    ``inf`` when either holds a NaN or an infinity: such a gradient is never "close".
    """
    x, y = np.asarray(to_numpy(x), dtype=np.float64), np.asarray(to_numpy(y), dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {x.shape} and {y.shape}")
    return compare_arrays("x", x, y, rtol=float("inf")).error


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

    Returns the list of relative errors (CS231n prints them; so does this when verbose); a NaN
    or an infinity on either side gives an error of ``inf``.
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
        error = compare_arrays("the gradient", analytic, numeric, rtol=float("inf")).error   # inf for NaN, inf
        errors.append(error)
        if verbose:
            print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
    return errors


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one, or with the reference."""


def check_gradient(forward, backward, inputs, dout=None, tol=1e-7, atol=1e-8, h=1e-5, seed=0, reference=None):
    """Check a layer's backward pass: against the reference gradient when grading, else numerically.

    - forward: ``forward(*inputs) -> (out, cache)``, a layer's forward function
    - backward: ``backward(dout, cache) -> dinput`` or a tuple of them, in the
      order of the array inputs
    - inputs: dict ``name -> value`` in forward's argument order; values that are
      float arrays are checked, others (``conv_param``...) passed through
    - dout: upstream gradient (random normal when None)
    - reference: ``(forward name, backward name)`` of the library pair this one must match,
      e.g. ``("layers.affine_forward", "layers.affine_backward")``

    Who judges the backward:

    - while grading (:data:`notebook_utils.AUTOGRADING`, set only by the autograder in its own
      process), the names in ``reference`` are the trusted reference library's: the gradients
      its backward gives on the same inputs and ``dout`` are the truth, and a forward and
      backward that are merely consistent with each other (zeros and zeros) earn nothing.
      A check without ``reference`` is refused while grading.
    - anywhere else (the student's own kernel), those names would be the student's own code,
      so the numerical gradient of ``forward`` by centered differences is the only truth
      there is: it judges, which proves the backward right only if the forward is.

    Raises GradientCheckError naming the argument and the index of the worst entry
    when an entry's relative error exceeds ``tol`` and its absolute error exceeds
    ``atol`` (a true gradient of zero, a bias before batch normalization, is only probed
    to rounding noise, whose relative error means nothing), or when a gradient holds a
    NaN or an infinity. Returns ``{name: rel_error(truth, analytic)}``, the number CS231n
    prints (about 1e-8 or smaller for a right gradient), over every entry.
    """
    from .notebook_utils import AUTOGRADING
    names = list(inputs)
    args = [_as_float64(v) for v in inputs.values()]
    array_positions = [i for i, a in enumerate(args) if _is_float_array(a)]
    if AUTOGRADING.get():
        if reference is None:
            raise ValueError("while grading, check_gradient needs reference=(forward name, backward name): the "
                             "numerical gradient of the student's own forward proves nothing about the backward")
        reference_forward, reference_backward = (library_function(name) for name in reference)
        reference_out, reference_cache = reference_forward(*_copies(args))
        if dout is None:
            dout = np.random.default_rng(seed).standard_normal(np.shape(reference_out))
        truth = _as_tuple(reference_backward(np.array(dout, copy=True), reference_cache))
        judge = "the reference gradient"
    else:
        truth, judge = None, "the numerical gradient of your forward"
    out, cache = forward(*_copies(args))
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = _as_tuple(backward(dout, cache))
    if len(grads) != len(array_positions):
        raise ValueError(f"backward returned {len(grads)} gradients for the "
                         f"{len(array_positions)} array inputs {[names[i] for i in array_positions]}")
    errors = {}
    for number, (position, analytic) in enumerate(zip(array_positions, grads)):
        name = names[position]
        if truth is not None:
            expected = to_numpy(truth[number])
        else:
            def forward_of(value, position=position):
                probe = list(args)
                probe[position] = value
                return forward(*probe)[0]

            expected = eval_numerical_gradient_array(forward_of, args[position], dout, h=h)
        comparison = compare_arrays(f"gradient of {name!r}", analytic, expected, rtol=tol, atol=atol)
        if not comparison.passed:
            hint = "" if truth is None else _forward_hint(out, reference_out, tol)
            if comparison.worst is None:   # a shape, NaN or infinity: the comparison's own words
                raise GradientCheckError(f"{comparison.message} (compared with {judge}){hint}")
            worst, analytic = comparison.worst, np.asarray(to_numpy(analytic), dtype=np.float64)
            raise GradientCheckError(
                f"gradient of {name!r} disagrees with {judge} at index {worst}: analytic "
                f"{analytic[worst]:.6g}, expected {expected[worst]:.6g}, relative error "
                f"{comparison.error:.3g} > {tol:g}{hint}")
        errors[name] = rel_error(expected, analytic)
    return errors


def _forward_hint(out, reference_out, tol):
    """Which of the pair to look at, from the forward's output on the same inputs (no more calls needed)."""
    if compare_arrays("out", out, reference_out, rtol=tol).passed:
        return "; the forward's output is right, so the error is in the backward"
    return "; the forward's output is wrong too: fix the forward first"


def check_model_gradients(model, X, y, reference=None, tol=1e-4, atol=1e-7, h=1e-6):
    """Check the gradients of ``model.loss(X, y)``, a model whose parameters are in ``model.params``.

    - X: (N, ...) inputs, y: (N,) labels
    - reference: ``(class name, constructor keyword arguments)`` of the library model this one
      must match, e.g. ``("classifiers.cnn.ThreeLayerConvNet", {"hidden_dim": 7, "reg": 0.1, ...})``

    As :func:`check_gradient`: while grading, the trusted reference model, built with the same
    arguments and given the student's parameter values, computes the true gradients; anywhere
    else the numerical gradient of the student's own loss judges. ``tol``/``atol`` as there
    (the loss goes through ReLUs and max pooling, so centered differences are rougher).
    Returns ``{parameter name: relative error}``.
    """
    names = sorted(model.params)
    _, grads = model.loss(X, y)
    truth, judge = None, "the numerical gradient of your loss"
    reference_copy = reference_model(model, reference, "check_model_gradients")
    if reference_copy is not None:
        _, truth = reference_copy.loss(np.array(X, dtype=np.float64), np.array(y))
        judge = "the reference gradient"
    errors = {}
    for name in names:
        if name not in grads:
            raise GradientCheckError(f"the gradients have no entry {name!r}")
        expected = to_numpy(truth[name]) if truth is not None else _numerical_parameter_gradient(model, name, X, y, h)
        comparison = compare_arrays(f"gradient of {name}", grads[name], expected, rtol=tol, atol=atol)
        if not comparison.passed:
            raise GradientCheckError(f"{comparison.message} (compared with {judge})")
        errors[name] = rel_error(expected, grads[name])
    return errors


def check_model_loss(model, X, y, reference=None, tol=1e-6):
    """While grading, ``model``'s scores and loss must be the reference model's for the same parameters.

    - X: (N, ...) inputs, y: (N,) labels; reference: as for :func:`check_model_gradients`

    A loss "about log(10) at initialization" is what a constant gives too; the reference model,
    given the student's parameter values, says whether the scores and the loss are computed.
    Elsewhere (the student's kernel) there is nothing independent to compare with: returns None.
    Raises AssertionError saying what differs; returns the largest relative error.
    """
    reference_copy = reference_model(model, reference, "check_model_loss")
    if reference_copy is None:
        return None
    X64 = np.array(X, dtype=np.float64)
    errors = []
    for name, got, expected in (("scores", model.loss(X), reference_copy.loss(X64)),
                                ("loss", model.loss(X, y)[0], reference_copy.loss(X64, np.array(y))[0])):
        comparison = compare_arrays(name, got, expected, rtol=tol)
        if not comparison.passed:
            raise AssertionError(f"{comparison.message} (compared with the reference model on your parameters)")
        errors.append(comparison.error)
    return max(errors)


def reference_model(model, reference, caller="a model check"):
    """While grading, the reference model ``reference = (class name, arguments)`` with ``model``'s parameter values.

    None anywhere else (the student's kernel, where the names would be the student's own code).
    Raises GradientCheckError when ``model``'s parameters do not have the reference's names and shapes.
    """
    from .notebook_utils import AUTOGRADING
    if not AUTOGRADING.get():
        return None
    if reference is None:
        raise ValueError(f"while grading, {caller} needs reference=(class name, arguments)")
    class_name, arguments = reference
    copy = library_function(class_name)(**arguments)
    names = sorted(model.params)
    if sorted(copy.params) != names:
        raise GradientCheckError(f"the model's parameters are {names}, expected {sorted(copy.params)}")
    for name in names:
        value = np.array(to_numpy(model.params[name]), dtype=np.float64)
        if value.shape != copy.params[name].shape:
            raise GradientCheckError(f"parameter {name!r} has shape {value.shape}, expected {copy.params[name].shape}")
        copy.params[name] = value
    return copy


def _numerical_parameter_gradient(model, name, X, y, h):
    """The centered-difference gradient of the loss in ``model.params[name]``, which is left as it was.

    Each probe gives model.params[name] the value probed; the original goes back at the end (a
    model in another process keeps a copy of the last probe otherwise).
    """
    original = np.array(to_numpy(model.params[name]), dtype=np.float64)

    def loss(value):
        model.params[name] = value
        return model.loss(X, y)[0]

    try:
        return eval_numerical_gradient(loss, original.copy(), verbose=False, h=h)
    finally:
        model.params[name] = original


def library_function(name):
    """The object ``name`` (``"layers.affine_forward"``) of the copy of the library this module belongs to.

    In the autograder's process that is the trusted reference; in a student's kernel, their own copy.
    """
    # Plain relative imports (the integrity scan holds a library that imports modules by name):
    # they bind the modules that hold references on this copy's package.
    from . import classifiers, fast_layers, layer_utils, layers  # noqa: F401
    target = sys.modules[__package__]
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _as_tuple(grads):
    return grads if isinstance(grads, tuple) else (grads,)


def _copies(args):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def _is_float_array(value):
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _as_float64(value):
    if hasattr(value, "dtype") and value.dtype.kind == "f":
        return np.array(to_numpy(value), dtype=np.float64)
    return value
