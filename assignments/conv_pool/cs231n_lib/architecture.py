"""The CS231n notes' architecture calculator: output volumes, parameters and memory.

``summarize`` walks a spec (a string in the notation of ``layer_spec``, or its parsed
list) and gives, per layer, the output volume H x W x D, its number of activations and
its weights and biases, then the totals; ``format_table`` prints it like the notes'
VGGNet listing. ``conv_output_size``, the notes' ``(W - F + 2P)/S + 1``, comes from
``geometry`` (the layers use the same function) and is re-exported here.

>>> conv_output_size(227, 11, 0, 4)
55
>>> conv1 = summarize(ALEXNET_CONV1).rows[-1]
>>> conv1.name, conv1.output_shape, conv1.weights, conv1.biases
('CONV11-96/s4/p0', (55, 55, 96), 34848, 96)
>>> summarize(ALEXNET_CONV1, parameter_sharing=False).total_parameters
105705600
"""

from dataclasses import dataclass, replace

from .geometry import conv_output_size, require_int
from .layer_spec import FC, BatchNorm, Conv, Input, Pool, Relu, as_layers

__all__ = ["conv_output_size", "summarize", "format_table", "Row", "Summary",
           "VGGNET16", "ALEXNET_CONV1"]

# The notes' VGGNet (configuration D, "VGG16") as their listing shows it: conv layers
# without their RELUs, 3x3 convs at stride 1 pad 1, 2x2 max pools at stride 2.
VGGNET16 = ("INPUT-224x224x3 -> [CONV3-64]*2 -> POOL2 -> [CONV3-128]*2 -> POOL2 "
            "-> [CONV3-256]*3 -> POOL2 -> [CONV3-512]*3 -> POOL2 -> [CONV3-512]*3 -> POOL2 "
            "-> FC-4096 -> FC-4096 -> FC-1000")

# The first layer of AlexNet, the notes' example for parameter sharing: 96 filters of
# 11x11x3 at stride 4, no padding, on a 227x227x3 image.
ALEXNET_CONV1 = "INPUT-227x227x3 -> CONV11-96/s4/p0"

# "MB" in the table and in Summary.forward_megabytes: 2**20 bytes.
BYTES_PER_MB = 2 ** 20


@dataclass(frozen=True)
class Row:
    """One layer of a summary.

    name: the notes' name, e.g. ``CONV3-64``. layer: the parsed layer it describes.
    output_shape: its output volume (H, W, D); an FC layer gives (1, 1, units).
    activations: H * W * D values per image. weights, biases: its parameter counts (a BN's
    scales gamma count as weights, its shifts beta as biases).
    """

    name: str
    layer: object
    output_shape: tuple
    activations: int
    weights: int
    biases: int

    @property
    def parameters(self):
        return self.weights + self.biases


@dataclass(frozen=True)
class Summary:
    """The rows of ``summarize`` and their totals, for one image.

    Activations count every row's output, the input included, as the notes do;
    ``forward_bytes`` is the memory to hold them all once (a forward pass; the
    backward pass needs about as much again for the gradients).
    """

    rows: tuple
    bytes_per_value: int
    parameter_sharing: bool

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]

    @property
    def total_activations(self):
        return sum(row.activations for row in self.rows)

    @property
    def total_weights(self):
        return sum(row.weights for row in self.rows)

    @property
    def total_biases(self):
        return sum(row.biases for row in self.rows)

    @property
    def total_parameters(self):
        return self.total_weights + self.total_biases

    @property
    def multiply_adds(self):
        """Multiply-adds of one forward pass of one image through the CONV and FC layers.

        A CONV layer applies each weight once per output position (with sharing; without it
        every weight already belongs to one position); an FC layer applies each weight once.
        Pools and ReLUs are not counted (one comparison per value, no multiplication).
        """
        total = 0
        for row in self.rows:
            if isinstance(row.layer, Conv) and self.parameter_sharing:
                H_out, W_out, _ = row.output_shape
                total += row.weights * H_out * W_out
            elif isinstance(row.layer, (Conv, FC)):
                total += row.weights
        return total

    @property
    def window_reads(self):
        """Input values the pooling layers read for one image: each output value reads its F x F window.

        Not part of ``flops`` (the notes count the multiplications of CONV and FC layers), but
        work all the same: a large window at a small stride reads every input many times.
        """
        return sum(row.activations * row.layer.size ** 2 for row in self.rows if isinstance(row.layer, Pool))

    @property
    def flops(self):
        """``2 * multiply_adds``: a multiply-add counts as two floating-point operations."""
        return 2 * self.multiply_adds

    @property
    def forward_bytes(self):
        return self.total_activations * self.bytes_per_value

    @property
    def forward_megabytes(self):
        """``forward_bytes`` in MB of 2**20 bytes."""
        return self.forward_bytes / BYTES_PER_MB


def summarize(layers, input_shape=None, bytes_per_value=4, parameter_sharing=True, *,
              num_classes=None):
    """Output volume, activations and parameters of every layer, after the notes' VGGNet listing.

    layers: a spec string (see ``layer_spec``) or a list of parsed layers.
    input_shape: (H, W, C) of the input, needed when the spec has no ``INPUT``; if both
        are given they must agree.
    bytes_per_value: 4 for float32, 8 for float64.
    parameter_sharing: True (a conv layer's filters are shared by all positions: weights
        F*F*C*K, biases K); False gives every output neuron its own filter and bias, as in
        the notes' AlexNet example (weights H_out*W_out*K * F*F*C, biases H_out*W_out*K).
    num_classes: the outputs of a bare final ``FC`` in a spec string.

    Returns a ``Summary``: rows (INPUT first) and totals. Raises ValueError naming the
    layer when its hyperparameters do not tile its input.
    """
    layers = as_layers(layers, num_classes)
    require_int("bytes_per_value", bytes_per_value, 1)
    if not isinstance(parameter_sharing, bool):
        raise TypeError(f"parameter_sharing must be True or False, got {parameter_sharing!r}")
    input_layer = _resolve_input(layers, input_shape)

    H, W, D = input_layer.shape
    rows = [Row(input_layer.name, input_layer, (H, W, D), H * W * D, 0, 0)]
    for index, layer in enumerate(layers):
        if isinstance(layer, Input):
            continue
        if isinstance(layer, BatchNorm) and isinstance(rows[-1].layer, (Conv, FC)):
            # The BN's beta shifts instead of the layer's bias, which the batch mean would remove.
            rows[-1] = replace(rows[-1], biases=0)
        try:
            rows.append(_row(layer, (H, W, D), parameter_sharing))
        except ValueError as err:
            raise ValueError(f"layer {index} {layer.name} on its {H}x{W}x{D} input: {err}") from None
        H, W, D = rows[-1].output_shape
    return Summary(tuple(rows), bytes_per_value, parameter_sharing)


def _resolve_input(layers, input_shape):
    spec_input = layers[0] if layers and isinstance(layers[0], Input) else None
    if input_shape is None:
        if spec_input is None:
            raise ValueError("summarize needs the input volume: start the spec with INPUT-HxWxC "
                             "or pass input_shape=(H, W, C)")
        return spec_input
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    given = Input(*input_shape)
    if spec_input is not None and spec_input != given:
        raise ValueError(f"input_shape={tuple(input_shape)} disagrees with the spec's "
                         f"{spec_input.name}: give one of them")
    return given


def _row(layer, input_shape, parameter_sharing):
    """The Row of one layer applied to an (H, W, D) input volume."""
    H, W, D = input_shape
    if isinstance(layer, Conv):
        H_out = _axis_size("height", H, layer.size, layer.pad, layer.stride, layer.dilation)
        W_out = _axis_size("width", W, layer.size, layer.pad, layer.stride, layer.dilation)
        K = layer.filters
        weights_per_filter = layer.size * layer.size * D  # dilation spreads taps, adds none
        # Without sharing, each of the H_out*W_out positions of each depth slice has its own.
        copies = K if parameter_sharing else H_out * W_out * K
        return Row(layer.name, layer, (H_out, W_out, K), H_out * W_out * K,
                   copies * weights_per_filter, copies)
    if isinstance(layer, Pool):
        H_out = _axis_size("height", H, layer.size, 0, layer.stride)
        W_out = _axis_size("width", W, layer.size, 0, layer.stride)
        return Row(layer.name, layer, (H_out, W_out, D), H_out * W_out * D, 0, 0)
    if isinstance(layer, Relu):
        return Row(layer.name, layer, (H, W, D), H * W * D, 0, 0)
    if isinstance(layer, BatchNorm):
        # One scale gamma (counted with the weights) and one shift beta (with the biases) per
        # channel, the depth D; the running mean and variance are statistics, not parameters.
        # The CONV or FC before it has no bias (summarize sets its row's biases to 0).
        return Row(layer.name, layer, (H, W, D), H * W * D, D, D)
    if isinstance(layer, FC):
        # Every output sees the whole flattened volume, so sharing changes nothing here.
        return Row(layer.name, layer, (1, 1, layer.units), layer.units,
                   H * W * D * layer.units, layer.units)
    raise TypeError(f"cannot summarize {layer!r}")


def _axis_size(axis, size, filter_size, pad, stride, dilation=1):
    try:
        return conv_output_size(size, filter_size, pad, stride, dilation)
    except ValueError as err:
        raise ValueError(f"{axis}: {err}") from None


def format_table(summary):
    """Render a Summary as a text table like the notes' VGGNet listing, totals at the end.

    >>> print(format_table(summarize("INPUT-8x8x3 -> CONV3-4 -> POOL2 -> FC-10")))
    layer        output  activations  weights  biases
    INPUT-8x8x3   8x8x3          192        0       0
    CONV3-4       8x8x4          256      108       4
    POOL2         4x4x4           64        0       0
    FC-10        1x1x10           10      640      10
    TOTAL                        522      748      14
    <BLANKLINE>
    total activations: 522 per image, x 4 bytes = 2,088 bytes = 0.0 MB (forward only)
    total parameters: 762 (748 weights + 14 biases)
    """
    if not isinstance(summary, Summary):
        raise TypeError(f"format_table expects the Summary from summarize, got {type(summary).__name__}")
    header = ("layer", "output", "activations", "weights", "biases")
    body = [(row.name, "x".join(map(str, row.output_shape)), f"{row.activations:,}",
             f"{row.weights:,}", f"{row.biases:,}") for row in summary.rows]
    total = ("TOTAL", "", f"{summary.total_activations:,}", f"{summary.total_weights:,}",
             f"{summary.total_biases:,}")
    table = [header, *body, total]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]

    def render(line):
        name = line[0].ljust(widths[0])  # names read left to right, numbers align right
        numbers = (cell.rjust(width) for cell, width in zip(line[1:], widths[1:]))
        return "  ".join([name, *numbers]).rstrip()

    sharing = "" if summary.parameter_sharing else " (no parameter sharing)"
    return "\n".join([
        *map(render, table),
        "",
        f"total activations: {summary.total_activations:,} per image, x {summary.bytes_per_value} "
        f"bytes = {summary.forward_bytes:,} bytes = {summary.forward_megabytes:.1f} MB (forward only)",
        f"total parameters: {summary.total_parameters:,} ({summary.total_weights:,} weights + "
        f"{summary.total_biases:,} biases){sharing}",
    ])
