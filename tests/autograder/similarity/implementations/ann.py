"""ann: the plain CS231n style, loops over (n, f, i, j) and np.pad (she shares it with bob)."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    x_flat = x.reshape(x.shape[0], -1)
    out = np.dot(x_flat, w) + b


def affine_backward(dout, cache):
    x_flat = x.reshape(x.shape[0], -1)
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x_flat.T, dout)
    db = np.sum(dout, axis=0)


def relu_forward(x):
    out = np.maximum(0, x)


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[x <= 0] = 0


def conv_forward_naive(x, w, b, conv_param):
    HH, WW = w.shape[2], w.shape[3]
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    span_h = (HH - 1) * dilation + 1
    span_w = (WW - 1) * dilation + 1
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    h0 = i * stride
                    w0 = j * stride
                    patch = x_padded[n, :, h0:h0 + span_h:dilation, w0:w0 + span_w:dilation]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]


def conv_backward_naive(dout, cache):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = dout.shape[2], dout.shape[3]
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    span_h = (HH - 1) * dilation + 1
    span_w = (WW - 1) * dilation + 1
    for n in range(N):
        for f in range(F):
            db[f] += np.sum(dout[n, f])
            for i in range(H_out):
                for j in range(W_out):
                    h0 = i * stride
                    w0 = j * stride
                    patch = x_padded[n, :, h0:h0 + span_h:dilation, w0:w0 + span_w:dilation]
                    dw[f] += patch * dout[n, f, i, j]
                    dx_padded[n, :, h0:h0 + span_h:dilation, w0:w0 + span_w:dilation] += w[f] * dout[n, f, i, j]
    dx = dx_padded[:, :, pad:pad + H, pad:pad + W]


def max_pool_forward_naive(x, pool_param):
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0 = i * stride
                    w0 = j * stride
                    out[n, c, i, j] = np.max(x[n, c, h0:h0 + pool_height, w0:w0 + pool_width])


def max_pool_backward_naive(dout, cache):
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    h0 = i * stride
                    w0 = j * stride
                    patch = x[n, c, h0:h0 + pool_height, w0:w0 + pool_width]
                    a, b = np.unravel_index(np.argmax(patch), patch.shape)
                    dx[n, c, h0 + a, w0 + b] += dout[n, c, i, j]


def conv_single_volume(X, filters, biases, stride):
    W_out = (W - F) // stride + 1
    H_out = (H - F) // stride + 1
    V = np.zeros((W_out, H_out, K))
    for k in range(K):
        for i in range(W_out):
            for j in range(H_out):
                V[i, j, k] = np.sum(X[i * stride:i * stride + F, j * stride:j * stride + F, :] * filters[k]) + biases[k]


def spatial_output_size(W, F, P, S):
    if (W - F + 2 * P) % S != 0 or W - F + 2 * P < 0:
        return None
    return (W - F + 2 * P) // S + 1


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    a, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    s, relu_cache = layers.relu_forward(a)
    out, pool_cache = layers.max_pool_forward_naive(s, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    ds = layers.max_pool_backward_naive(dout, pool_cache)
    da = layers.relu_backward(ds, relu_cache)
    dx, dw, db = layers.conv_backward_naive(da, conv_cache)
