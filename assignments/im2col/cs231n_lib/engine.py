"""The training engine: a fast forward/backward pass and in-place updates for the kit's models.

``TrainingEngine(model)`` computes what ``model.loss`` computes, for ``ThreeLayerConvNet``
and for ``ConvNet`` spec nets made of the notes' pattern, several times faster on a CPU;
the Solver and the training command use it by default (``Solver(..., engine="auto")``).
It is a separate path, not a replacement: the layers in ``layers.py`` / ``fast_layers.py``
(the students' functions) are untouched, and the Solver checks the engine against
``model.loss`` on the first minibatch before trusting it.

What makes it fast (each item measured against PyTorch, docs/benchmarks.md):

- convolutions by MEC (``mec.py``): the input is lowered along the width only and each
  output row of the whole batch is one matrix multiply;
- activations stay in one layout, (H, C, N, W), from layer to layer; a conv followed by
  a 2x2 max pool orders its columns so that the pool's taps are contiguous blocks, the
  bias is added and the ReLU applied after the pool (max commutes with both), and the
  pool's backward writes each tap's block once: no scatter, no zero fill;
- every buffer is allocated once per batch size and reused at every step (``out=``);
- the parameters and their gradients live in one flat buffer each, so Adam or SGD with
  Nesterov momentum updates all of them at once, in place (``optim.IN_PLACE_RULES``), and
  the L2 term is one slice;
- ``threads=k`` splits each minibatch into k shards run in k threads with one BLAS
  thread each (NumPy's BLAS and elementwise loops release the GIL); their gradients add.

Supported layers: CONV (any stride and padding; dilation 1), optionally followed by BN,
then optionally RELU and/or a 2x2 stride-2 max pool, then FC layers with optional BN and
RELU, then the scores and the softmax loss.

Batch normalization (``BatchNormConvStage``, ``BatchNormFCStage``): ``loss(X, y)`` runs in
train mode, normalizing with the statistics of the WHOLE minibatch and updating the model's
``bn_params`` running statistics as ``model.loss`` does; ``loss(X)`` runs in test mode with
them. With threads, each shard computes its per-channel sums and the shards exchange them
(``ShardSums``, a barrier: two exchanges forward, one backward), so the result does not
depend on the split. A BN net's training minibatch is therefore one shard per thread, past
the workspace budget if need be; when the memory available cannot hold those buffers, the
engine says so instead of normalizing part of a batch. Anything else (dilation, other pools, a fully convolutional net, another
model class) raises ``EngineUnsupported`` saying why; the Solver then uses ``model.loss``.
The same code runs on CuPy (threads are then 1).

Memory: the buffers of one shard take ``workspace_bytes(n)``; a minibatch whose buffers
would pass the conv workspace budget (``fast_layers.get_workspace_budget()``, 512 MB by
default) is processed in more shards, one after the other, accumulating the gradients
(except a BN net's training minibatch, above).

The Solver's check (``agrees_with_model``) runs in float64 whatever the engine's dtype: a
float32 engine is compared with ``model.loss`` through a float64 twin on float64 copies of
the parameters and the first 64 images, because in float32 batch normalization's backward
pass makes the two paths' rounding differ by ~1% on the convs before it.

Parameters: the engine copies ``model.params`` into its flat buffer and puts views of it
back into ``model.params``; when someone replaces an array there (``load_checkpoint``,
another update rule), the next call copies it in again. The gradients it returns are
views of its gradient buffer, overwritten by the next call.

>>> from cs231n_lib.backend import np
>>> from cs231n_lib.classifiers import ThreeLayerConvNet
>>> model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=5)
>>> engine = TrainingEngine(model)
>>> X, y = np.random.default_rng(0).standard_normal((2, 3, 8, 8)), np.array([1, 2])
>>> loss, grads = engine.loss(X, y)
>>> abs(loss - model.loss(X, y)[0]) < 1e-5
True
"""

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor

from .backend import get_array_module, np
from .checks import require_float_array, require_labels, require_shape
from .fast_layers import get_workspace_budget
from .layer_spec import FC, BatchNorm, Conv, Pool, Relu
from .layers import softmax_loss
from .mec import (MecGeometry, forward_rows, gradient_rows, input_gradient, lower,
                  padded_gradient_shape, transposed_weight_rows, weight_gradient, weight_rows)
from .optim import IN_PLACE_RULES, _with_defaults, adam


class EngineUnsupported(ValueError):
    """The engine cannot run this model; the message says which layer and why."""


# ----------------------------------------------------------------------------- the plan

def model_layers(model):
    """The model as (input (C, H, W), layers, parameter number of each CONV/FC), or EngineUnsupported.

    ThreeLayerConvNet is the spec ``CONVk-F -> RELU -> POOL2 -> FC-hidden -> RELU -> FC``,
    read off its parameters' shapes.
    """
    from .classifiers import ConvNet, ThreeLayerConvNet  # the models import the layers; avoid a cycle
    if type(model) is ConvNet:
        if model.fully_convolutional:
            raise EngineUnsupported("a fully convolutional ConvNet (no FC layer) gives a grid of scores")
        return model.input_dim, list(model.layers), dict(model.param_index)
    if type(model) is ThreeLayerConvNet:
        shapes = {name: tuple(value.shape) for name, value in model.params.items()}
        W1, W2, W3 = shapes.get("W1", ()), shapes.get("W2", ()), shapes.get("W3", ())
        if sorted(shapes) != ["W1", "W2", "W3", "b1", "b2", "b3"] or len(W1) != 4 or len(W2) != 2 \
                or len(W3) != 2 or W1[2] != W1[3] or W1[2] % 2 == 0:
            raise EngineUnsupported(f"ThreeLayerConvNet parameters of shapes {shapes} are not "
                                    "conv (F, C, k, k) with an odd k, affine (D, hidden), affine (hidden, classes)")
        layers = [Conv(W1[2], W1[0]), Relu(), Pool("max", 2, 2), FC(W2[1]), Relu(), FC(W3[1])]
        return tuple(model.input_dim), layers, {0: 1, 3: 2, 5: 3}
    raise EngineUnsupported(f"the engine knows ThreeLayerConvNet and ConvNet, not {type(model).__name__}")


def plan_stages(input_chw, layers, param_index):
    """Group the layers into stages: CONV (+RELU) (+POOL2), then FC (+RELU); the last FC gives the scores."""
    stages, position, shape = [], 0, tuple(input_chw)
    while position < len(layers):
        layer = layers[position]
        where = f"layer {position + 1} ({layer.name})"
        if isinstance(layer, Conv):
            if stages and isinstance(stages[-1], FCStage):
                raise EngineUnsupported(f"{where}: a CONV after an FC layer")
            if layer.dilation != 1:
                raise EngineUnsupported(f"{where}: dilation {layer.dilation} (the engine's MEC conv has none)")
            relu = pool = False
            following = position + 1
            batchnorm = following < len(layers) and isinstance(layers[following], BatchNorm)
            following += batchnorm
            for _ in range(2):  # RELU and 2x2 max pool, in either order, each at most once
                if following >= len(layers):
                    break
                nxt = layers[following]
                if isinstance(nxt, Relu) and not relu:
                    relu = True
                elif isinstance(nxt, Pool) and not pool:
                    if (nxt.kind, nxt.size, nxt.stride) != ("max", 2, 2):
                        raise EngineUnsupported(f"layer {following + 1} ({nxt.name}): only 2x2 stride-2 "
                                                "max pooling is fused into the engine's conv")
                    pool = True
                else:
                    break
                following += 1
            kind = BatchNormConvStage if batchnorm else ConvStage
            stage = kind(param_index[position], layer, shape, relu, pool, first=not stages)
            shape = stage.out_chw
        elif isinstance(layer, FC):
            following = position + 1
            batchnorm = following < len(layers) and isinstance(layers[following], BatchNorm)
            following += batchnorm
            relu = following < len(layers) and isinstance(layers[following], Relu)
            following += relu
            kind = BatchNormFCStage if batchnorm else FCStage
            stage = kind(param_index[position], layer, shape, relu, first=not stages)
            shape = (layer.units,)
        else:
            raise EngineUnsupported(f"{where} does not follow a CONV or FC layer the engine can fuse it with")
        stages.append(stage)
        position = following
    if not stages or type(stages[-1]) is not FCStage or stages[-1].relu:
        raise EngineUnsupported("the last layer must be an FC layer giving the class scores")
    for stage, following in zip(stages, stages[1:]):
        stage.to_rows = isinstance(stage, ConvStage) and isinstance(following, FCStage)
    return stages


class ConvStage:
    """CONV (stride s, pad p), then optionally RELU and/or a 2x2 stride-2 max pool.

    Input (H, C, n, W). Output (H', F, n, W'), or, when an FC layer follows (``to_rows``),
    the rows (n, F*H'*W') the FC multiplies: the bias/ReLU pass writes them directly.
    """

    def __init__(self, number, conv, in_chw, relu, pool, first):
        self.weight, self.bias = f"W{number}", f"b{number}"
        self.conv, self.relu, self.pool = conv, relu, pool
        self.in_chw = tuple(in_chw)
        self.need_dx = not first  # a network's first layer never needs its input gradient
        self.to_rows = False  # set by plan_stages when an FC stage follows
        C, H, W = self.in_chw
        g = self.geometry(1)
        self.out_chw = (conv.filters, g.H_out // 2, g.W_out // 2) if pool else (conv.filters, g.H_out, g.W_out)
        self.w_shape, self.b_shape = (conv.filters, C, conv.size, conv.size), (conv.filters,)

    def param_shapes(self):
        """name -> shape of the stage's parameters, the (L2-regularized) weight first."""
        return {self.weight: self.w_shape, self.bias: self.b_shape}

    def geometry(self, n):
        C, H, W = self.in_chw
        return MecGeometry.of((n, C, H, W), (self.conv.filters, C, self.conv.size, self.conv.size),
                              self.conv.stride, self.conv.pad, pool=self.pool)

    def buffer_shapes(self, n):
        """name -> (shape, kind, zeroed): every buffer one shard of n images needs."""
        g = self.geometry(n)
        F, H_y, W_y = self.out_chw
        shapes = {"L": (g.lowered_shape(), "f", True),
                  "out": ((g.H_out, F, g.cols), "f", False),
                  "dout_padded": (padded_gradient_shape(g), "f", True),
                  "dw_total": ((g.taps, F), "f", False), "dw_scratch": ((g.taps, F), "f", False)}
        if self.pool:
            shapes.update(max=((H_y, F, n * W_y), "f", False), dm=((H_y, F, n, W_y), "f", False),
                          is_max=((H_y, F, n * W_y), "b", False), unclaimed=((H_y, F, n * W_y), "b", False))
        if self.pool or self.to_rows:  # out itself is the output otherwise
            shapes["y"] = (((n, F, H_y, W_y) if self.to_rows else (H_y, F, n, W_y)), "f", False)
        if self.relu:
            shapes["positive"] = (shapes["y"][0] if "y" in shapes else (H_y, F, n, W_y), "b", False)
        if self.need_dx:
            shapes.update(dL_row=((g.KW * g.C, g.cols), "f", False), dx=((g.H, g.C, n, g.W), "f", False))
        return shapes

    def prepare(self, params):
        """Per-step views of the weights in the GEMMs' layouts (small copies, shared by the shards)."""
        w = params[self.weight]
        return {"w_rows": weight_rows(w), "w_dx": transposed_weight_rows(w) if self.need_dx else None,
                "b": params[self.bias][:, None, None]}

    def _hcnw(self, array):
        """The output buffer y as (H', F, n, W'), a view (transposed when it holds rows)."""
        return array.transpose(2, 1, 0, 3) if self.to_rows else array

    def forward(self, ws, x_hcnw, prepared):
        """x_hcnw (H, C, n, W) -> the stage's output (see the class docstring)."""
        xp = get_array_module(ws["out"])
        g = ws["geometry"]
        lower(x_hcnw, g, ws["L"])
        out = ws["out"]
        forward_rows(prepared["w_rows"], ws["L"], g, out)
        F, H_y, W_y = self.out_chw
        if self.pool:
            before_bias = self._pool_forward(ws, out).reshape(H_y, F, g.N, W_y)
        else:
            before_bias = out.reshape(H_y, F, g.N, W_y)
        # Bias and ReLU after the pool: max(x + b) = max(x) + b and relu(max(x)) = max(relu(x)).
        y = ws["y"] if "y" in ws else before_bias
        xp.add(before_bias, prepared["b"], out=self._hcnw(y))
        if self.relu:
            xp.maximum(y, 0, out=y)
        return y.reshape(g.N, -1) if self.to_rows else y

    def _pool_forward(self, ws, out):
        """out (H_out, F, cols) in pool column order -> the window maxima ws["max"] (H_out/2, F, cols/4)."""
        xp = get_array_module(out)
        # The pool's taps (row a, column q of each window) are contiguous blocks of out.
        taps = out.reshape(ws["geometry"].H_out // 2, 2, self.conv.filters, 2, -1)
        m = ws["max"]
        xp.maximum(taps[:, 0, :, 0], taps[:, 0, :, 1], out=m)
        xp.maximum(m, taps[:, 1, :, 0], out=m)
        xp.maximum(m, taps[:, 1, :, 1], out=m)
        return m

    def backward(self, ws, dy, prepared, grads, accumulate):
        """dy, shaped as the output -> dx (H, C, n, W) or None; adds or writes dW, db into grads."""
        xp = get_array_module(dy)
        g = ws["geometry"]
        F, H_y, W_y = self.out_chw
        rows = gradient_rows(ws["dout_padded"], g)  # (H_out, F, cols), inside the zero padding
        dy = self._hcnw(dy.reshape(ws["y"].shape) if self.to_rows else dy)
        # The pool routes dm to the taps; without a pool dm is the conv's gradient itself.
        dm = ws["dm"] if self.pool else rows.reshape(H_y, F, g.N, W_y)
        if self.relu:
            y = ws["y"] if "y" in ws else ws["out"].reshape(H_y, F, g.N, W_y)
            xp.greater(y, 0, out=ws["positive"])
            xp.multiply(dy, self._hcnw(ws["positive"]), out=dm)
        else:
            dm[...] = dy
        db = dm.sum(axis=(0, 2, 3))
        if self.pool:
            self._pool_backward(ws, dm.reshape(ws["max"].shape), rows.reshape(g.H_out // 2, 2, F, 2, -1))
        dw = weight_gradient(ws["L"], rows, g, ws["dw_total"], ws["dw_scratch"])
        _store(grads[self.weight], dw, accumulate)
        _store(grads[self.bias], db, accumulate)
        if not self.need_dx:
            return None
        input_gradient(prepared["w_dx"], ws["dout_padded"], g, ws["dL_row"], ws["dx"])
        return ws["dx"]

    @staticmethod
    def _pool_backward(ws, dm, d_taps):
        """Each window's gradient to its first maximal tap in row-major order (as the naive pool)."""
        xp = get_array_module(dm)
        taps = ws["out"].reshape(d_taps.shape)
        m, is_max, unclaimed = ws["max"], ws["is_max"], ws["unclaimed"]
        xp.equal(taps[:, 0, :, 0], m, out=is_max)
        xp.multiply(dm, is_max, out=d_taps[:, 0, :, 0])
        xp.logical_not(is_max, out=unclaimed)
        for a, q in ((0, 1), (1, 0)):
            xp.equal(taps[:, a, :, q], m, out=is_max)
            is_max &= unclaimed
            xp.multiply(dm, is_max, out=d_taps[:, a, :, q])
            unclaimed ^= is_max
        xp.multiply(dm, unclaimed, out=d_taps[:, 1, :, 1])  # the last tap holds the max where no other did


class FCStage:
    """FC (affine), optionally followed by RELU, on (n, D) rows."""

    def __init__(self, number, fc, in_shape, relu, first):
        self.weight, self.bias = f"W{number}", f"b{number}"
        self.relu = relu
        self.D, self.M = math.prod(in_shape), fc.units
        self.w_shape, self.b_shape = (self.D, self.M), (self.M,)
        self.need_dx = not first

    def param_shapes(self):
        """name -> shape of the stage's parameters, the (L2-regularized) weight first."""
        return {self.weight: self.w_shape, self.bias: self.b_shape}

    def buffer_shapes(self, n):
        shapes = {"h": ((n, self.M), "f", False)}
        if self.relu:
            shapes["positive"] = ((n, self.M), "b", False)
        if self.need_dx:
            shapes["dx"] = ((n, self.D), "f", False)
        return shapes

    def prepare(self, params):
        return {"w": params[self.weight], "b": params[self.bias]}

    def forward(self, ws, x, prepared):
        xp = get_array_module(ws["h"])
        ws["x"] = x
        h = ws["h"]
        xp.matmul(x, prepared["w"], out=h)
        self._shift_forward(ws, h, prepared)
        if self.relu:
            xp.maximum(h, 0, out=h)
        return h

    def _shift_forward(self, ws, h, prepared):
        """What follows the matrix multiply before the ReLU, in place on h (n, M): the bias."""
        h += prepared["b"]

    def backward(self, ws, dh, prepared, grads, accumulate):
        xp = get_array_module(dh)
        if self.relu:
            xp.greater(ws["h"], 0, out=ws["positive"])
            dh *= ws["positive"]
        self._shift_backward(ws, dh, prepared, grads, accumulate)
        if accumulate:
            grads[self.weight] += ws["x"].T @ dh
        else:
            xp.matmul(ws["x"].T, dh, out=grads[self.weight])
        if not self.need_dx:
            return None
        xp.matmul(dh, prepared["w"].T, out=ws["dx"])
        return ws["dx"]

    def _shift_backward(self, ws, dh, prepared, grads, accumulate):
        """The backward of _shift_forward: its parameters' gradients, and dh made the matrix product's gradient."""
        _store(grads[self.bias], dh.sum(axis=0), accumulate)


def _store(target, value, accumulate):
    if accumulate:
        target += value
    else:
        target[...] = value


# ----------------------------------------------------------------------------- batch normalization

class ShardSums:
    """Per-channel sums over the whole minibatch, from the shards that the workers hold.

    ``total(worker, partial)`` waits until every worker has given its partial sum (a barrier)
    and returns the total, added in worker order by each worker alike, so every shard
    normalizes with the same numbers. With one worker it returns the partial itself.
    ``abort()`` (a worker failed) wakes the others with ``threading.BrokenBarrierError``.
    """

    def __init__(self, workers):
        self.workers = workers
        self._barrier = threading.Barrier(workers) if workers > 1 else None
        self._partials = [None] * workers

    def total(self, worker, partial):
        if self._barrier is None:
            return partial
        self._partials[worker] = partial
        self._barrier.wait()
        total = self._partials[0]
        for other in self._partials[1:]:
            total = total + other
        self._barrier.wait()  # everyone has read the partials before the next exchange replaces them
        return total

    def abort(self):
        if self._barrier is not None:
            self._barrier.abort()


class BatchContext:
    """What the BN stages of one ``loss`` call share: the mode, the minibatch size, the sums."""

    def __init__(self, training, batch_size, workers):
        self.training, self.batch_size = training, batch_size
        self.sums = ShardSums(workers)


def _batchnorm_forward(z, centered, prepared, bn_param, context, worker, count, layout):
    """Batch normalization of z in place, as ``layers.batchnorm_forward`` on its channels.

    z: the activations; layout: ``CONV_CHANNELS`` or ``FC_CHANNELS``, where their channels are.
    count: values per channel in the whole minibatch. Train mode: ``centered`` receives z minus
    the batch mean (x_hat * std: the backward pass scales it, which spares a pass over it here),
    the running statistics are updated (by worker 0; every worker has the same totals) and
    1 / std is returned. Test mode: the running statistics; returns None.
    """
    xp = get_array_module(z)
    gamma, beta, eps = prepared["gamma"], prepared["beta"], bn_param["eps"]
    if not context.training:
        scale = gamma / xp.sqrt(bn_param["running_var"] + eps)
        z *= layout.expand(scale)
        z += layout.expand(beta - bn_param["running_mean"] * scale)
        return None
    mean = context.sums.total(worker, z.sum(axis=layout.axes)) / count
    xp.subtract(z, layout.expand(mean), out=centered)
    squares = xp.einsum(layout.per_channel_dot, centered, centered)  # reads, writes nothing of z's size
    var = context.sums.total(worker, squares) / count  # biased, as the layers' x.var()
    inv_std = 1 / xp.sqrt(var + eps)
    xp.multiply(centered, layout.expand(gamma * inv_std), out=z)
    z += layout.expand(beta)
    if worker == 0:
        momentum = bn_param["momentum"]
        bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mean
        bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * var
    return inv_std


def _batchnorm_backward(dz, centered, scratch, inv_std, prepared, names, grads, accumulate, context, worker,
                        count, layout):
    """The gradient through ``_batchnorm_forward`` (train mode), in place on dz.

    dz: the gradient of the BN's output; scratch: a buffer of its shape. Stores this shard's
    share of dgamma and dbeta in grads (the engine adds the workers' shares) and uses the
    whole minibatch's to remove the mean's and the variance's share from dz, as
    ``layers.batchnorm_backward``: dz = gamma / std * (dz - dbeta / count - x_hat * dgamma / count)
    with x_hat = centered / std.
    """
    xp = get_array_module(dz)
    gamma_name, beta_name = names
    dbeta = dz.sum(axis=layout.axes)
    dgamma = xp.einsum(layout.per_channel_dot, dz, centered) * inv_std
    _store(grads[gamma_name], dgamma, accumulate)
    _store(grads[beta_name], dbeta, accumulate)
    channels = dbeta.shape[0]
    totals = context.sums.total(worker, xp.concatenate((dbeta, dgamma)))
    dbeta, dgamma = totals[:channels], totals[channels:]
    xp.multiply(centered, layout.expand(inv_std * dgamma / count), out=scratch)
    dz -= scratch
    dz -= layout.expand(dbeta / count)
    dz *= layout.expand(prepared["gamma"] * inv_std)


class ChannelLayout:
    """Where an activation array keeps its channels, for the per-channel sums of batch norm."""

    def __init__(self, axes, per_channel_dot, expand):
        self.axes = axes                         # the axes summed over
        self.per_channel_dot = per_channel_dot   # einsum of two such arrays -> (channels,)
        self.expand = expand                     # (channels,) -> its broadcast shape


CONV_CHANNELS = ChannelLayout((0, 2), "hfc,hfc->f", lambda vector: vector[:, None])  # (H, F, cols)
FC_CHANNELS = ChannelLayout(0, "nm,nm->m", lambda vector: vector)                     # (n, M)


class BatchNormConvStage(ConvStage):
    """CONV (no bias: BN's beta shifts), spatial BN, then optionally RELU and/or a 2x2 stride-2 max pool.

    The conv writes z (H_out, F, cols); BN and ReLU run in place on it at full resolution (BN's
    per-channel scale may be negative, so unlike the bias it does not commute with the max) and
    the pool reads the result. Train mode keeps z minus its mean (H_out, F, cols) for the backward pass.
    """

    def __init__(self, number, conv, in_chw, relu, pool, first):
        super().__init__(number, conv, in_chw, relu, pool, first)
        self.number = number
        self.gamma, self.beta = f"gamma{number}", f"beta{number}"
        self.bn_param = None  # the model's bn_params[number], set by the engine
        self.context = None   # the BatchContext of the current call, set by the engine

    def param_shapes(self):
        F = self.conv.filters
        return {self.weight: self.w_shape, self.gamma: (F,), self.beta: (F,)}

    def buffer_shapes(self, n):
        shapes = super().buffer_shapes(n)
        full = shapes["out"][0]
        shapes["centered"] = (full, "f", False)
        if self.relu:
            shapes["positive"] = (full, "b", False)
        if not self.to_rows:
            shapes.pop("y", None)  # the pool's maxima or z itself are the output
        return shapes

    def prepare(self, params):
        w = params[self.weight]
        return {"w_rows": weight_rows(w), "w_dx": transposed_weight_rows(w) if self.need_dx else None,
                "gamma": params[self.gamma], "beta": params[self.beta]}

    def _count(self, g):
        return self.context.batch_size * g.H_out * g.W_out

    def forward(self, ws, x_hcnw, prepared):
        xp = get_array_module(ws["out"])
        g = ws["geometry"]
        lower(x_hcnw, g, ws["L"])
        z = ws["out"]
        forward_rows(prepared["w_rows"], ws["L"], g, z)
        ws["inv_std"] = _batchnorm_forward(z, ws["centered"], prepared, self.bn_param, self.context, ws["worker"],
                                           self._count(g), CONV_CHANNELS)
        if self.relu:
            xp.maximum(z, 0, out=z)
        F, H_y, W_y = self.out_chw
        result = (self._pool_forward(ws, z) if self.pool else z).reshape(H_y, F, g.N, W_y)
        if not self.to_rows:
            return result
        self._hcnw(ws["y"])[...] = result
        return ws["y"].reshape(g.N, -1)

    def backward(self, ws, dy, prepared, grads, accumulate):
        xp = get_array_module(dy)
        g = ws["geometry"]
        F, H_y, W_y = self.out_chw
        rows = gradient_rows(ws["dout_padded"], g)  # (H_out, F, cols): dz, then the conv's gradient
        dy = self._hcnw(dy.reshape(ws["y"].shape)) if self.to_rows else dy
        if self.pool:
            dm = ws["dm"]
            dm[...] = dy
            self._pool_backward(ws, dm.reshape(ws["max"].shape), rows.reshape(g.H_out // 2, 2, F, 2, -1))
        else:
            rows.reshape(H_y, F, g.N, W_y)[...] = dy
        if self.relu:
            xp.greater(ws["out"], 0, out=ws["positive"])
            rows *= ws["positive"]
        # z (ws["out"]) is read: it is the scratch of the BN's backward pass.
        _batchnorm_backward(rows, ws["centered"], ws["out"], ws["inv_std"], prepared, (self.gamma, self.beta), grads,
                            accumulate, self.context, ws["worker"], self._count(g), CONV_CHANNELS)
        dw = weight_gradient(ws["L"], rows, g, ws["dw_total"], ws["dw_scratch"])
        _store(grads[self.weight], dw, accumulate)
        if not self.need_dx:
            return None
        input_gradient(prepared["w_dx"], ws["dout_padded"], g, ws["dL_row"], ws["dx"])
        return ws["dx"]


class BatchNormFCStage(FCStage):
    """FC (no bias: BN's beta shifts), BN over the rows, optionally RELU, on (n, D) rows."""

    def __init__(self, number, fc, in_shape, relu, first):
        super().__init__(number, fc, in_shape, relu, first)
        self.number = number
        self.gamma, self.beta = f"gamma{number}", f"beta{number}"
        self.bn_param = None
        self.context = None

    def param_shapes(self):
        return {self.weight: self.w_shape, self.gamma: (self.M,), self.beta: (self.M,)}

    def buffer_shapes(self, n):
        shapes = super().buffer_shapes(n)
        shapes.update(centered=((n, self.M), "f", False), scratch=((n, self.M), "f", False))
        return shapes

    def prepare(self, params):
        return {"w": params[self.weight], "gamma": params[self.gamma], "beta": params[self.beta]}

    def _shift_forward(self, ws, h, prepared):
        ws["inv_std"] = _batchnorm_forward(h, ws["centered"], prepared, self.bn_param, self.context, ws["worker"],
                                           self.context.batch_size, FC_CHANNELS)

    def _shift_backward(self, ws, dh, prepared, grads, accumulate):
        _batchnorm_backward(dh, ws["centered"], ws["scratch"], ws["inv_std"], prepared, (self.gamma, self.beta), grads,
                            accumulate, self.context, ws["worker"], self.context.batch_size, FC_CHANNELS)


# ----------------------------------------------------------------------------- the engine

class TrainingEngine:
    """Loss, gradients and in-place updates for ``model`` (see the module docstring).

    - model: a ThreeLayerConvNet or ConvNet (else EngineUnsupported says why)
    - threads: shards of each minibatch run in parallel, one BLAS thread each (NumPy only;
      1 = no threads of the engine's own, BLAS as configured)

    ``loss(X, y=None)`` has ``model.loss``'s contract (label smoothing included: the model's
    ``label_smoothing``, 0 when it has none); ``update_in_place(rule, configs)`` applies Adam
    or SGD with Nesterov momentum to every parameter at once; ``agrees_with_model(X, y)`` compares with ``model.loss``.
    """

    def __init__(self, model, threads=1):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        self.model = model
        self.input_chw, layers, param_index = model_layers(model)
        self.stages = plan_stages(self.input_chw, layers, param_index)
        params = model.params
        first = next(iter(params.values()))
        self.xp = get_array_module(first)
        self.dtype = first.dtype
        self.threads = threads if self.xp is np else 1
        expected = {}
        for stage in self.stages:
            expected.update(stage.param_shapes())
        self._bn_stages = [stage for stage in self.stages if isinstance(stage, (BatchNormConvStage, BatchNormFCStage))]
        for stage in self._bn_stages:
            stage.bn_param = model.bn_params[stage.number]
        actual = {name: tuple(value.shape) for name, value in params.items()}
        if actual != expected or any(value.dtype != self.dtype or value.dtype.kind != "f"
                                     for value in params.values()):
            raise EngineUnsupported(f"the model's parameters {actual} (dtypes "
                                    f"{sorted({str(v.dtype) for v in params.values()})}) are not the "
                                    f"{expected} of its layers in one float dtype")
        # Weights first, then biases (and BN's gammas and betas): the L2 penalty is then the one
        # slice [:num_weights].
        names = [s.weight for s in self.stages]
        names += [name for s in self.stages for name in s.param_shapes() if name != s.weight]
        self.names = names
        self.num_weights = sum(math.prod(expected[s.weight]) for s in self.stages)
        self.param_flat, self.param_views = self._flat_buffer(expected)
        self.grad_views = [self._flat_buffer(expected)]
        self.grad_views += [self._flat_buffer(expected) for _ in range(self.threads - 1)]
        self._workspaces = [{} for _ in range(self.threads)]
        self._state = {}  # update rule -> its state arrays as flat buffers: name -> (flat, views)
        self._scratch = self.xp.empty_like(self.param_flat)  # temporaries of the L2 term and the update
        self._pool = ThreadPoolExecutor(self.threads - 1) if self.threads > 1 else None
        self._context = BatchContext(training=False, batch_size=0, workers=1)  # each loss call makes its own
        self._blas = None
        if self.threads > 1:
            from threadpoolctl import ThreadpoolController
            self._blas = ThreadpoolController()
        self.bind_parameters()

    def _flat_buffer(self, shapes):
        flat = self.xp.zeros(sum(math.prod(s) for s in shapes.values()), dtype=self.dtype)
        views, start = {}, 0
        for name in self.names:
            size = math.prod(shapes[name])
            views[name] = flat[start:start + size].reshape(shapes[name])
            start += size
        return flat, views

    def bind_parameters(self):
        """Make model.params hold views of the flat buffer, copying in any array put there since."""
        params = self.model.params
        for name, view in self.param_views.items():
            value = params[name]
            if value is not view:
                if tuple(value.shape) != view.shape:
                    raise ValueError(f"model.params[{name!r}] changed shape to {tuple(value.shape)}; "
                                     f"the engine was built for {view.shape}")
                view[...] = value
                params[name] = view

    # --------------------------------------------------------------- memory and shards

    def workspace_bytes(self, n):
        """Bytes of the buffers one shard of n images needs."""
        itemsize = self.dtype.itemsize
        total = 0
        for stage in self.stages:
            for shape, kind, _ in stage.buffer_shapes(n).values():
                total += math.prod(shape) * (itemsize if kind == "f" else 1)
        return total

    def shards(self, N):
        """[(start, stop)]: at least one shard per thread, none over the workspace budget."""
        per_image = max(1, self.workspace_bytes(1))
        largest = max(1, get_workspace_budget() // per_image)
        count = max(min(self.threads, N), math.ceil(N / largest))
        bounds = [round(k * N / count) for k in range(count + 1)]
        return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]

    def _whole_batch_shards(self, N):
        """A BN net's training minibatch: one shard per thread, since batch normalization needs the
        whole minibatch at once; past the workspace budget if need be, while the memory available
        (``_available_memory_bytes``) holds the buffers, else a ValueError saying so."""
        shards = self.shards(N)
        workers = min(self.threads, N)
        if len(shards) <= workers:
            return shards
        bounds = [round(k * N / workers) for k in range(workers + 1)]
        shards = list(zip(bounds, bounds[1:]))
        missing = [b - a for worker, (a, b) in enumerate(shards) if b - a not in self._workspaces[worker]]
        needed = sum(self.workspace_bytes(n) for n in missing)
        available = _available_memory_bytes(self.xp)
        if needed and available is not None and needed > available:
            raise ValueError(f"a minibatch of {N} images needs {needed:,} bytes of buffers at once (one shard per "
                             f"thread: batch normalization needs the whole minibatch at once) but only "
                             f"{available:,} bytes of memory are available. Use a smaller batch")
        return shards

    def _workspace(self, worker, n):
        """The buffers of one worker for shards of n images, allocated once and kept."""
        cache = self._workspaces[worker]
        if n not in cache:
            if len(cache) >= 2:  # one training and one evaluation batch size, at most
                cache.pop(next(iter(cache)))
            xp = self.xp
            cache[n] = []
            for stage in self.stages:
                ws = {}
                for name, (shape, kind, zeroed) in stage.buffer_shapes(n).items():
                    dtype = self.dtype if kind == "f" else bool
                    ws[name] = xp.zeros(shape, dtype=dtype) if zeroed else xp.empty(shape, dtype=dtype)
                if isinstance(stage, ConvStage):
                    ws["geometry"] = stage.geometry(n)
                ws["worker"] = worker  # its slot in the BN stages' exchange of sums
                cache[n].append(ws)
        return cache[n]

    # --------------------------------------------------------------- forward and backward

    def _check_input(self, X):
        require_float_array("X", X, ndim=4, layout="(N, C, H, W)")
        require_shape("X", X, (X.shape[0], *self.input_chw), "(N, C, H, W)")
        if get_array_module(X) is not self.xp:
            raise TypeError(f"X is a {get_array_module(X).__name__} array but the model's parameters "
                            f"live in {self.xp.__name__}: move X with backend.to_device first")

    def _forward(self, worker, X_shard, prepared):
        n = X_shard.shape[0]
        workspaces = self._workspace(worker, n)
        if isinstance(self.stages[0], ConvStage):
            a = X_shard.transpose(2, 1, 0, 3)  # (n, C, H, W) read as (H, C, n, W), no copy
        else:
            a = X_shard.reshape(n, -1).astype(self.dtype, copy=False)
        for stage, ws, prep in zip(self.stages, workspaces, prepared):
            a = stage.forward(ws, a, prep)
        return a, workspaces

    def _run_worker(self, worker, shard_list, X, y, N, prepared):
        """Forward and backward of this worker's shards; returns its share of the data loss."""
        try:
            return self._run_shards(worker, shard_list, X, y, N, prepared)
        except BaseException:
            self._context.sums.abort()  # the other workers wait for this one's sums: release them
            raise

    def _run_shards(self, worker, shard_list, X, y, N, prepared):
        data_loss = 0.0
        grads = self.grad_views[worker][1]
        smoothing = getattr(self.model, "label_smoothing", 0.0)  # ConvNet's option; CS231n's models have none
        for index, (start, stop) in enumerate(shard_list):
            scores, workspaces = self._forward(worker, X[start:stop], prepared)
            shard_loss, dscores = softmax_loss(scores, y[start:stop], smoothing=smoothing)
            share = (stop - start) / N  # softmax_loss averages over the shard; the batch is N
            data_loss += shard_loss * share
            d = dscores * share
            for stage, ws, prep in zip(reversed(self.stages), reversed(workspaces), reversed(prepared)):
                d = stage.backward(ws, d, prep, grads, accumulate=index > 0)
        return data_loss

    def _parallel(self, tasks):
        """Run zero-argument functions, the first in this thread, the others in the pool.

        Waits for all of them; if any failed, raises the first failure that is not another
        task's released barrier (a BN exchange a failed task left)."""
        if len(tasks) == 1:
            return [tasks[0]()]
        futures = [self._pool.submit(task) for task in tasks[1:]]
        results, errors = [], []
        for run in [tasks[0]] + [future.result for future in futures]:
            try:
                results.append(run())
            except BaseException as error:  # noqa: BLE001  re-raised below, after every task ended
                errors.append(error)
        if errors:
            raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
        return results

    def _single_blas_thread(self):
        if self._blas is None:
            return _NoLimit()
        return self._blas.limit(limits=1, user_api="blas")

    def loss(self, X, y=None):
        """Scores (N, classes) when y is None, else (loss, grads), as ``model.loss``.

        The grads are views of the engine's gradient buffer, valid until the next call.
        """
        self._check_input(X)
        self.bind_parameters()
        prepared = [stage.prepare(self.param_views) for stage in self.stages]
        N = X.shape[0]
        shards = self._whole_batch_shards(N) if y is not None and self._bn_stages else self.shards(N)
        workers = min(self.threads, len(shards))
        self._context = BatchContext(training=y is not None, batch_size=N, workers=workers)
        for stage in self._bn_stages:
            stage.context = self._context
        if y is None:
            scores = self.xp.empty((N, self.stages[-1].M), dtype=self.dtype)

            def evaluate(worker):
                def run():
                    for start, stop in shards[worker::self.threads]:
                        scores[start:stop] = self._forward(worker, X[start:stop], prepared)[0]
                return run
            with self._single_blas_thread():
                self._parallel([evaluate(k) for k in range(min(self.threads, len(shards)))])
            return scores
        require_labels(y, N, self.stages[-1].M)

        def train(worker):
            return lambda: self._run_worker(worker, shards[worker::self.threads], X, y, N, prepared)
        reg = float(self.model.reg)
        grad_flat = self.grad_views[0][0]

        def finish(a, b):
            """On the slice [a, b) of the flat buffers: add the other workers' gradients, then reg * W."""
            def run():
                for worker in range(1, workers):
                    grad_flat[a:b] += self.grad_views[worker][0][a:b]
                end = min(b, self.num_weights)  # weights come first: biases have no L2 term
                if reg and end > a:
                    self.xp.multiply(self.param_flat[a:end], reg, out=self._scratch[a:end])
                    grad_flat[a:end] += self._scratch[a:end]
            return run
        with self._single_blas_thread():
            data_loss = sum(self._parallel([train(k) for k in range(workers)]))
            self._parallel([finish(a, b) for a, b in self._slices()])
        weights = self.param_flat[:self.num_weights]
        # Without regularization, no host read of the L2 term (one per step on a GPU).
        loss = data_loss + (0.5 * reg * float(self.xp.dot(weights, weights)) if reg else 0.0)
        return loss, dict(self.grad_views[0][1])

    def _slices(self):
        """The flat buffers cut into one slice per thread."""
        size = self.param_flat.size
        bounds = [size * k // self.threads for k in range(self.threads + 1)]
        return list(zip(bounds, bounds[1:]))

    # --------------------------------------------------------------- the update, in place

    def update_in_place(self, rule, configs):
        """``rule`` (``optim.adam`` or ``optim.sgd_nesterov``) on every parameter at once, in place.

        configs: name -> the rule's config (the Solver's per-parameter configs). Their state
        arrays become views of the engine's flat state buffers (so checkpoints still hold one
        array per parameter) and Adam's ``t`` advances. Parameters whose hyperparameters differ
        (a per-parameter learning rate: the Solver's ``lr_scales``) are updated each with its own;
        each thread takes one slice of the flat buffers whatever their groups. Returns False,
        changing nothing, when the rule has no in-place version (``optim.IN_PLACE_RULES``).
        Call right after ``loss(X, y)``: it uses the gradients of that call.
        """
        if rule not in IN_PLACE_RULES:
            return False
        in_place, defaults, state_keys = IN_PLACE_RULES[rule]
        filled = {name: _with_defaults(rule.__name__, configs[name], defaults, self.param_views[name])
                  for name in self.names}
        keys = [key for key in defaults if key not in state_keys]  # hyperparameters (and Adam's t)
        if self._state.get(rule) is None:
            shapes = {name: view.shape for name, view in self.param_views.items()}
            self._state[rule] = {key: self._flat_buffer(shapes) for key in state_keys}
        state = self._state[rule]
        for name, config in filled.items():
            for key, (_, views) in state.items():
                if config[key] is not views[name]:
                    views[name][...] = config[key]
                    config[key] = views[name]
        # Runs of neighbouring parameters with the same hyperparameters: (start, end, values).
        groups, start = [], 0
        for name in self.names:
            end = start + self.param_views[name].size
            values = {k: filled[name][k] for k in keys}
            if groups and groups[-1][2] == values:
                groups[-1] = (groups[-1][0], end, values)
            else:
                groups.append((start, end, values))
            start = end
        grad_flat = self.grad_views[0][0]

        def update(a, b, values):
            config = values | {key: flat[a:b] for key, (flat, _) in state.items()}
            in_place(self.param_flat[a:b], grad_flat[a:b], config, self._scratch[a:b])

        def thread_task(lo, hi):
            pieces = [(max(a, lo), min(b, hi), values) for a, b, values in groups if a < hi and b > lo]
            return lambda: [update(*piece) for piece in pieces]
        self._parallel([thread_task(lo, hi) for lo, hi in self._slices()])
        if "t" in keys:  # in_place advanced the pieces' copies of the step count
            for config in filled.values():
                config["t"] += 1
        return True

    def adam_update(self, configs):
        """Adam on every parameter at once, in place: ``update_in_place(optim.adam, configs)``."""
        return self.update_in_place(adam, configs)

    # --------------------------------------------------------------- checking against the model

    def agrees_with_model(self, X, y=None, tolerance=None):
        """(True, "") when the engine's algorithm matches ``model.loss(X, y)``, else (False, what differs).

        Compares the scores, or the loss, every gradient and the BN running statistics, relative
        to their size: ``|a - b| <= tolerance * max|b|`` (default 1e-7), in float64; a gradient
        that is zero but for rounding (a BN's gamma whose scale the next BN removes, as with
        identity-initialized convs) may also differ by ``ROUNDING_FLOOR`` (1e-12) of the largest gradient. A float32
        engine is checked through a float64 twin (``_float64_twin``) on float64 copies of the
        parameters and of the first ``CHECK_IMAGES`` images: in float32 the two paths differ by
        their rounding, which batch normalization's backward pass (a difference of large terms)
        amplifies to ~1% for the convs before it, so a float32 comparison measures rounding,
        not the algorithm. The model's arrays and statistics are left as they were.
        """
        if tolerance is None:
            tolerance = 1e-7
        self._check_input(X)
        self.bind_parameters()
        if self.dtype.itemsize < 8:
            X_check = X[:CHECK_IMAGES].astype(np.float64)
            y_check = None if y is None else y[:CHECK_IMAGES]
            with _float64_twin(self) as twin:
                return twin.agrees_with_model(X_check, y_check, tolerance)
        # Both passes of a training minibatch update the BN running statistics: the engine's
        # starts from where the model's started, the two updates are compared too, and the
        # check leaves the statistics as they were (the caller's step updates them once).
        before = {stage: dict(stage.bn_param) for stage in self._bn_stages}
        expected = self.model.loss(X, y)
        after_model = {stage: dict(stage.bn_param) for stage in self._bn_stages}
        for stage, saved in before.items():
            stage.bn_param.update(saved)
        got = self.loss(X, y)
        after_engine = {stage: dict(stage.bn_param) for stage in self._bn_stages}
        for stage, saved in before.items():
            stage.bn_param.update(saved)
        if y is None:
            pairs = [("scores", got, expected)]
        else:
            pairs = [("loss", self.xp.asarray(got[0]), self.xp.asarray(expected[0]))]
            pairs += [(f"gradient of {name}", got[1][name], expected[1][name]) for name in self.names]
            pairs += [(f"{key} of the BN after layer {stage.number}", after_engine[stage][key], after_model[stage][key])
                      for stage in self._bn_stages for key in ("running_mean", "running_var")]
        largest_gradient = max((float(abs(b).max()) for what, _, b in pairs
                                if what.startswith("gradient") and b.size), default=0.0)
        for what, a, b in pairs:
            scale = float(abs(b).max()) if b.size else 0.0
            error = float(abs(a - b).max()) if b.size else 0.0
            floor = ROUNDING_FLOOR * largest_gradient if what.startswith("gradient") else 0.0
            if not error <= max(tolerance * max(scale, 1e-12), floor):
                return False, (f"{what}: the engine and model.loss differ by {error:.3g} "
                               f"(largest value {scale:.3g}, tolerance {tolerance:g} of it)")
        return True, ""

    def close(self):
        """Stop the engine's threads (they also stop when the engine is garbage-collected)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _available_memory_bytes(xp):
    """Bytes of memory that new buffers of ``xp`` can take now, or None when unknown.

    NumPy: the kernel's MemAvailable (free memory plus what it can reclaim); CuPy: the device's free memory.
    """
    if xp is not np:
        runtime = getattr(getattr(xp, "cuda", None), "runtime", None)
        return int(runtime.memGetInfo()[0]) if runtime is not None else None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the kernel counts in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


# Images of the first minibatch that a float32 engine's check runs in float64: every branch of
# the engine (its threads' shards, BN's exchange of sums) runs at any batch size, and float64
# copies of a whole minibatch of a wide net would take gigabytes in the engine and model.loss.
CHECK_IMAGES = 64
# A gradient's rounding in float64 (~1e-16 per term, summed over many terms, with a wide margin)
# as a fraction of the model's largest gradient: agrees_with_model's floor for zero gradients.
ROUNDING_FLOOR = 1e-12


@contextlib.contextmanager
def _float64_twin(engine):
    """A float64 TrainingEngine of ``engine.model`` on float64 copies of its parameters and BN statistics.

    The model itself is switched for the duration (its params, bn_params and dtype), so
    ``model.loss`` (the model's own, even one a student replaced) runs in float64 too; on exit
    every array and statistic the model held is put back and the twin's threads stop.
    """
    model = engine.model
    params, saved_params = model.params, dict(model.params)
    bn_params = getattr(model, "bn_params", {})
    saved_bn = {number: dict(bn_param) for number, bn_param in bn_params.items()}
    saved_dtype = vars(model).get("dtype")
    twin = None
    try:
        for name, value in saved_params.items():
            params[name] = value.astype(np.float64)
        for bn_param in bn_params.values():
            for key in ("running_mean", "running_var"):
                bn_param[key] = bn_param[key].astype(np.float64)
        if saved_dtype is not None:
            model.dtype = np.dtype(np.float64)
        twin = TrainingEngine(model, threads=engine.threads)
        yield twin
    finally:
        if twin is not None:
            twin.close()
        for name, value in saved_params.items():
            params[name] = value
        for number, bn_param in bn_params.items():
            bn_param.clear()
            bn_param.update(saved_bn[number])
        if saved_dtype is not None:
            model.dtype = saved_dtype


class _NoLimit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


