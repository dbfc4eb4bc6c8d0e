"""Checks of the conv_pool assignment: affine, relu, naive conv and max pooling, forward and backward.

Inputs are small (a few thousand values) so that the naive loops take milliseconds. Backward
passes get their cache built from the inputs (the cache line is given code, outside the
student's region), so a broken forward never hides a right backward.
"""

import numpy as np

from cs231n_lib import layers as reference

from .checks import NUMERICAL, Checks, expect, task_checks
from .diagnosis import Layout, Verdict, compare
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
                       samples=samples, output_path="r.0", output_shape=output_shape, timeout=c.call_timeout)

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

CONV_CASES = (  # name, x shape, w shape, stride, pad, points
    ("stride 1, pad 1", (2, 3, 5, 5), (4, 3, 3, 3), 1, 1, 2),
    ("stride 2, pad 0", (2, 3, 7, 7), (3, 3, 3, 3), 2, 0, 2),
    ("non-square input and filter, pad 2", (2, 2, 6, 8), (3, 2, 3, 2), 1, 2, 2),
    ("1x1 filter", (2, 4, 4, 4), (5, 4, 1, 1), 1, 0, 1),
)


@task_checks("layers.conv_forward_naive")
def conv_forward_checks(c: Checks):
    for index, (case, x_shape, w_shape, stride, pad, points) in enumerate(CONV_CASES):
        x, w, b = c.normal(*x_shape), c.normal(*w_shape), c.normal(w_shape[0])
        conv_param = {"stride": stride, "pad": pad}
        key = c.call(case, x, w, b, conv_param)
        out, _ = reference.conv_forward_naive(*_copy(x, w, b), dict(conv_param))
        if index == 0:
            def shape_only(answers, k=key, shape=out.shape):
                answers.returned(k).array("r.0", shape, "out")
                return Verdict(True)
            c.add("output shape", 1, shape_only)
        layout = _map_layout(stride=stride, bias=b)
        c.add(case, points, lambda a, k=key, o=out, l=layout: expect(a, k, "r.0", o, "out", l))


@task_checks("layers.conv_backward_naive")
def conv_backward_checks(c: Checks):
    x, w, b = c.normal(2, 3, 7, 5), c.normal(4, 3, 3, 3), c.normal(4)
    conv_param = {"stride": 2, "pad": 1}
    out, _ = reference.conv_forward_naive(*_copy(x, w, b), dict(conv_param))
    dout = c.normal(*out.shape)
    key = c.call("stride 2, pad 1, non-square", dout, (x, w, b, conv_param))
    dx, dw, db = reference.conv_backward_naive(dout.copy(), (*_copy(x, w, b), dict(conv_param)))
    inputs = {"x": x, "w": w, "b": b}
    _backward_checks(c, key, "layers.conv_forward_naive",
                     lambda nudged: (*(nudged.get(n, inputs[n]) for n in ("x", "w", "b")), conv_param),
                     inputs, {"x": dx, "w": dw, "b": db},
                     {"x": _map_layout(names=IMAGE, word="channel"),
                      "w": Layout(axis_names=FILTERS, channel_axis=0, channel_word="filter"),
                      "b": Layout()},
                     {"x": 2, "w": 2, "b": 1}, dout, out.shape)


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
    c.add("dx", 2, lambda a: expect(a, key, "r", dx, "dx", layout))

    tied = c.rng.integers(0, 2, size=(2, 2, 4, 4)).astype(np.float64)  # many windows with tied maxima
    tied_dout = c.normal(2, 2, 2, 2)
    tied_key = c.call("tied maxima", tied_dout, (tied, pool_param))
    tied_dx = reference.max_pool_backward_naive(tied_dout.copy(), (tied.copy(), dict(pool_param)))
    c.add("ties: the gradient goes to the first maximum only", 1,
          lambda a: _judge_ties(a, tied_key, tied, tied_dx, layout))

    probe = plan_probe(c.plan, f"{c.task}/numerical", "layers.max_pool_forward_naive",
                       lambda nudged: (nudged.get("x", x), pool_param), {"x": x}, c.rng,
                       samples=4, output_path="r.0", output_shape=dout.shape, timeout=c.call_timeout)

    def numerical(answers):
        analytic = {"x": answers.returned(key).array("r", x.shape, "dx")}
        return compare_with_numerical(probe, answers, dout, analytic, "max_pool_backward_naive", {"x": dx})
    c.add("agrees with the numerical gradient of your forward", 1, numerical, kind=NUMERICAL)


def _judge_ties(answers, key, x, expected, layout) -> Verdict:
    got = answers.returned(key).array("r", x.shape, "dx")
    verdict = compare(got, expected, "dx", layout)
    if verdict.passed:
        return verdict
    extra = (got != 0) & (expected == 0)
    if extra.any():
        return Verdict(False, ("in windows where several inputs tie for the maximum, your gradient reaches "
                               f"{int(extra.sum())} position(s) besides the first maximum; send each window's "
                               "gradient to its first maximum (row-major order) only, as argmax does"),
                       verdict.max_error)
    return verdict


