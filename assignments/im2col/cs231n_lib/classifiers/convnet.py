"""ConvNet: any network of the notes' pattern, built from a short spec.

    INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC

with an optional batch normalization (``BN``) right after any CONV or FC layer.

>>> from cs231n_lib.backend import np
>>> model = ConvNet("[CONV3-8 -> RELU -> POOL2]*2 -> FC-20 -> RELU -> FC", input_dim=(3, 16, 16))
>>> [(k, v.shape) for k, v in model.params.items() if k.startswith("W")]
[('W1', (8, 3, 3, 3)), ('W2', (8, 8, 3, 3)), ('W3', (128, 20)), ('W4', (20, 10))]
>>> model.loss(np.zeros((2, 3, 16, 16))).shape
(2, 10)
"""

from ..backend import get_array_module, np, resolve_backend, to_device
from ..checks import require_float_array, require_label_smoothing
from ..fast_layers import (avg_pool_backward_fast, avg_pool_forward_fast, conv_backward_fast,
                           conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast)
from ..geometry import conv_output_shape, pool_output_shape
from ..layer_spec import FC, BatchNorm, Conv, Input, Pool, as_layers, render_spec
from ..layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_forward,
                      l2_pool_backward_naive, l2_pool_forward_naive, relu_backward, relu_forward,
                      softmax_loss, spatial_batchnorm_backward, spatial_batchnorm_forward)

# Batch normalization's constants, CS231n's defaults: eps inside the square root, and the
# momentum of the running statistics, running = momentum * running + (1 - momentum) * batch.
BN_EPS = 1e-5
BN_MOMENTUM = 0.9

POOL_LAYERS = {"max": (max_pool_forward_fast, max_pool_backward_fast),
               "avg": (avg_pool_forward_fast, avg_pool_backward_fast),
               "l2": (l2_pool_forward_naive, l2_pool_backward_naive)}


def check_layer_pattern(layers):
    """Refuse layer lists outside the notes' pattern: no CONV or POOL after an FC, an FC or CONV last."""
    seen_fc = False
    for i, layer in enumerate(layers):
        if isinstance(layer, FC):
            seen_fc = True
        elif isinstance(layer, (Conv, Pool)) and seen_fc:
            raise ValueError(f"layer {i + 1} ({layer.name}) comes after an FC layer; the pattern is "
                             "INPUT -> [[CONV -> BN? -> RELU]*N -> POOL?]*M -> [FC -> BN? -> RELU]*K -> FC")
    if not layers or not isinstance(layers[-1], (FC, Conv)):
        last = layers[-1].name if layers else "nothing"
        raise ValueError(f"the last layer must give the class scores (FC, or CONV in a fully "
                         f"convolutional net), got {last}")


def volume_shapes(layers, input_chw):
    """The (C, H, W) volume after each layer, or (D,) after an FC; checks every geometry."""
    shape, shapes = tuple(input_chw), []
    for layer in layers:
        if isinstance(layer, Conv):
            _, F, H, W = conv_output_shape((1, *shape), (layer.filters, shape[0], layer.size, layer.size),
                                           layer.stride, layer.pad, layer.dilation)
            shape = (F, H, W)
        elif isinstance(layer, Pool):
            shape = pool_output_shape((1, *shape), layer.size, layer.size, layer.stride)[1:]
        elif isinstance(layer, FC):
            shape = (layer.units,)
        shapes.append(shape)
    return shapes


class ConvNet:
    """A ConvNet from a spec (see ``layer_spec``) with a softmax loss.

    Parameters ``W1, b1, W2, b2, ...`` number the CONV and FC layers in order:
    a CONV's W is (F, C, size, size), an FC's W is (D, units); every b is (outputs,).
    A ``BN`` after layer number K adds ``gammaK`` (ones) and ``betaK`` (zeros) of shape
    (outputs,) and takes the place of ``bK``: the batch mean removes any bias, whose
    gradient would be zero (betaK shifts instead). ``bn_params[K]`` is CS231n's
    ``bn_param`` dict: ``mode`` ("train" or
    "test"), ``eps``, ``momentum`` and the running statistics ``running_mean`` (zeros) and
    ``running_var`` (ones: an untrained net normalizes by 1, and a variance is never 0).
    As CS231n's FullyConnectedNet, ``loss(X)`` runs in test mode (the running statistics)
    and ``loss(X, y)`` in train mode (the minibatch's statistics, which update the running
    ones). The L2 term covers the W's only.

    - spec: spec text or a list of layer_spec layers; a bare ``FC`` at the end gets
      ``num_classes`` outputs
    - input_dim: (C, H, W), or taken from the spec's ``INPUT-HxWxC``
    - weight_scale: the standard deviation of the initial weights, or ``"he"`` for
      ``sqrt(2 / fan_in)``, the notes' advice for ReLU networks
    - reg: L2 strength; the loss adds ``0.5 * reg * sum(W ** 2)`` over all weights
    - label_smoothing: of the softmax loss (``layers.softmax_loss``'s ``smoothing``), 0 to 1
    - dtype, backend: as for ThreeLayerConvNet
    """

    def __init__(self, spec, input_dim=None, num_classes=10, weight_scale="he", reg=0.0,
                 dtype=np.float32, backend=None, seed=None, label_smoothing=0.0):
        layers = as_layers(spec, num_classes)
        if layers and isinstance(layers[0], Input):
            from_spec = layers.pop(0).chw
            if input_dim is not None and tuple(input_dim) != from_spec:
                raise ValueError(f"input_dim {tuple(input_dim)} disagrees with the spec's INPUT {from_spec}")
            input_dim = from_spec
        if input_dim is None or len(input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W) or the spec must start with INPUT-HxWxC, got {input_dim!r}")
        check_layer_pattern(layers)
        self.layers = layers
        self.input_dim = tuple(input_dim)
        self.reg = reg
        require_label_smoothing(label_smoothing)
        self.label_smoothing = label_smoothing
        self.dtype = np.dtype(dtype)
        self.fully_convolutional = not any(isinstance(layer, FC) for layer in layers)
        shapes = volume_shapes(layers, self.input_dim)
        rng = np.random.default_rng(seed) if seed is not None else np.random
        xp = resolve_backend(backend)
        self.params = {}
        self.param_index = {}  # layer position -> parameter number
        self.bn_index = {}  # BN layer position -> the number K of the layer it normalizes
        self.bn_params = {}  # K -> bn_param of the BN after layer number K
        self._no_bias = {}  # K -> the zeros a CONV or FC followed by a BN adds instead of a bias
        in_shape = self.input_dim
        for position, (layer, out_shape) in enumerate(zip(layers, shapes)):
            if isinstance(layer, BatchNorm):  # after a CONV or FC (layer_spec checked): its number
                number = self.bn_index[position] = self.param_index[position - 1]
                channels = out_shape[0]
                self.params[f"gamma{number}"] = to_device(np.ones(channels, dtype=self.dtype), xp)
                self.params[f"beta{number}"] = to_device(np.zeros(channels, dtype=self.dtype), xp)
                self.bn_params[number] = {
                    "mode": "train", "eps": BN_EPS, "momentum": BN_MOMENTUM,
                    "running_mean": to_device(np.zeros(channels, dtype=self.dtype), xp),
                    "running_var": to_device(np.ones(channels, dtype=self.dtype), xp)}
                continue
            if isinstance(layer, Conv):
                w_shape = (layer.filters, in_shape[0], layer.size, layer.size)
            elif isinstance(layer, FC):
                w_shape = (int(np.prod(in_shape)), layer.units)
            else:
                in_shape = out_shape
                continue
            number = len(self.param_index) + 1
            self.param_index[position] = number
            fan_in = int(np.prod(w_shape[1:])) if isinstance(layer, Conv) else w_shape[0]
            scale = np.sqrt(2.0 / fan_in) if weight_scale == "he" else float(weight_scale)
            self.params[f"W{number}"] = to_device((scale * rng.standard_normal(w_shape)).astype(self.dtype), xp)
            bias = to_device(np.zeros(w_shape[0] if isinstance(layer, Conv) else layer.units, dtype=self.dtype), xp)
            if position + 1 < len(layers) and isinstance(layers[position + 1], BatchNorm):
                self._no_bias[number] = bias
            else:
                self.params[f"b{number}"] = bias
            in_shape = out_shape

    @property
    def spec(self):
        """The architecture as spec text, with the input."""
        C, H, W = self.input_dim
        return render_spec([Input(H, W, C), *self.layers])

    def forward(self, X, mode="test"):
        """Run the layers. X (N, C, H, W) -> (out, caches); out (N, classes) or, fully
        convolutional on a larger image, (N, classes, H', W'). mode: "test" or "train", the
        batch normalization's (train updates the running statistics)."""
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        for bn_param in self.bn_params.values():
            bn_param["mode"] = mode
        require_float_array("X", X, ndim=4, layout="(N, C, H, W)")
        if X.shape[1] != self.input_dim[0] or (not self.fully_convolutional
                                               and tuple(X.shape[1:]) != self.input_dim):
            raise ValueError(f"X must have shape (N, {', '.join(map(str, self.input_dim))}), "
                             f"got {tuple(X.shape)}")
        out, caches = X.astype(self.dtype, copy=False), []
        for position, layer in enumerate(self.layers):
            if isinstance(layer, (Conv, FC)):
                number = self.param_index[position]
                W = self.params[f"W{number}"]
                b = self._no_bias[number] if number in self._no_bias else self.params[f"b{number}"]
                if isinstance(layer, Conv):
                    out, cache = conv_forward_fast(out, W, b, layer.conv_param)
                else:
                    out, cache = affine_forward(out, W, b)
            elif isinstance(layer, BatchNorm):
                number = self.bn_index[position]
                forward = spatial_batchnorm_forward if out.ndim == 4 else batchnorm_forward
                out, cache = forward(out, self.params[f"gamma{number}"], self.params[f"beta{number}"],
                                     self.bn_params[number])
            elif isinstance(layer, Pool):
                out, cache = POOL_LAYERS[layer.kind][0](out, layer.pool_param)
            else:
                out, cache = relu_forward(out)
            caches.append(cache)
        return out, caches

    def loss(self, X, y=None):
        """Scores when y is None (test mode), else (loss, grads) (train mode), as ThreeLayerConvNet.loss."""
        scores, caches = self.forward(X, mode="test" if y is None else "train")
        if scores.ndim == 4 and scores.shape[2:] == (1, 1):  # a fully convolutional net at its own size
            scores = scores.reshape(scores.shape[:2])
        if y is None:
            return scores
        if scores.ndim != 2:
            raise ValueError(f"a loss needs one score vector per image; this input gives a grid of "
                             f"scores of shape {tuple(scores.shape)}")
        data_loss, dout = softmax_loss(scores, y, smoothing=self.label_smoothing)
        grads = {}
        weight_norms = 0.0  # summed where the weights live; one host read at the end
        for position in reversed(range(len(self.layers))):
            layer, cache = self.layers[position], caches[position]
            if isinstance(layer, (Conv, FC)):
                number = self.param_index[position]
                if isinstance(layer, Conv):
                    if dout.ndim == 2:
                        dout = dout.reshape(*dout.shape, 1, 1)
                    # The first layer's input gradient is never used: skip it.
                    dout, dW, db = conv_backward_fast(dout, cache, need_dx=position > 0)
                else:
                    dout, dW, db = affine_backward(dout, cache)
                W = self.params[f"W{number}"]
                grads[f"W{number}"] = dW + self.reg * W
                if number not in self._no_bias:
                    grads[f"b{number}"] = db
                weight_norms = weight_norms + (W * W).sum()
            elif isinstance(layer, BatchNorm):
                number = self.bn_index[position]
                backward = spatial_batchnorm_backward if dout.ndim == 4 else batchnorm_backward
                dout, grads[f"gamma{number}"], grads[f"beta{number}"] = backward(dout, cache)
            elif isinstance(layer, Pool):
                dout = POOL_LAYERS[layer.kind][1](dout, cache)
            else:
                dout = relu_backward(dout, cache)
        return data_loss + 0.5 * self.reg * float(weight_norms), grads


def dirac_init(model):
    """Start each size-keeping CONV of ``model`` (a ConvNet) with at least as many filters as
    input channels as the identity: filter c of its first C filters passes input channel c
    through (a 1 at the centre of its channel c, 0 elsewhere); the other filters keep their
    random weights. With batch normalization after each conv, a deep stack then starts close
    to a shallow one and trains sooner (airbench's initialization, Jordan 2024).

    Changes ``model.params`` in place; returns the names of the weights it set, e.g. ``["W2"]``.
    A conv with a stride, an even size or other padding is left as it was.
    """
    changed = []
    for position, number in model.param_index.items():
        layer = model.layers[position]
        if not isinstance(layer, Conv) or layer.stride != 1 or layer.size % 2 == 0:
            continue
        W = model.params[f"W{number}"]  # (F, C, size, size)
        filters, channels = W.shape[:2]
        if channels > filters or layer.pad != (layer.size - 1) * layer.dilation // 2:
            continue
        centre = layer.size // 2
        W[:channels] = 0
        index = get_array_module(W).arange(channels)
        W[index, index, centre, centre] = 1
        changed.append(f"W{number}")
    return changed
