"""The most common style: one loop per output index, np.pad, a window times a filter."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], np.prod(x.shape[1:])).dot(w) + b


def affine_backward(dout, cache):
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], np.prod(x.shape[1:])).T.dot(dout)
    db = np.sum(dout, axis=0)


def relu_forward(x):
    out = np.maximum(x, 0)


def relu_backward(dout, cache):
    dx = dout * (x > 0)


def conv_forward_naive(x, w, b, conv_param):
    _, C, H, W = x.shape
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for hi in range(H_out):
                for wi in range(W_out):
                    hs = hi * stride
                    ws = wi * stride
                    x_window = x_pad[n, :, hs:hs + (HH - 1) * dilation + 1:dilation,
                                     ws:ws + (WW - 1) * dilation + 1:dilation]
                    out[n, f, hi, wi] = np.sum(x_window * w[f, :, :, :]) + b[f]


def conv_backward_naive(dout, cache):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
    dx_pad = np.zeros(x_pad.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(b.shape)
    for n in range(N):
        for f in range(F):
            for hi in range(H_out):
                for wi in range(W_out):
                    hs = hi * stride
                    ws = wi * stride
                    rows = slice(hs, hs + (HH - 1) * dilation + 1, dilation)
                    cols = slice(ws, ws + (WW - 1) * dilation + 1, dilation)
                    db[f] += dout[n, f, hi, wi]
                    dw[f, :, :, :] += x_pad[n, :, rows, cols] * dout[n, f, hi, wi]
                    dx_pad[n, :, rows, cols] += w[f, :, :, :] * dout[n, f, hi, wi]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]


def max_pool_forward_naive(x, pool_param):
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for hi in range(H_out):
                for wi in range(W_out):
                    hs = hi * stride
                    ws = wi * stride
                    out[n, c, hi, wi] = np.max(x[n, c, hs:hs + pool_height, ws:ws + pool_width])


def max_pool_backward_naive(dout, cache):
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for hi in range(H_out):
                for wi in range(W_out):
                    hs = hi * stride
                    ws = wi * stride
                    x_window = x[n, c, hs:hs + pool_height, ws:ws + pool_width]
                    index = np.argmax(x_window)
                    dx[n, c, hs + index // pool_width, ws + index % pool_width] += dout[n, c, hi, wi]


def conv_single_volume(X, filters, biases, stride):
    W_out = (W - F) // stride + 1
    H_out = (H - F) // stride + 1
    V = np.zeros((W_out, H_out, K))
    for k in range(K):
        for xi in range(W_out):
            for yi in range(H_out):
                xs = xi * stride
                ys = yi * stride
                V[xi, yi, k] = np.sum(X[xs:xs + F, ys:ys + F, :] * filters[k, :, :, :]) + biases[k]


def spatial_output_size(W, F, P, S):
    if (W - F + 2 * P) < 0 or (W - F + 2 * P) % S != 0:
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
