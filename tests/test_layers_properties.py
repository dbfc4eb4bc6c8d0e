"""Property-based tests over random shapes, strides, pads, dilations and dtypes.

The naive layers are checked against brute-force oracles written from the notes'
formulas; the fast layers against the naive ones, forward and backward, on each backend.
"""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cs231n_lib import fast_layers, layers
from cs231n_lib.backend import np, resolve_backend, to_device, to_numpy
from cs231n_lib.gradient_check import check_gradient

from .conftest import BACKEND_PARAMS
from .oracles import conv_oracle, pool_windows

RTOL = {np.float32: 2e-4, np.float64: 1e-10}


@st.composite
def conv_cases(draw):
    """A valid conv geometry: pick the output size first, then the input size that yields it."""
    stride = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 3))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))  # 1x1 filters included
    H_out, W_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))  # non-square included
    H = (H_out - 1) * stride + (HH - 1) * dilation + 1 - 2 * pad
    W = (W_out - 1) * stride + (WW - 1) * dilation + 1 - 2 * pad
    assume(H >= 1 and W >= 1)  # wide padding around a small filter can ask for an empty input
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b, {"stride": stride, "pad": pad, "dilation": dilation}


@given(conv_cases())
def test_naive_conv_matches_the_notes_formula(case):
    x, w, b, conv_param = case
    out, _ = layers.conv_forward_naive(x, w, b, conv_param)
    expected = conv_oracle(x, w, b, conv_param["stride"], conv_param["pad"], conv_param["dilation"])
    assert out.dtype == x.dtype
    np.testing.assert_allclose(out, expected, rtol=RTOL[x.dtype.type], atol=RTOL[x.dtype.type])


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@given(case=conv_cases())
def test_fast_conv_matches_naive_forward_and_backward(backend, case):
    xp = resolve_backend(backend)
    x, w, b, conv_param = case
    out_naive, cache_naive = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(0).standard_normal(out_naive.shape).astype(x.dtype)
    grads_naive = layers.conv_backward_naive(dout, cache_naive)
    out_fast, cache_fast = fast_layers.conv_forward_fast(*(to_device(a, xp) for a in (x, w, b)), conv_param)
    grads_fast = fast_layers.conv_backward_fast(to_device(dout, xp), cache_fast)
    tol = RTOL[x.dtype.type]
    np.testing.assert_allclose(to_numpy(out_fast), out_naive, rtol=tol, atol=tol)
    for name, fast, naive in zip(("dx", "dw", "db"), grads_fast, grads_naive):
        assert fast.shape == naive.shape, name
        np.testing.assert_allclose(to_numpy(fast), naive, rtol=tol, atol=tol * 10, err_msg=name)


@given(conv_cases())
def test_naive_conv_backward_is_the_numerical_gradient(case):
    x, w, b, conv_param = case
    inputs = {"x": x, "w": w, "b": b, "conv_param": conv_param}  # check_gradient works in float64
    check_gradient(layers.conv_forward_naive, layers.conv_backward_naive, inputs, tol=1e-6)


@st.composite
def pool_cases(draw, ties=False):
    pool_height, pool_width = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    H_out, W_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = (H_out - 1) * stride + pool_height, (W_out - 1) * stride + pool_width
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if ties:  # few distinct values: most windows hold a tied maximum
        x = rng.integers(0, 3, size=(N, C, H, W)).astype(dtype)
    else:
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
    return x, {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}


@given(pool_cases(ties=True))
def test_max_pool_naive_matches_oracle_and_routes_ties_to_the_first_max(case):
    x, pool_param = case
    out, cache = layers.max_pool_forward_naive(x, pool_param)
    dout = np.arange(1, out.size + 1, dtype=x.dtype).reshape(out.shape)  # a distinct value per window
    dx = layers.max_pool_backward_naive(dout, cache)
    expected_dx = np.zeros_like(x)
    for i, j, window in pool_windows(x, pool_param["pool_height"], pool_param["pool_width"],
                                     pool_param["stride"]):
        np.testing.assert_array_equal(out[:, :, i, j], window.max(axis=(2, 3)))
        N, C = window.shape[:2]
        for n in range(N):
            for c in range(C):
                r, s = np.unravel_index(np.argmax(window[n, c]), window[n, c].shape)  # first max
                expected_dx[n, c, i * pool_param["stride"] + r,
                            j * pool_param["stride"] + s] += dout[n, c, i, j]
    np.testing.assert_array_equal(dx, expected_dx)


POOLS = {"max": ("max_pool_forward", "max_pool_backward"),
         "avg": ("avg_pool_forward", "avg_pool_backward")}


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize("kind", POOLS)
@given(case=pool_cases(ties=True))
def test_fast_pooling_matches_naive_with_ties(backend, kind, case):
    xp = resolve_backend(backend)
    x, pool_param = case
    forward, backward = POOLS[kind]
    out_naive, cache_naive = getattr(layers, forward + "_naive")(x, pool_param)
    dout = np.random.default_rng(1).standard_normal(out_naive.shape).astype(x.dtype)
    dx_naive = getattr(layers, backward + "_naive")(dout, cache_naive)
    out_fast, cache_fast = getattr(fast_layers, forward + "_fast")(to_device(x, xp), pool_param)
    dx_fast = getattr(fast_layers, backward + "_fast")(to_device(dout, xp), cache_fast)
    tol = RTOL[x.dtype.type]
    np.testing.assert_allclose(to_numpy(out_fast), out_naive, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_numpy(dx_fast), dx_naive, rtol=tol, atol=tol)


@given(pool_cases())
def test_avg_and_l2_pooling_match_their_definitions(case):
    x, pool_param = case
    avg, _ = layers.avg_pool_forward_naive(x, pool_param)
    l2, _ = layers.l2_pool_forward_naive(x, pool_param)
    for i, j, window in pool_windows(x, pool_param["pool_height"], pool_param["pool_width"],
                                     pool_param["stride"]):
        tol = RTOL[x.dtype.type]
        np.testing.assert_allclose(avg[:, :, i, j], window.mean(axis=(2, 3)), rtol=tol, atol=tol)
        np.testing.assert_allclose(l2[:, :, i, j], np.sqrt((window.astype(np.float64) ** 2).sum(axis=(2, 3))),
                                   rtol=tol, atol=tol)


def test_fast_conv_in_chunks_is_identical(rng):
    """Past the workspace budget the batch is processed in chunks with identical results."""
    x, w, b = rng.standard_normal((7, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}
    dout = rng.standard_normal((7, 4, 8, 8))
    whole_out, whole_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    whole_grads = fast_layers.conv_backward_fast(dout, whole_cache)
    per_image = 3 * 3 * 3 * 8 * 8 * 8  # im2col bytes of one image
    try:
        fast_layers.set_workspace_budget(2 * per_image)  # 2 images per chunk: 4 chunks, the last short
        chunk_out, chunk_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
        chunk_grads = fast_layers.conv_backward_fast(dout, chunk_cache)
    finally:
        fast_layers.set_workspace_budget(None)
    assert whole_cache[4] is not None and chunk_cache[4] is None  # the chunked path really ran
    np.testing.assert_allclose(chunk_out, whole_out, rtol=1e-12)
    for chunked, whole in zip(chunk_grads, whole_grads):
        np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)


def test_conv_backward_can_skip_dx(rng):
    x, w, b = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    dout = rng.standard_normal((3, 4, 6, 6))
    _, cache = fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    dx, dw, db = fast_layers.conv_backward_fast(dout, cache)
    no_dx, dw_only, db_only = fast_layers.conv_backward_fast(dout, cache, need_dx=False)
    assert dx is not None and no_dx is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 3), (2, 1)])
def test_common_pool_shapes_with_ties_fast_equals_naive(rng, size, stride):
    """Tiling (2x2/2), overlapping (3x3/2, where CS231n's own fast pooling crashes), 3x3/3, 2x2/1."""
    H = 2 * stride + size  # three windows along each side
    x = rng.integers(0, 2, size=(4, 3, H, H + stride)).astype(np.float32)  # ties everywhere
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    out_naive, cache_naive = layers.max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = fast_layers.max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out_naive.shape).astype(np.float32)
    np.testing.assert_array_equal(out_fast, out_naive)
    np.testing.assert_array_equal(fast_layers.max_pool_backward_fast(dout, cache_fast),
                                  layers.max_pool_backward_naive(dout, cache_naive))
