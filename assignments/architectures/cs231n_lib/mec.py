"""Memory-efficient convolution (MEC; Cho & Brand, ICML 2017) for the training engine.

im2col copies every input value once per filter tap, ``KH * KW`` times. MEC lowers the
input along the width only: the lowered matrix ``L`` holds, for every padded input row
``h``, filter column ``kw`` and channel ``c``, the values the output columns read,

    L[h, kw, c, col(n, j)] = x_pad[n, c, h, j * stride + kw],

so each value is copied ``KW`` times, not ``KH * KW`` times. The ``KH`` rows a window
needs are then ``KH`` consecutive row blocks of ``L``, and they are contiguous: output row
``i`` of every image at once is one matrix multiply,

    out[i] (F, cols) = W_rows (F, KH*KW*C) @ L[i*stride : i*stride + KH] (KH*KW*C, cols),

with the batch folded into the GEMM's columns (``cols = N * W_out``). The full im2col
matrix is never written. The weight gradient is the same blocks against ``dout[i]``; the
input gradient is the mirror image: the rows of ``dout`` padded with ``KH - 1`` zero rows
are contiguous blocks too, so each lowered row of ``dL`` is one multiply, and ``dL`` is
summed back into ``dx`` along the width only.

Layout. Activations are stored ``(H, C, N, W)`` ("HCNW"): the GEMM of output row ``i``
writes ``out[i]`` (F, N*W_out) in place, with no transpose. When a 2x2 stride-2 max pool
follows, the columns are ordered by the parity of j first, ``col = (j % 2, n, j // 2)``,
so that the pool's four taps are contiguous quarter blocks of ``out``.

``MecGeometry`` holds one layer's sizes; ``lower``, ``forward_rows``, ``weight_gradient``
and ``input_gradient`` are the kernels the engine calls with its own, reused buffers.
``conv_forward_mec`` / ``conv_backward_mec`` wrap them in CS231n's contract on (N, C, H, W)
arrays, for tests and benchmarks. Dilation is not supported here (the engine falls back).

>>> from cs231n_lib.backend import np
>>> x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
>>> w = np.ones((4, 3, 3, 3)); b = np.zeros(4)
>>> out, cache = conv_forward_mec(x, w, b, {"stride": 1, "pad": 1})
>>> out.shape
(2, 4, 8, 8)
"""

from dataclasses import dataclass

from .backend import get_array_module
from .checks import as_float_param, require_float_array, require_shape
from .geometry import conv_output_shape, conv_params


@dataclass(frozen=True)
class MecGeometry:
    """The sizes of one convolution on an (N, C, H, W) input with (F, C, KH, KW) filters.

    ``pool=True``: a 2x2 stride-2 max pool follows, so the columns are in parity order
    (``col = (j % 2, n, j // 2)``) and H_out, W_out must be even.
    """

    N: int
    C: int
    H: int
    W: int
    F: int
    KH: int
    KW: int
    stride: int
    pad: int
    pool: bool = False

    @classmethod
    def of(cls, x_shape, w_shape, stride, pad, pool=False):
        """Checked geometry (invalid sizes raise ValueError naming W, F, P, S)."""
        N, C, H, W = x_shape
        F, _, KH, KW = w_shape
        _, _, H_out, W_out = conv_output_shape(x_shape, w_shape, stride, pad, 1)
        if pool and (H_out % 2 or W_out % 2):
            raise ValueError(f"a fused 2x2 stride-2 pool needs an even conv output, got {H_out}x{W_out}")
        return cls(N, C, H, W, F, KH, KW, stride, pad, pool)

    @property
    def H_out(self):
        return (self.H + 2 * self.pad - self.KH) // self.stride + 1

    @property
    def W_out(self):
        return (self.W + 2 * self.pad - self.KW) // self.stride + 1

    @property
    def rows_in(self):
        """Padded input rows the output reads: (H_out - 1) * stride + KH."""
        return (self.H_out - 1) * self.stride + self.KH

    @property
    def cols(self):
        """GEMM columns: one per (image, output column)."""
        return self.N * self.W_out

    @property
    def taps(self):
        """KH * KW * C: the rows of one output row's block of L, the columns of W_rows."""
        return self.KH * self.KW * self.C

    @property
    def column_groups(self):
        """(first j, step of j) of each group of columns: parity groups before a pool."""
        return ((0, 2), (1, 2)) if self.pool else ((0, 1),)

    def lowered_shape(self):
        """L: (rows_in, KW, C, cols)."""
        return (self.rows_in, self.KW, self.C, self.cols)

    def width_runs(self):
        """Yield (kw, group, t_lo, t_hi, w_lo, w_step): the valid copies between x and L.

        For filter column kw and column group g (j = j0 + step * t, t < W_out / groups),
        the columns t in [t_lo, t_hi) of L's group read the input columns
        ``w_lo, w_lo + w_step, ...``; the other columns of L are zero padding.
        """
        per_group = self.W_out // len(self.column_groups)
        for kw in range(self.KW):
            for group, (j0, j_step) in enumerate(self.column_groups):
                offset = j0 * self.stride + kw - self.pad  # input column of t = 0
                w_step = j_step * self.stride
                t_lo = -(offset // w_step) if offset < 0 else 0  # first t with offset + t * w_step >= 0
                t_hi = min(per_group, (self.W - 1 - offset) // w_step + 1)
                if t_hi > t_lo:
                    yield kw, group, t_lo, t_hi, offset + t_lo * w_step, w_step

    def valid_rows(self):
        """(r_lo, r_hi): the rows of L that hold input rows (the rest is zero padding)."""
        return self.pad, min(self.pad + self.H, self.rows_in)


def weight_rows(w):
    """W_rows: (F, C, KH, KW) filters as (F, KH*KW*C) rows, in L's (kh, kw, c) order."""
    xp = get_array_module(w)
    F = w.shape[0]
    return xp.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(F, -1)


def transposed_weight_rows(w):
    """W_dx: (KW*C, KH*F), W_dx[(kw, c), (r, f)] = w[f, c, KH - 1 - r, kw]: the input gradient's filters."""
    xp = get_array_module(w)
    F, C, KH, KW = w.shape
    return xp.ascontiguousarray(w[:, :, ::-1, :].transpose(3, 1, 2, 0)).reshape(KW * C, KH * F)


def _grouped(array, geometry):
    """A (..., cols) array viewed as (..., groups, N, cols per group)."""
    groups = len(geometry.column_groups)
    return array.reshape(*array.shape[:-1], groups, geometry.N, geometry.W_out // groups)


def lower(x_hcnw, geometry, L):
    """Write the input into the valid part of L (its padding stays as it is: zero).

    x_hcnw: (H, C, N, W), any strides (e.g. an (N, C, H, W) batch transposed).
    L: (rows_in, KW, C, cols), zero wherever padding is read.
    """
    r_lo, r_hi = geometry.valid_rows()
    L_groups = _grouped(L, geometry)  # (rows_in, KW, C, groups, N, t)
    rows = x_hcnw[:r_hi - r_lo]
    for kw, group, t_lo, t_hi, w_lo, w_step in geometry.width_runs():
        w_hi = w_lo + (t_hi - t_lo - 1) * w_step + 1
        L_groups[r_lo:r_hi, kw, :, group, :, t_lo:t_hi] = rows[:, :, :, w_lo:w_hi:w_step]


def forward_rows(w_rows, L, geometry, out):
    """out[i] = w_rows @ (row block i of L), for every output row i.

    w_rows: (F, KH*KW*C); L: (rows_in, KW, C, cols); out: (H_out, F, cols), written.
    """
    xp = get_array_module(L)
    L_rows = L.reshape(-1, geometry.cols)
    block = geometry.KW * geometry.C  # rows of L per input row
    for i in range(geometry.H_out):
        top = i * geometry.stride * block
        xp.matmul(w_rows, L_rows[top:top + geometry.taps], out=out[i])


def weight_gradient(L, dout_rows, geometry, total, scratch):
    """dW (F, C, KH, KW) = sum over output rows i of dout_rows[i] against row block i of L.

    dout_rows: (H_out, F, cols); total, scratch: (KH*KW*C, F) buffers (total is written).
    Returns a (F, C, KH, KW) view of ``total``.
    """
    xp = get_array_module(L)
    L_rows = L.reshape(-1, geometry.cols)
    block = geometry.KW * geometry.C
    for i in range(geometry.H_out):
        top = i * geometry.stride * block
        # (KH*KW*C, cols) @ (cols, F): the orientation OpenBLAS ran fastest for these shapes.
        xp.matmul(L_rows[top:top + geometry.taps], dout_rows[i].T, out=total if i == 0 else scratch)
        if i:
            total += scratch
    KH, KW, C, F = geometry.KH, geometry.KW, geometry.C, geometry.F
    return total.reshape(KH, KW, C, F).transpose(3, 2, 0, 1)


def padded_gradient_shape(geometry):
    """dout_padded: (rows_in + KH - 1, F, cols), zero but for rows KH - 1 + i * stride."""
    return (geometry.rows_in + geometry.KH - 1, geometry.F, geometry.cols)


def gradient_rows(dout_padded, geometry):
    """The (H_out, F, cols) rows of dout_padded that hold dout (a view)."""
    first = geometry.KH - 1
    return dout_padded[first:first + (geometry.H_out - 1) * geometry.stride + 1:geometry.stride]


def input_gradient(w_dx, dout_padded, geometry, dL_row, dx):
    """dx (H, C, N, W) of the convolution from the zero-padded dout rows.

    Padded input row h receives ``dL[h] = w_dx @ dout_padded[h : h + KH]`` (the KH rows
    of dout whose windows cover h, with the filter rows reversed), then the mirror of
    ``lower`` sums dL's filter columns back into the input columns they came from.
    w_dx: (KW*C, KH*F); dout_padded: (rows_in + KH - 1, F, cols); dL_row: (KW*C, cols)
    scratch; dx: (H, C, N, W), written.
    """
    xp = get_array_module(dout_padded)
    D_rows = dout_padded.reshape(-1, geometry.cols)
    F = geometry.F
    r_lo, r_hi = geometry.valid_rows()
    runs = list(geometry.width_runs())
    dL_groups = _grouped(dL_row.reshape(geometry.KW, geometry.C, geometry.cols), geometry)
    dx[r_hi - r_lo:] = 0  # input rows no window reads (a stride that leaves a remainder)
    for h in range(r_lo, r_hi):
        xp.matmul(w_dx, D_rows[h * F:(h + geometry.KH) * F], out=dL_row)
        dx_row = dx[h - r_lo]  # (C, N, W)
        dx_row[...] = 0
        for kw, group, t_lo, t_hi, w_lo, w_step in runs:
            w_hi = w_lo + (t_hi - t_lo - 1) * w_step + 1
            dx_row[:, :, w_lo:w_hi:w_step] += dL_groups[kw, :, group, :, t_lo:t_hi]


# ----------------------------------------------------------------------------- CS231n's contract

def conv_forward_mec(x, w, b, conv_param):
    """Convolution by MEC. Inputs, shapes and ``out`` as :func:`layers.conv_forward_naive`
    (stride and pad; dilation must be 1).

    Returns (out, cache): out (N, F, H', W'); cache = (x, w, b, conv_param, L).
    Allocates its buffers on every call (the engine keeps and reuses its own).
    """
    require_float_array("x", x, ndim=4, layout="(N, C, H, W)")
    w = as_float_param("w", w, x, ndim=4, layout="(F, C, HH, WW)")
    b = as_float_param("b", b, x, ndim=1, layout="(F,)")
    stride, pad, dilation = conv_params(conv_param)
    if dilation != 1:
        raise ValueError(f"conv_forward_mec supports dilation 1 only, got {dilation}: "
                         "use layers.conv_forward_naive or fast_layers.conv_forward_fast")
    geometry = MecGeometry.of(x.shape, w.shape, stride, pad)
    require_shape("b", b, (geometry.F,), "(F,)")
    xp = get_array_module(x)
    dtype = xp.result_type(x, w)
    L = xp.zeros(geometry.lowered_shape(), dtype=dtype)
    lower(x.transpose(2, 1, 0, 3), geometry, L)  # (N, C, H, W) read as (H, C, N, W)
    out = xp.empty((geometry.H_out, geometry.F, geometry.cols), dtype=dtype)
    forward_rows(weight_rows(w.astype(dtype, copy=False)), L, geometry, out)
    out = out.reshape(geometry.H_out, geometry.F, geometry.N, geometry.W_out).transpose(2, 1, 0, 3)
    return xp.ascontiguousarray(out + b[:, None, None]), (x, w, b, conv_param, L)


def conv_backward_mec(dout, cache):
    """Backward pass of :func:`conv_forward_mec`. Returns (dx, dw, db) like the naive backward."""
    x, w, b, conv_param, L = cache
    stride, pad, _ = conv_params(conv_param)
    geometry = MecGeometry.of(x.shape, w.shape, stride, pad)
    require_float_array("dout", dout, ndim=4, layout="(N, F, H', W')")
    require_shape("dout", dout, (geometry.N, geometry.F, geometry.H_out, geometry.W_out), "(N, F, H', W')")
    xp = get_array_module(dout)
    dtype = L.dtype
    dout_padded = xp.zeros(padded_gradient_shape(geometry), dtype=dtype)
    rows = gradient_rows(dout_padded, geometry)
    rows.reshape(geometry.H_out, geometry.F, geometry.N, geometry.W_out)[...] = dout.transpose(2, 1, 0, 3)
    total = xp.empty((geometry.taps, geometry.F), dtype=dtype)
    dw = weight_gradient(L, rows, geometry, total, xp.empty_like(total))
    db = dout.sum(axis=(0, 2, 3))
    dx_hcnw = xp.empty((geometry.H, geometry.C, geometry.N, geometry.W), dtype=dtype)
    dL_row = xp.empty((geometry.KW * geometry.C, geometry.cols), dtype=dtype)
    input_gradient(transposed_weight_rows(w.astype(dtype, copy=False)), dout_padded, geometry, dL_row, dx_hcnw)
    return xp.ascontiguousarray(dx_hcnw.transpose(2, 1, 0, 3)), xp.ascontiguousarray(dw), db
