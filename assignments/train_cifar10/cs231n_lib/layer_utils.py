"""Sandwich layers: common stacks of layers as one forward/backward pair.

Each forward returns ``(out, cache)`` where the cache is the tuple of the inner
layers' caches; each backward unpacks it and runs the inner backwards in reverse.
The conv sandwiches use the fast (im2col) layers, as CS231n's do.
"""

from .fast_layers import (conv_backward_fast, conv_forward_fast, max_pool_backward_fast,
                          max_pool_forward_fast)
from .layers import (affine_backward, affine_forward, relu_backward, relu_forward,
                     spatial_batchnorm_backward, spatial_batchnorm_forward)


def affine_relu_forward(x, w, b):
    """Affine then ReLU. x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward of :func:`affine_relu_forward`. Returns (dx, dw, db)."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """Conv then ReLU. x (N, C, H, W), w (F, C, HH, WW), b (F,) -> out (N, F, H', W')."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward of :func:`conv_relu_forward`. Returns (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Conv, ReLU, max pool. Returns (out, cache) with out (N, F, H'', W'')."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache, need_dx=True):
    """Backward of :func:`conv_relu_pool_forward`. Returns (dx, dw, db).

    need_dx=False skips the input gradient (dx is None), for a network's first layer.
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache, need_dx=need_dx)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Conv, spatial batch normalization, ReLU. gamma, beta: (F,). Returns (out, cache)."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """Backward of :func:`conv_bn_relu_forward`. Returns (dx, dw, db, dgamma, dbeta)."""
    conv_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta
