"""Converting FC layers to CONV layers, the notes' "FC->CONV conversion".

An FC layer that looks at a (C, H, W) volume is a CONV layer with H x W filters,
no padding, one filter per output; the FC layers after it are 1x1 CONV layers.
The converted net gives the same scores on an image of the original size and,
on a larger image, a grid of scores in one forward pass: the scores the
original net gives on crops taken every ``total_stride`` pixels. That holds
exactly for unpadded convolutions; with zero padding, a crop's border sees zeros
where the larger image has neighbouring pixels, so border scores differ a little.

>>> from cs231n_lib.backend import np
>>> net = ConvNet("CONV3-4/p0 -> RELU -> POOL2 -> FC-6 -> RELU -> FC", input_dim=(1, 8, 8), num_classes=3)
>>> conv_net = fc_to_conv(net)
>>> conv_net.spec
'INPUT-8x8x1 -> CONV3-4/p0 -> RELU -> POOL2 -> CONV3-6/p0 -> RELU -> CONV1-3'
>>> total_stride(net)  # crops every 2 pixels
2
"""

from ..backend import get_array_module
from ..layer_spec import FC, Conv, Pool
from .convnet import ConvNet, volume_shapes


def total_stride(model):
    """The product of the strides of the CONV and POOL layers before the first FC (or all)."""
    stride = 1
    for layer in model.layers:
        if isinstance(layer, FC):
            break
        if isinstance(layer, (Conv, Pool)):
            stride *= layer.stride
    return stride


def fc_weights_as_filters(weights, volume_shape):
    """The filters of the CONV layer that computes an FC layer on volumes of ``volume_shape``.

    Inputs: weights (D, M) of an FC layer with M outputs; volume_shape (C, H, W), its input
    volume, D = C * H * W. Returns filters (M, C, H, W): filter m is column m of ``weights``.
    affine_forward flattens each (C, H, W) input in C order, so column m reshaped to (C, H, W)
    lines up with the input; reshaping ``weights`` itself to (M, C, H, W), without the
    transpose, fits the shape and mixes the outputs. (The notebook's exercise reference.)
    """
    C, H, W = volume_shape
    D, M = weights.shape
    if D != C * H * W:
        raise ValueError(f"FC weights of shape {tuple(weights.shape)} read {D} values, but a {C}x{H}x{W} "
                         f"volume has {C * H * W}: expected weights of shape ({C * H * W}, M)")
    xp = get_array_module(weights)
    return xp.ascontiguousarray(weights.T).reshape(M, C, H, W)  # (M, D) -> (M, C, H, W)


def fc_to_conv(model):
    """A fully convolutional ConvNet computing the same function as ``model``.

    Each FC's weights (D, M), D = C*H*W, become CONV filters (M, C, H, W) by
    ``fc_weights_as_filters``.
    Raises ValueError when an FC looks at a non-square volume (filters are square here).
    """
    shapes = volume_shapes(model.layers, model.input_dim)
    in_shapes = [model.input_dim, *shapes[:-1]]
    new_layers, new_params = [], {}
    for position, (layer, in_shape) in enumerate(zip(model.layers, in_shapes)):
        if not isinstance(layer, FC):
            new_layers.append(layer)
        else:
            C, H, W = in_shape if len(in_shape) == 3 else (in_shape[0], 1, 1)
            if H != W:
                raise ValueError(f"layer {position + 1} (FC-{layer.units}) looks at a {H}x{W} volume; "
                                 "only square volumes convert to (square) CONV filters")
            new_layers.append(Conv(H, layer.units, stride=1, pad=0))
        if position in model.param_index:
            number = model.param_index[position]
            W_param = model.params[f"W{number}"]
            if isinstance(layer, FC):
                W_param = fc_weights_as_filters(W_param, in_shape if len(in_shape) == 3 else (in_shape[0], 1, 1))
            new_params[f"W{number}"] = W_param.copy()
            if f"b{number}" in model.params:  # a layer followed by a BN has none
                new_params[f"b{number}"] = model.params[f"b{number}"].copy()
        if position in model.bn_index:  # an FC's BN becomes the CONV's spatial BN: same gamma, beta
            number = model.bn_index[position]
            new_params[f"gamma{number}"] = model.params[f"gamma{number}"].copy()
            new_params[f"beta{number}"] = model.params[f"beta{number}"].copy()
    # The new net's own random weights are placeholders; the converted ones replace them.
    converted = ConvNet(new_layers, input_dim=model.input_dim, reg=model.reg, dtype=model.dtype,
                        backend="numpy")
    converted.params = new_params
    for number, bn_param in model.bn_params.items():
        for key in ("running_mean", "running_var"):
            converted.bn_params[number][key] = bn_param[key].copy()
    return converted
