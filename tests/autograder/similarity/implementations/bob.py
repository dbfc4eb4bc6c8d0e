"""bob: ann's code with the names changed, reformatted, commented, and two independent lines swapped."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    # flatten each example into a row
    flat = x.reshape(x.shape[0],
                     -1)
    out = np.dot(flat, w) + b


def affine_backward(dout, cache):
    flat = x.reshape(x.shape[0], -1)
    dx = np.dot(dout, w.T).reshape(x.shape)   # back to the input's shape
    dw = np.dot(flat.T, dout)
    db = np.sum(dout, axis=0)


def relu_forward(x):
    out = np.maximum(0, x)


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[x <= 0] = 0


def conv_forward_naive(x, w, b, conv_param):
    kh, kw = w.shape[2], w.shape[3]
    padded = np.pad(x,
                    ((0, 0), (0, 0), (pad, pad), (pad, pad)),
                    mode='constant')
    out = np.zeros((N, F, H_out, W_out))
    # the receptive field once dilated
    reach_w = (kw - 1) * dilation + 1
    reach_h = (kh - 1) * dilation + 1
    for img in range(N):
        for flt in range(F):
            for row in range(H_out):
                for col in range(W_out):
                    top = row * stride
                    left = col * stride
                    window = padded[img, :, top:top + reach_h:dilation, left:left + reach_w:dilation]
                    out[img, flt, row, col] = np.sum(window * w[flt]) + b[flt]


def conv_backward_naive(dout, cache):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    H_out, W_out = dout.shape[2], dout.shape[3]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='constant')
    dpadded = np.zeros_like(padded)
    db = np.zeros_like(b)
    dw = np.zeros_like(w)
    reach_h = (kh - 1) * dilation + 1
    reach_w = (kw - 1) * dilation + 1
    for img in range(N):
        for flt in range(F):
            db[flt] += np.sum(dout[img, flt])   # bias gets every position
            for row in range(H_out):
                for col in range(W_out):
                    top = row * stride
                    left = col * stride
                    window = padded[img, :, top:top + reach_h:dilation, left:left + reach_w:dilation]
                    dw[flt] += window * dout[img, flt, row, col]
                    dpadded[img, :, top:top + reach_h:dilation,
                            left:left + reach_w:dilation] += w[flt] * dout[img, flt, row, col]
    dx = dpadded[:, :, pad:pad + H, pad:pad + W]   # drop the padding


def max_pool_forward_naive(x, pool_param):
    out = np.zeros((N, C, H_out, W_out))
    for img in range(N):
        for ch in range(C):
            for row in range(H_out):
                for col in range(W_out):
                    top = row * stride
                    left = col * stride
                    out[img, ch, row, col] = np.max(
                        x[img, ch, top:top + pool_height, left:left + pool_width])


def max_pool_backward_naive(dout, cache):
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for img in range(N):
        for ch in range(C):
            for row in range(H_out):
                for col in range(W_out):
                    top = row * stride
                    left = col * stride
                    window = x[img, ch, top:top + pool_height, left:left + pool_width]
                    r, c = np.unravel_index(np.argmax(window), window.shape)
                    dx[img, ch, top + r, left + c] += dout[img, ch, row, col]


def conv_single_volume(X, filters, biases, stride):
    out_w = (W - F) // stride + 1
    out_h = (H - F) // stride + 1
    V = np.zeros((out_w, out_h, K))
    for kk in range(K):
        for a in range(out_w):
            for c in range(out_h):
                V[a, c, kk] = np.sum(X[a * stride:a * stride + F, c * stride:c * stride + F, :]
                                     * filters[kk]) + biases[kk]


def spatial_output_size(W, F, P, S):
    if (W - F + 2*P) % S != 0 or W - F + 2*P < 0:
        return None
    return (W - F + 2*P) // S + 1


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    conv_out, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    relu_out, relu_cache = layers.relu_forward(conv_out)
    out, pool_cache = layers.max_pool_forward_naive(relu_out, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    d_relu = layers.max_pool_backward_naive(dout, pool_cache)
    d_conv = layers.relu_backward(d_relu, relu_cache)
    dx, dw, db = layers.conv_backward_naive(d_conv, conv_cache)
