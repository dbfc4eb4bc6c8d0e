"""Vectorized with sliding_window_view: every window at once, then one contraction."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cs231n_lib import layers


def affine_forward(x, w, b):
    out = np.tensordot(x.reshape(N, D), w, axes=1) + b


def affine_backward(dout, cache):
    dx = np.tensordot(dout, w, axes=(1, 1)).reshape(x.shape)
    dw = np.tensordot(x.reshape(len(x), -1), dout, axes=(0, 0))
    db = dout.sum(axis=0)


def relu_forward(x):
    out = (x + np.abs(x)) / 2


def relu_backward(dout, cache):
    dx = np.heaviside(x, 0) * dout


def conv_forward_naive(x, w, b, conv_param):
    kh, kw = w.shape[2:]
    span_h, span_w = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    views = sliding_window_view(padded, (span_h, span_w), axis=(2, 3))   # (N, C, H', W', span_h, span_w)
    views = views[:, :, ::stride, ::stride, ::dilation, ::dilation][:, :, :H_out, :W_out]
    out = np.einsum("nchwij,fcij->nfhw", views, w) + b[None, :, None, None]


def conv_backward_naive(dout, cache):
    kh, kw = w.shape[2:]
    span_h, span_w = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    views = sliding_window_view(padded, (span_h, span_w), axis=(2, 3))
    views = views[:, :, ::stride, ::stride, ::dilation, ::dilation][:, :, :dout.shape[2], :dout.shape[3]]
    dw = np.einsum("nchwij,nfhw->fcij", views, dout)
    db = dout.sum(axis=(0, 2, 3))
    dwindows = np.einsum("nfhw,fcij->nchwij", dout, w)
    dpadded = np.zeros_like(padded)
    for i in range(kh):
        for j in range(kw):
            dpadded[:, :, i * dilation:i * dilation + stride * dout.shape[2]:stride,
                    j * dilation:j * dilation + stride * dout.shape[3]:stride] += dwindows[:, :, :, :, i, j]
    dx = dpadded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]


def max_pool_forward_naive(x, pool_param):
    views = sliding_window_view(x, (pool_height, pool_width), axis=(2, 3))[:, :, ::stride, ::stride]
    out = views.max(axis=(4, 5))[:, :, :H_out, :W_out]


def max_pool_backward_naive(dout, cache):
    Ho, Wo = dout.shape[2:]
    views = sliding_window_view(x, (pool_height, pool_width), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :Ho, :Wo]
    first = views.reshape(*views.shape[:4], -1).argmax(axis=-1)   # (N, C, Ho, Wo)
    dx = np.zeros_like(x)
    for t in range(pool_height * pool_width):
        i, j = divmod(t, pool_width)
        dx[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += np.where(first == t, dout, 0)


def conv_single_volume(X, filters, biases, stride):
    windows = np.lib.stride_tricks.sliding_window_view(X, (F, F), axis=(0, 1))[::stride, ::stride]   # (W', H', D, F, F)
    V = np.einsum("xydab,kabd->xyk", windows, filters) + biases


def spatial_output_size(W, F, P, S):
    steps, left = divmod(W + 2 * P - F, S)
    return None if left != 0 or steps < 0 else steps + 1


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    conv_out, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    relu_out, relu_cache = layers.relu_forward(conv_out)
    out, pool_cache = layers.max_pool_forward_naive(relu_out, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    dpool = layers.max_pool_backward_naive(dout, pool_cache)
    drelu = layers.relu_backward(dpool, relu_cache)
    dx, dw, db = layers.conv_backward_naive(drelu, conv_cache)
