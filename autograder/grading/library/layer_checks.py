"""Checks of the conv_pool assignment: affine, relu, naive conv and max pooling, forward and backward.

Inputs are small (a few thousand values) so that the naive loops take milliseconds. Backward
passes get their cache built from the inputs (the cache line is given code, outside the
student's region), so a broken forward never hides a right backward.
"""

import numpy as np

from cs231n_lib import layers as reference

from .checks import NUMERICAL, Checks, expect, task_checks
from .diagnosis import Layout, Verdict
from .numerical import compare_with_numerical, plan_probe

MAP = ("image", "filter", "row", "column")
IMAGE = ("image", "channel", "row", "column")
FILTERS = ("filter", "channel", "row", "column")


def _copy(*arrays):
    return [a.copy() for a in arrays]


def _map_layout(stride=None, bias=None, names=MAP, word="filter"):
    return Layout(axis_names=names, channel_axis=1, channel_word=word, spatial=True,
                  stride=stride, bias=bias)


def _backward_checks(c: Checks, backward_key: str, forward: str, forward_args_for, inputs: dict,
                     expected: dict, layouts: dict, points: dict, upstream, output_shape,
                     samples=3, numerical_points=1.0):
    """dX against the reference for each input, then all of them against the numerical gradient."""
    for position, name in enumerate(inputs):
        label = f"d{name}"
        c.add(label, points[name],
              lambda a, p=position, n=name, l=label: expect(a, backward_key, f"r.{p}", expected[n], l, layouts[n]))
    probe = plan_probe(c.plan, f"{c.task}/numerical", forward, forward_args_for, inputs, c.rng,
                       samples=samples, output_path="r.0", output_shape=output_shape, timeout=c.call_timeout,
                       expected=expected)

    def numerical(answers):
        returned = answers.returned(backward_key)
        analytic = {n: returned.array(f"r.{p}", inputs[n].shape, f"d{n}") for p, n in enumerate(inputs)}
        return compare_with_numerical(probe, answers, upstream, analytic, c.task.rsplit(".", 1)[-1], expected)
    c.add("agrees with the numerical gradient of your forward", numerical_points, numerical, kind=NUMERICAL)


# ----------------------------------------------------------------------------- affine

@task_checks("layers.affine_forward")
def affine_forward_checks(c: Checks):
    for case, x_shape, M, points in (("(N, D) input", (3, 5), 4, 1), ("(N, d1, d2) input", (2, 3, 4), 5, 2)):
        D = int(np.prod(x_shape[1:]))
        x, w, b = c.normal(*x_shape), c.normal(D, M), c.normal(M)
        key = c.call(case, x, w, b)
        out, _ = reference.affine_forward(*_copy(x, w, b))
        layout = Layout(axis_names=("example", "output"), channel_axis=1, channel_word="output unit", bias=b)
        c.add(case, points, lambda a, k=key, o=out, l=layout: expect(a, k, "r.0", o, "out", l))


@task_checks("layers.affine_backward")
def affine_backward_checks(c: Checks):
    x, w, b = c.normal(2, 3, 4), c.normal(12, 5), c.normal(5)
    dout = c.normal(2, 5)
    key = c.call("(N, d1, d2) input", dout, (x, w, b))
    dx, dw, db = reference.affine_backward(dout.copy(), tuple(_copy(x, w, b)))
    inputs = {"x": x, "w": w, "b": b}
    _backward_checks(c, key, "layers.affine_forward",
                     lambda nudged: tuple(nudged.get(n, inputs[n]) for n in ("x", "w", "b")),
                     inputs, {"x": dx, "w": dw, "b": db},
                     {"x": Layout(), "w": Layout(), "b": Layout()},
                     {"x": 1, "w": 1, "b": 1}, dout, (2, 5))


# ----------------------------------------------------------------------------- relu

@task_checks("layers.relu_forward")
def relu_forward_checks(c: Checks):
    x = c.normal(3, 4, 5)
    x[0, 0, :] = 0.0   # exact zeros stay zero
    key = c.call("values", x)
    out, _ = reference.relu_forward(x.copy())
    c.add("values, negatives and zeros", 2, lambda a: expect(a, key, "r.0", out, "out"))


@task_checks("layers.relu_backward")
def relu_backward_checks(c: Checks):
    x, dout = c.normal(3, 4, 5), c.normal(3, 4, 5)
    key = c.call("values", dout, x)
    dx = reference.relu_backward(dout.copy(), x.copy())
    c.add("dx", 2, lambda a: expect(a, key, "r", dx, "dx"))


# ----------------------------------------------------------------------------- convolution

CONV_CASES = (  # name, x shape, w shape, conv_param, points
    ("stride 1, pad 1", (2, 3, 5, 5), (4, 3, 3, 3), {"stride": 1, "pad": 1}, 2),
    ("stride 2, pad 0", (2, 3, 7, 7), (3, 3, 3, 3), {"stride": 2, "pad": 0}, 2),
    ("non-square input and filter, pad 2", (2, 2, 6, 8), (3, 2, 3, 2), {"stride": 1, "pad": 2}, 1),
    ("dilation 2, pad 1", (2, 2, 9, 8), (3, 2, 3, 2), {"stride": 1, "pad": 1, "dilation": 2}, 1),
    ("1x1 filter", (2, 4, 4, 4), (5, 4, 1, 1), {"stride": 1, "pad": 0}, 1),
)


@task_checks("layers.conv_forward_naive")
def conv_forward_checks(c: Checks):
    for index, (case, x_shape, w_shape, conv_param, points) in enumerate(CONV_CASES):
        x, w, b = c.normal(*x_shape), c.normal(*w_shape), c.normal(w_shape[0])
        key = c.call(case, x, w, b, dict(conv_param))
        out, _ = reference.conv_forward_naive(*_copy(x, w, b), dict(conv_param))
        if index == 0:
            def shape_only(answers, k=key, shape=out.shape):
                answers.returned(k).array("r.0", shape, "out")
                return Verdict(True)
            c.add("output shape", 1, shape_only)
        layout = _map_layout(stride=conv_param["stride"], bias=b)
        c.add(case, points, lambda a, k=key, o=out, l=layout: expect(a, k, "r.0", o, "out", l))


@task_checks("layers.conv_backward_naive")
def conv_backward_checks(c: Checks):
    x, w, b = c.normal(2, 3, 7, 5), c.normal(4, 3, 3, 3), c.normal(4)
    conv_param = {"stride": 2, "pad": 1}
    out, _ = reference.conv_forward_naive(*_copy(x, w, b), dict(conv_param))
    dout = c.normal(*out.shape)
    key = c.call("stride 2, pad 1, non-square", dout, (x, w, b, conv_param))
    expected = dict(zip("xwb", reference.conv_backward_naive(dout.copy(), (*_copy(x, w, b), dict(conv_param)))))
    # Dilation, as the docstring asks: taps 2 apart, windows overlapping (stride 1).
    x2, w2, b2 = c.normal(1, 2, 7, 6), c.normal(3, 2, 3, 2), c.normal(3)
    dilated = {"stride": 1, "pad": 1, "dilation": 2}
    out2, _ = reference.conv_forward_naive(*_copy(x2, w2, b2), dict(dilated))
    dout2 = c.normal(*out2.shape)
    dilated_key = c.call("dilation 2, stride 1, pad 1", dout2, (x2, w2, b2, dilated))
    dilated_expected = dict(zip("xwb", reference.conv_backward_naive(dout2.copy(), (*_copy(x2, w2, b2),
                                                                                    dict(dilated)))))
    layouts = {"x": _map_layout(names=IMAGE, word="channel"),
               "w": Layout(axis_names=FILTERS, channel_axis=0, channel_word="filter"), "b": Layout()}

    def gradient(answers, position, name):
        """d<name> in both cases: one check per gradient, so one mistake costs one check."""
        verdict = expect(answers, key, f"r.{position}", expected[name], f"d{name}", layouts[name])
        if not verdict.passed:
            return verdict
        dilated_verdict = expect(answers, dilated_key, f"r.{position}", dilated_expected[name], f"d{name}",
                                 layouts[name])
        if dilated_verdict.passed:
            return verdict
        return Verdict(False, f"d{name} is right without dilation but not with dilation 2 (filter taps 2 apart): "
                              f"{dilated_verdict.diagnosis}", dilated_verdict.max_error)

    for position, (name, points) in enumerate((("x", 2), ("w", 2), ("b", 1))):
        c.add(f"d{name}", points, lambda a, p=position, n=name: gradient(a, p, n))
    inputs = {"x": x, "w": w, "b": b}
    probe = plan_probe(c.plan, f"{c.task}/numerical", "layers.conv_forward_naive",
                       lambda nudged: (*(nudged.get(n, inputs[n]) for n in ("x", "w", "b")), conv_param),
                       inputs, c.rng, samples=3, output_path="r.0", output_shape=out.shape, timeout=c.call_timeout,
                       expected=expected)

    def numerical(answers):
        returned = answers.returned(key)
        analytic = {n: returned.array(f"r.{p}", inputs[n].shape, f"d{n}") for p, n in enumerate(inputs)}
        return compare_with_numerical(probe, answers, dout, analytic, "conv_backward_naive", expected)
    c.add("agrees with the numerical gradient of your forward", 1, numerical, kind=NUMERICAL)


# ----------------------------------------------------------------------------- max pooling

@task_checks("layers.max_pool_forward_naive")
def max_pool_forward_checks(c: Checks):
    cases = (("2x2 windows, stride 2", (2, 3, 6, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}, 2),
             ("overlapping 3x2 windows, stride 1", (2, 2, 7, 5),
              {"pool_height": 3, "pool_width": 2, "stride": 1}, 1))
    for case, x_shape, pool_param, points in cases:
        x = c.normal(*x_shape)
        key = c.call(case, x, pool_param)
        out, _ = reference.max_pool_forward_naive(x.copy(), dict(pool_param))
        layout = _map_layout(stride=pool_param["stride"], names=IMAGE, word="channel")
        c.add(case, points, lambda a, k=key, o=out, l=layout: expect(a, k, "r.0", o, "out", l))


@task_checks("layers.max_pool_backward_naive")
def max_pool_backward_checks(c: Checks):
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    x = c.normal(2, 3, 6, 6)
    dout = c.normal(2, 3, 3, 3)
    key = c.call("2x2 windows, stride 2", dout, (x, pool_param))
    dx = reference.max_pool_backward_naive(dout.copy(), (x.copy(), dict(pool_param)))
    layout = _map_layout(names=IMAGE, word="channel")
    c.add("dx", 1, lambda a: expect(a, key, "r", dx, "dx", layout))

    # 3x3 windows, stride 2: neighbouring windows share a row or a column. The largest value of
    # each map sits where four windows meet, so its gradient is the sum of four: a backward that
    # writes (=) instead of adding (+=) keeps only one of them.
    overlapping = {"pool_height": 3, "pool_width": 3, "stride": 2}
    x_over = c.normal(2, 2, 7, 7)
    x_over[:, :, 2, 2] = np.abs(x_over).max() + 1.0 + c.rng.random((2, 2))
    dout_over = c.normal(2, 2, 3, 3)
    over_key = c.call("overlapping 3x3 windows, stride 2", dout_over, (x_over, overlapping))
    dx_over = reference.max_pool_backward_naive(dout_over.copy(), (x_over.copy(), dict(overlapping)))

    def accumulated(answers):
        verdict = expect(answers, over_key, "r", dx_over, "dx", layout)
        if verdict.passed:
            return verdict
        got = answers.returned(over_key).array("r", x_over.shape, "dx")
        shared = got[:, :, 2, 2]
        if np.allclose(shared, dx_over[:, :, 2, 2]):
            return verdict
        return Verdict(False, ("where overlapping windows share their maximum (row 2, column 2 of every map), dx "
                               "must be the sum of those windows' gradients: add them up (+=) instead of writing "
                               "over (=); " + (verdict.diagnosis or "")), verdict.max_error)
    c.add("overlapping 3x3 windows: gradients of shared maxima add up", 1, accumulated)

    tied = c.rng.integers(0, 2, size=(2, 2, 4, 4)).astype(np.float64)  # many windows with tied maxima
    tied_dout = c.normal(2, 2, 2, 2)
    tied_key = c.call("tied maxima", tied_dout, (tied, pool_param))
    c.add("ties: each window's gradient split among its maxima", 1,
          lambda a: judge_tied_windows(a.returned(tied_key).array("r", tied.shape, "dx"), tied, tied_dout, pool_param))

    probe = plan_probe(c.plan, f"{c.task}/numerical", "layers.max_pool_forward_naive",
                       lambda nudged: (nudged.get("x", x), pool_param), {"x": x}, c.rng,
                       samples=4, output_path="r.0", output_shape=dout.shape, timeout=c.call_timeout,
                       expected={"x": dx})

    def numerical(answers):
        analytic = {"x": answers.returned(key).array("r", x.shape, "dx")}
        return compare_with_numerical(probe, answers, dout, analytic, "max_pool_backward_naive", {"x": dx})
    c.add("agrees with the numerical gradient of your forward", 1, numerical, kind=NUMERICAL)


def judge_tied_windows(dx: np.ndarray, x: np.ndarray, dout: np.ndarray, pool_param: dict) -> Verdict:
    """Windows that do not overlap, many with tied maxima: any split of a window's gradient among its
    maxima (non-negative shares that add up to it, a subgradient) is right; anything else is not.

    ``dx``: (N, C, H, W) the student's; ``x``: the pooled input; ``dout``: (N, C, H', W').
    """
    size, stride = pool_param["pool_height"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    outside = split_wrong = 0
    for n, channel, i, j in np.ndindex(N, C, H_out, W_out):
        rows, cols = slice(i * stride, i * stride + size), slice(j * stride, j * stride + size)
        window, got, upstream = x[n, channel, rows, cols], dx[n, channel, rows, cols], dout[n, channel, i, j]
        maxima = window == window.max()
        tolerance = 1e-6 * max(1.0, abs(upstream))
        if np.abs(got[~maxima]).max(initial=0.0) > tolerance:
            outside += 1
            continue
        shares = got[maxima] / upstream if upstream else got[maxima]
        if abs(got[maxima].sum() - upstream) > tolerance or (upstream and (shares < -1e-6).any()):
            split_wrong += 1
    if outside:
        return Verdict(False, f"in {outside} window(s) your gradient reaches a position that is not a maximum of "
                              f"the window; only the maxima (the switches) get gradient")
    if split_wrong:
        return Verdict(False, f"in {split_wrong} window(s) with tied maxima, what your gradient gives the maxima "
                              f"does not add up to the window's gradient (or takes a negative share); give it all "
                              f"to one maximum, or split it among them")
    return Verdict(True)
