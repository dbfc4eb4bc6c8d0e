"""dee: scalar loops in the order (n, i, j, f), padding by hand, a first-maximum mask for pooling."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    rows = x.reshape(N, D)
    out = rows @ w
    out += b


def affine_backward(dout, cache):
    count = x.shape[0]
    db = dout.sum(0)
    dw = x.reshape(count, -1).T @ dout
    dx = (dout @ w.T).reshape(*x.shape)


def relu_forward(x):
    out = x * (x > 0)


def relu_backward(dout, cache):
    mask = (x > 0).astype(dout.dtype)
    dx = mask * dout


def conv_forward_naive(x, w, b, conv_param):
    C, H, W = x.shape[1:]
    kernel_h, kernel_w = w.shape[2:]
    big = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    big[:, :, pad:pad + H, pad:pad + W] = x
    out = xp.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                for f in range(F):
                    total = b[f]
                    for c in range(C):
                        for p in range(kernel_h):
                            for q in range(kernel_w):
                                total += big[n, c, i * stride + p * dilation, j * stride + q * dilation] * w[f, c, p, q]
                    out[n, f, i, j] = total


def conv_backward_naive(dout, cache):
    N, C, H, W = x.shape
    F, _, kernel_h, kernel_w = w.shape
    big = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    big[:, :, pad:pad + H, pad:pad + W] = x
    dbig = xp.zeros_like(big)
    dw = xp.zeros_like(w)
    db = dout.sum(axis=3).sum(axis=2).sum(axis=0)
    for n in range(N):
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                for f in range(F):
                    g = dout[n, f, i, j]
                    for c in range(C):
                        for p in range(kernel_h):
                            for q in range(kernel_w):
                                r, s = i * stride + p * dilation, j * stride + q * dilation
                                dw[f, c, p, q] += big[n, c, r, s] * g
                                dbig[n, c, r, s] += w[f, c, p, q] * g
    dx = dbig[:, :, pad:H + pad, pad:W + pad]


def max_pool_forward_naive(x, pool_param):
    out = xp.full((N, C, H_out, W_out), -xp.inf, dtype=x.dtype)
    for p in range(pool_height):
        for q in range(pool_width):
            tap = x[:, :, p:p + stride * (H_out - 1) + 1:stride, q:q + stride * (W_out - 1) + 1:stride]
            out = xp.maximum(out, tap)


def max_pool_backward_naive(dout, cache):
    N, C, H, W = x.shape
    dx = xp.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    region = x[n, c, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width]
                    first = xp.zeros(region.size, dtype=bool)
                    first[region.argmax()] = True
                    mask = first.reshape(region.shape)
                    dx[n, c, i * stride:i * stride + pool_height, j * stride:j * stride + pool_width] += mask * dout[n, c, i, j]


def conv_single_volume(X, filters, biases, stride):
    size_x = 1 + (W - F) // stride
    size_y = 1 + (H - F) // stride
    V = np.empty((size_x, size_y, K))
    for x in range(size_x):
        for y in range(size_y):
            for k in range(K):
                V[x, y, k] = biases[k] + np.sum(filters[k] * X[stride * x:stride * x + F, stride * y:stride * y + F])


def spatial_output_size(W, F, P, S):
    q, r = divmod(W + 2 * P - F, S)
    if r or q < 0:
        return None
    return q + 1


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    h, c1 = layers.conv_forward_naive(x, w, b, conv_param)
    h, c2 = layers.relu_forward(h)
    out, c3 = layers.max_pool_forward_naive(h, pool_param)
    cache = c1, c2, c3


def conv_relu_pool_backward_naive(dout, cache):
    c1, c2, c3 = cache
    dh = layers.max_pool_backward_naive(dout, c3)
    dh = layers.relu_backward(dh, c2)
    dx, dw, db = layers.conv_backward_naive(dh, c1)
