"""ThreeLayerConvNet: conv - relu - 2x2 max pool - affine - relu - affine - softmax (CS231n).

>>> from cs231n_lib.backend import np
>>> model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=5)
>>> sorted(model.params)
['W1', 'W2', 'W3', 'b1', 'b2', 'b3']
>>> model.loss(np.zeros((2, 3, 8, 8))).shape
(2, 10)
"""

from ..backend import np, resolve_backend, to_device
from ..checks import require_float_array, require_shape
from ..geometry import pool_output_shape
from ..layer_utils import (affine_relu_backward, affine_relu_forward, conv_relu_pool_backward,
                           conv_relu_pool_forward)
from ..layers import affine_backward, affine_forward, softmax_loss


class ThreeLayerConvNet:
    """A three-layer convolutional network on (N, C, H, W) minibatches.

    conv (``num_filters`` filters of ``filter_size`` x ``filter_size``, stride 1,
    padding that preserves H and W) - relu - 2x2 max pool (stride 2) - affine
    (``hidden_dim`` units) - relu - affine (``num_classes`` scores) - softmax.

    Parameters, in ``self.params``:
    - W1: (F, C, filter_size, filter_size), b1: (F,)
    - W2: (F * H/2 * W/2, hidden_dim), b2: (hidden_dim,)
    - W3: (hidden_dim, num_classes), b3: (num_classes,)
    Weights start as ``weight_scale`` times standard normal draws from NumPy's
    global generator (``np.random.seed`` makes them repeatable), biases as zeros.
    ``backend`` ('numpy', 'cupy', 'auto'; default from CS231N_BACKEND) chooses
    where the parameters live; inputs are moved there by the caller (the Solver does).
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32, backend=None):
        if len(input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}")
        if filter_size % 2 != 1:
            raise ValueError(f"filter_size must be odd so that padding can preserve H and W, got {filter_size}")
        C, H, W = input_dim
        self.reg = reg
        self.dtype = np.dtype(dtype)
        self.filter_size = filter_size
        self.input_dim = tuple(input_dim)
        _, _, H_pool, W_pool = pool_output_shape((1, num_filters, H, W), 2, 2, 2)
        self.params = {}
        ### BEGIN SOLUTION
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * H_pool * W_pool, hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        ### END SOLUTION
        xp = resolve_backend(backend)
        for name, value in self.params.items():
            self.params[name] = to_device(value.astype(self.dtype), xp)

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Inputs: X (N, C, H, W); y (N,) labels or None.
        Returns scores (N, num_classes) when y is None, else (loss, grads) with
        loss a float (data loss plus 0.5 * reg * sum of squared weights) and grads a
        dict with one array per parameter, of the parameter's shape.
        """
        require_float_array("X", X, ndim=4, layout="(N, C, H, W)")
        require_shape("X", X, (X.shape[0], *self.input_dim), "(N, C, H, W)")
        X = X.astype(self.dtype, copy=False)
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        conv_param = {"stride": 1, "pad": (self.filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        scores = None
        ### BEGIN SOLUTION
        pooled, conv_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)
        ### END SOLUTION
        if y is None:
            return scores
        loss, grads = 0.0, {}
        ### BEGIN SOLUTION
        data_loss, dscores = softmax_loss(scores, y)
        weight_norms = float(sum((W * W).sum() for W in (W1, W2, W3)))  # one host read, not three
        loss = data_loss + 0.5 * self.reg * weight_norms
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, conv_cache, need_dx=False)
        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
            grads[name] = grads[name] + self.reg * W
        ### END SOLUTION
        return loss, grads
