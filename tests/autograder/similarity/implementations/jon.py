"""jon: the same short parts as ivy, independently: everyone writes them alike (the rest left as stubs)."""
import numpy as np

from cs231n_lib import layers


def relu_forward(x):
    out = np.maximum(0, x)


def relu_backward(dout, cache):
    dx = dout * (x > 0)


def spatial_output_size(W, F, P, S):
    if (W - F + 2 * P) % S != 0 or W - F + 2 * P < 0:
        return None
    return (W - F + 2 * P) // S + 1


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    a, conv_cache = layers.conv_forward_naive(x, w, b, conv_param)
    r, relu_cache = layers.relu_forward(a)
    out, pool_cache = layers.max_pool_forward_naive(r, pool_param)
    cache = (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    conv_cache, relu_cache, pool_cache = cache
    d_pool = layers.max_pool_backward_naive(dout, pool_cache)
    d_relu = layers.relu_backward(d_pool, relu_cache)
    dx, dw, db = layers.conv_backward_naive(d_relu, conv_cache)
