"""eli: vectorized over the batch, loops over kernel taps (shift and add), einsum."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    out = np.einsum("nd,dm->nm", x.reshape(len(x), -1), w) + b[None, :]


def affine_backward(dout, cache):
    dx = np.einsum("nm,dm->nd", dout, w).reshape(x.shape)
    dw = np.einsum("nd,nm->dm", x.reshape(len(x), -1), dout)
    db = np.einsum("nm->m", dout)


def relu_forward(x):
    out = np.where(x > 0, x, 0.0)


def relu_backward(dout, cache):
    dx = np.where(x > 0, dout, 0.0)


def conv_forward_naive(x, w, b, conv_param):
    padded = xp.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    taps_h, taps_w = w.shape[-2:]
    out = xp.zeros((N, F, H_out, W_out), dtype=x.dtype) + b.reshape(1, F, 1, 1)
    for u in range(taps_h):
        for v in range(taps_w):
            shifted = padded[:, :, u * dilation::stride, v * dilation::stride][:, :, :H_out, :W_out]  # (N, C, H_out, W_out)
            out += np.einsum("nchw,fc->nfhw", shifted, w[:, :, u, v])


def conv_backward_naive(dout, cache):
    padded = xp.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    dpadded = xp.zeros_like(padded)
    taps_h, taps_w = w.shape[-2:]
    H_out, W_out = dout.shape[-2:]
    dw = xp.empty_like(w)
    for u in range(taps_h):
        for v in range(taps_w):
            rows = slice(u * dilation, u * dilation + stride * (H_out - 1) + 1, stride)
            cols = slice(v * dilation, v * dilation + stride * (W_out - 1) + 1, stride)
            dw[:, :, u, v] = np.einsum("nfhw,nchw->fc", dout, padded[:, :, rows, cols])
            dpadded[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, u, v])
    db = np.einsum("nfhw->f", dout)
    dx = dpadded[:, :, pad:dpadded.shape[2] - pad, pad:dpadded.shape[3] - pad]


def max_pool_forward_naive(x, pool_param):
    stacked = xp.stack([x[:, :, u:u + stride * (H_out - 1) + 1:stride, v:v + stride * (W_out - 1) + 1:stride]
                        for u in range(pool_height) for v in range(pool_width)])   # (taps, N, C, H_out, W_out)
    out = stacked.max(axis=0)


def max_pool_backward_naive(dout, cache):
    H_out, W_out = dout.shape[-2:]
    stacked = xp.stack([x[:, :, u:u + stride * (H_out - 1) + 1:stride, v:v + stride * (W_out - 1) + 1:stride]
                        for u in range(pool_height) for v in range(pool_width)])
    winner = stacked.argmax(axis=0)   # the first tap holding the maximum
    dx = xp.zeros_like(x)
    for t in range(pool_height * pool_width):
        u, v = divmod(t, pool_width)
        dx[:, :, u:u + stride * (H_out - 1) + 1:stride, v:v + stride * (W_out - 1) + 1:stride] += dout * (winner == t)


def conv_single_volume(X, filters, biases, stride):
    starts_x = np.arange(0, W - F + 1, stride)
    starts_y = np.arange(0, H - F + 1, stride)
    V = np.stack([np.stack([np.einsum("abd,kabd->k", X[x0:x0 + F, y0:y0 + F], filters) for y0 in starts_y])
                  for x0 in starts_x]) + biases


def spatial_output_size(W, F, P, S):
    numerator = W - F + 2 * P
    return numerator // S + 1 if numerator >= 0 and numerator % S == 0 else None


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    a, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    r, relu_cache = layers.relu_forward(a)
    out, pool_cache = layers.max_pool_forward_naive(r, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    dx, dw, db = layers.conv_backward_naive(
        layers.relu_backward(layers.max_pool_backward_naive(dout, pool_cache), relu_cache), conv_cache)
