"""Checks of the im2col assignment: im2col, its adjoint col2im, and conv as a matrix multiply."""

from cs231n_lib import fast_layers, im2col as reference

from .checks import Checks, expect, task_checks
from .diagnosis import Layout, Verdict

COLUMNS = Layout(axis_names=("image", "row (c, kh, kw)", "window (i, j)"))
IMAGE_MAP = Layout(axis_names=("image", "channel", "row", "column"), channel_axis=1,
                   channel_word="channel", spatial=True)


@task_checks("im2col.im2col")
def im2col_checks(c: Checks):
    cases = (("stride 1, pad 1", (2, 3, 5, 5), 3, 3, 1, 1, 1, 2),
             ("stride 2, pad 0, dilation 2", (2, 2, 7, 9), 2, 2, 2, 0, 2, 1))
    for index, (case, x_shape, fh, fw, stride, pad, dilation, points) in enumerate(cases):
        x = c.normal(*x_shape)
        key = c.call(case, x, fh, fw, stride, pad, dilation)
        cols = reference.im2col(x.copy(), fh, fw, stride, pad, dilation)
        if index == 0:
            def shape_only(answers, k=key, shape=cols.shape):
                answers.returned(k).array("r", shape, "cols")
                return Verdict(True)
            c.add("shape (N, C*HH*WW, H'*W')", 1, shape_only)
        c.add(case, points, lambda a, k=key, e=cols: expect(a, k, "r", e, "cols", COLUMNS))


@task_checks("im2col.col2im")
def col2im_checks(c: Checks):
    cases = (("stride 1, pad 1: overlapping windows add up", (2, 3, 5, 5), 3, 3, 1, 1, 1, 2),
             ("stride 2, pad 1, dilation 2", (2, 2, 9, 9), 3, 2, 2, 1, 2, 1))
    for case, x_shape, fh, fw, stride, pad, dilation, points in cases:
        columns_shape = reference.im2col(c.normal(*x_shape), fh, fw, stride, pad, dilation).shape
        cols = c.normal(*columns_shape)
        key = c.call(case, cols, tuple(x_shape), fh, fw, stride, pad, dilation)
        dx = reference.col2im(cols.copy(), x_shape, fh, fw, stride, pad, dilation)
        layout = Layout(IMAGE_MAP.axis_names, 1, "channel", True, stride)
        c.add(case, points, lambda a, k=key, e=dx: expect(a, k, "r", e, "dx", layout))


@task_checks("fast_layers.conv_forward_im2col")
def conv_forward_im2col_checks(c: Checks):
    cases = (("stride 1, pad 1", (2, 3, 5, 5), (4, 3, 3, 3), 1, 1, 1, {"out": 2, "cols": 1}),
             ("stride 2, pad 1, dilation 2", (2, 3, 9, 7), (4, 3, 3, 2), 2, 1, 2, {"out": 1}))
    for case, x_shape, w_shape, stride, pad, dilation, points in cases:
        x, w, b = c.normal(*x_shape), c.normal(*w_shape), c.normal(w_shape[0])
        key = c.call(case, x, w, b, stride, pad, dilation)
        out, cols = fast_layers.conv_forward_im2col(x.copy(), w.copy(), b.copy(), stride, pad, dilation)
        out_layout = Layout(("image", "filter", "row", "column"), 1, "filter", True, stride, b)
        c.add(f"{case}: out", points["out"], lambda a, k=key, e=out: expect(a, k, "r.0", e, "out", out_layout))
        if "cols" in points:
            c.add(f"{case}: cols", points["cols"], lambda a, k=key, e=cols: expect(a, k, "r.1", e, "cols", COLUMNS))
