"""gus: loops over filters outside positions, np.sum over axes, np.add.at to route pooling gradients."""
import numpy as np

from cs231n_lib import layers


def affine_forward(x, w, b):
    out = np.matmul(np.reshape(x, (x.shape[0], w.shape[0])), w) + b


def affine_backward(dout, cache):
    x2 = np.reshape(x, (x.shape[0], w.shape[0]))
    dx = np.reshape(np.matmul(dout, np.transpose(w)), x.shape)
    dw = np.matmul(np.transpose(x2), dout)
    db = np.sum(dout, axis=0)


def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0


def relu_backward(dout, cache):
    dx = np.multiply(dout, np.greater(x, 0))


def conv_forward_naive(x, w, b, conv_param):
    HH, WW = w.shape[2:]
    xp_ = np.pad(x, ((0,), (0,), (pad,), (pad,)))
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for k in range(F):
        for y in range(H_out):
            for z in range(W_out):
                field = xp_[:, :, y * stride:y * stride + (HH - 1) * dilation + 1:dilation,
                            z * stride:z * stride + (WW - 1) * dilation + 1:dilation]
                out[:, k, y, z] = np.sum(field * w[k][np.newaxis], axis=(1, 2, 3))
        out[:, k] += b[k]


def conv_backward_naive(dout, cache):
    HH, WW = w.shape[2:]
    xp_ = np.pad(x, ((0,), (0,), (pad,), (pad,)))
    dxp = np.zeros_like(xp_)
    dw = np.zeros_like(w)
    db = np.array([np.sum(dout[:, k]) for k in range(w.shape[0])])
    for k in range(w.shape[0]):
        for y in range(dout.shape[2]):
            for z in range(dout.shape[3]):
                ys = slice(y * stride, y * stride + (HH - 1) * dilation + 1, dilation)
                zs = slice(z * stride, z * stride + (WW - 1) * dilation + 1, dilation)
                weight = dout[:, k, y, z][:, np.newaxis, np.newaxis, np.newaxis]
                dw[k] += np.sum(xp_[:, :, ys, zs] * weight, axis=0)
                dxp[:, :, ys, zs] += weight * w[k][np.newaxis]
    dx = dxp[:, :, pad:dxp.shape[2] - pad, pad:dxp.shape[3] - pad]


def max_pool_forward_naive(x, pool_param):
    out = np.zeros((N, C, H_out, W_out))
    for y in range(H_out):
        for z in range(W_out):
            out[:, :, y, z] = np.amax(x[:, :, y * stride:y * stride + pool_height,
                                        z * stride:z * stride + pool_width], axis=(2, 3))


def max_pool_backward_naive(dout, cache):
    dx = np.zeros_like(x)
    N, C = x.shape[0], x.shape[1]
    n_idx, c_idx = np.indices((N, C))
    for y in range(dout.shape[2]):
        for z in range(dout.shape[3]):
            field = x[:, :, y * stride:y * stride + pool_height, z * stride:z * stride + pool_width]
            flat = np.argmax(np.reshape(field, (N, C, pool_height * pool_width)), axis=2)
            np.add.at(dx, (n_idx, c_idx, y * stride + flat // pool_width, z * stride + flat % pool_width),
                      dout[:, :, y, z])


def conv_single_volume(X, filters, biases, stride):
    V = np.zeros(((W - F) // stride + 1, (H - F) // stride + 1, K))
    for k in range(K):
        for y in range(V.shape[0]):
            for z in range(V.shape[1]):
                V[y, z, k] = np.sum(np.multiply(X[y * stride:y * stride + F, z * stride:z * stride + F, :], filters[k]))
        V[:, :, k] += biases[k]


def spatial_output_size(W, F, P, S):
    if W + 2 * P < F:
        return None
    if (W + 2 * P - F) % S:
        return None
    return 1 + (W + 2 * P - F) // S


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    conv, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    relu, relu_cache = layers.relu_forward(conv)
    out, pool_cache = layers.max_pool_forward_naive(relu, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    drelu = layers.max_pool_backward_naive(dout, pool_cache)
    dconv = layers.relu_backward(drelu, relu_cache)
    dx, dw, db = layers.conv_backward_naive(dconv, conv_cache)
