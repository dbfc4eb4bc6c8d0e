"""fay: loops over output positions, tensor contractions on whole windows, argmax + unravel_index."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    out = x.reshape((N, -1)).dot(w) + b


def affine_backward(dout, cache):
    n = x.shape[0]
    dw = x.reshape((n, -1)).T.dot(dout)
    dx = dout.dot(w.T).reshape(x.shape)
    db = dout.sum(axis=0)


def relu_forward(x):
    out = np.clip(x, 0, None)


def relu_backward(dout, cache):
    dx = np.where(x <= 0, 0, dout)


def conv_forward_naive(x, w, b, conv_param):
    Fh, Fw = w.shape[2], w.shape[3]
    xpad = np.pad(x, pad_width=((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant", constant_values=0)
    w_flat = w.reshape(F, -1)   # (F, C * Fh * Fw)
    out = np.empty((N, F, H_out, W_out))
    for row in range(H_out):
        for col in range(W_out):
            r0, c0 = row * stride, col * stride
            block = xpad[:, :, r0:r0 + dilation * (Fh - 1) + 1:dilation, c0:c0 + dilation * (Fw - 1) + 1:dilation]
            out[:, :, row, col] = block.reshape(N, -1).dot(w_flat.T) + b


def conv_backward_naive(dout, cache):
    Fn, Cn, Fh, Fw = w.shape
    Nn, _, Hn, Wn = x.shape
    xpad = np.pad(x, pad_width=((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant", constant_values=0)
    dxpad = np.zeros(xpad.shape)
    w_flat = w.reshape(Fn, -1)
    dw_flat = np.zeros(w_flat.shape)
    for row in range(dout.shape[2]):
        for col in range(dout.shape[3]):
            r0, c0 = row * stride, col * stride
            rs = slice(r0, r0 + dilation * (Fh - 1) + 1, dilation)
            cs = slice(c0, c0 + dilation * (Fw - 1) + 1, dilation)
            g = dout[:, :, row, col]   # (N, F)
            dw_flat += g.T.dot(xpad[:, :, rs, cs].reshape(Nn, -1))
            dxpad[:, :, rs, cs] += g.dot(w_flat).reshape(Nn, Cn, Fh, Fw)
    dw = dw_flat.reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = dxpad[:, :, pad:pad + Hn, pad:pad + Wn] if pad > 0 else dxpad


def max_pool_forward_naive(x, pool_param):
    out = np.empty((N, C, H_out, W_out))
    for row in range(H_out):
        for col in range(W_out):
            block = x[:, :, row * stride:row * stride + pool_height, col * stride:col * stride + pool_width]
            out[:, :, row, col] = block.reshape(N, C, -1).max(axis=-1)


def max_pool_backward_naive(dout, cache):
    Nn, Cn = x.shape[:2]
    dx = np.zeros(x.shape)
    for row in range(dout.shape[2]):
        for col in range(dout.shape[3]):
            r0, c0 = row * stride, col * stride
            block = x[:, :, r0:r0 + pool_height, c0:c0 + pool_width].reshape(Nn, Cn, -1)
            pr, pc = np.unravel_index(block.argmax(axis=-1), (pool_height, pool_width))
            nn, cc = np.meshgrid(np.arange(Nn), np.arange(Cn), indexing="ij")
            dx[nn, cc, r0 + pr, c0 + pc] += dout[:, :, row, col]


def conv_single_volume(X, filters, biases, stride):
    out_size = ((W - F) // stride + 1, (H - F) // stride + 1)
    V = np.zeros(out_size + (K,))
    kernels = filters.reshape(K, -1)
    for a in range(out_size[0]):
        for c in range(out_size[1]):
            V[a, c] = kernels.dot(X[a * stride:a * stride + F, c * stride:c * stride + F].ravel()) + biases


def spatial_output_size(W, F, P, S):
    size = (W - F + 2 * P) / S + 1
    if size < 1 or size != int(size):
        return None
    return int(size)


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    y1, cache1 = layers.conv_forward_naive(x, w, b, conv_param)
    y2, cache2 = layers.relu_forward(y1)
    out, cache3 = layers.max_pool_forward_naive(y2, pool_param)
    cache = (cache1, cache2, cache3)


def conv_relu_pool_backward_naive(dout, cache):
    cache1, cache2, cache3 = cache
    dy2 = layers.max_pool_backward_naive(dout, cache3)
    dy1 = layers.relu_backward(dy2, cache2)
    dx, dw, db = layers.conv_backward_naive(dy1, cache1)
