"""A short text language for ConvNet architectures, in the CS231n notes' notation.

A spec is a sequence of tokens separated by ``->``, commas or whitespace (case-insensitive)::

    INPUT-32x32x3 -> [[CONV3-32 -> RELU]*2 -> POOL2]*3 -> [FC-100 -> RELU]*1 -> FC

=================  =================================================================
token              meaning
=================  =================================================================
``INPUT-HxWxC``    input volume, height x width x channels as the notes write it;
                   optional, and only as the first token
``CONVF-K``        F x F convolution with K filters, stride 1, zero padding
                   (F - 1)/2 so that a stride-1 conv preserves height and width.
                   Options, in any order: ``/sS`` stride, ``/pP`` padding, ``/dD``
                   dilation, e.g. ``CONV11-96/s4/p0``. An even F has no centred
                   padding, so it needs an explicit ``/pP``.
``POOLF``          F x F max pooling with stride F; ``POOL3/s2`` overlaps windows.
                   ``MAXPOOLF`` is the same; ``AVGPOOLF`` averages; ``L2POOLF``
                   takes the L2 norm of each window.
``RELU``           elementwise max(0, x)
``BN``             batch normalization, right after a CONV (one mean and variance per
                   channel: spatial batch norm) or an FC layer (one per unit), as in
                   ``CONV3-64 -> BN -> RELU -> POOL2``; a learned scale gamma and shift
                   beta per channel or unit
``FC-N``           fully connected layer with N outputs
``FC``             only as the very last token: the class scores, N = ``num_classes``
``[ ... ]*N``      the bracketed layers repeated N >= 1 times; brackets nest
=================  =================================================================

Dilation convention: ``/d1`` (the default) is the ordinary contiguous filter and
``/dD`` leaves D - 1 gaps between filter taps, as in PyTorch. The notes count the
gaps instead, so the notes' "dilation 0" is our ``/d1`` and their "dilation 1" is our
``/d2``. A filter of size F with dilation D spans ``(F - 1) * D + 1`` inputs.

``parse_spec`` expands the repetitions into a flat list of the frozen dataclasses
``Input``, ``Conv``, ``Pool``, ``Relu``, ``BatchNorm`` and ``FC``; ``render_spec`` writes
such a list back as text that parses to the same list.

>>> parse_spec("INPUT-32x32x3 -> [CONV3-16 -> RELU]*2 -> POOL2 -> FC", num_classes=10)
[Input(height=32, width=32, channels=3), Conv(size=3, filters=16, stride=1, pad=1, dilation=1), Relu(), Conv(size=3, filters=16, stride=1, pad=1, dilation=1), Relu(), Pool(kind='max', size=2, stride=2), FC(units=10)]
>>> render_spec(parse_spec("input-227x227x3, conv11-96/s4/p0, relu, pool3/s2"))
'INPUT-227x227x3 -> CONV11-96/s4/p0 -> RELU -> POOL3/s2'
"""

import re
from dataclasses import dataclass
from typing import Union

from .geometry import require_int

__all__ = ["Input", "Conv", "Pool", "Relu", "BatchNorm", "FC", "Layer", "parse_spec", "render_spec", "as_layers"]


@dataclass(frozen=True)
class Input:
    """The input volume of one image: ``height x width x channels`` (the notes' H x W x D).

    The library's arrays hold images as ``(N, C, H, W)``; ``chw`` gives ``(C, H, W)``.
    """

    height: int
    width: int
    channels: int

    def __post_init__(self):
        for name in ("height", "width", "channels"):
            require_int(f"Input.{name}", getattr(self, name), 1)

    @property
    def shape(self):
        """(H, W, C), the order of the notes' ``[224x224x3]``."""
        return (self.height, self.width, self.channels)

    @property
    def chw(self):
        """(C, H, W), the order of one image in the library's ``(N, C, H, W)`` arrays."""
        return (self.channels, self.height, self.width)

    @property
    def name(self):
        return f"INPUT-{self.height}x{self.width}x{self.channels}"


def _centred_pad(size, dilation):
    """The padding (F_eff - 1)/2 that keeps a stride-1 conv's output size, or None if F_eff is even."""
    span = (size - 1) * dilation  # effective filter size minus one
    return span // 2 if span % 2 == 0 else None


@dataclass(frozen=True)
class Conv:
    """A conv layer: ``filters`` filters of ``size x size`` (x input depth), the notes' CONVF-K.

    Its weights have shape ``(filters, C, size, size)`` and its biases ``(filters,)``.
    ``pad=None`` picks the notes' size-preserving padding ``(size - 1) * dilation / 2``,
    which exists only for an odd effective filter size. ``dilation=1`` is a contiguous
    filter (the notes' "dilation 0"); see the module docstring.
    """

    size: int
    filters: int
    stride: int = 1
    pad: Union[int, None] = None
    dilation: int = 1

    def __post_init__(self):
        require_int("Conv.size", self.size, 1)
        require_int("Conv.filters", self.filters, 1)
        require_int("Conv.stride", self.stride, 1)
        require_int("Conv.dilation", self.dilation, 1)
        if self.pad is None:
            pad = _centred_pad(self.size, self.dilation)
            if pad is None:
                raise ValueError(
                    f"Conv with size={self.size}, dilation={self.dilation} has an even effective "
                    f"filter size {(self.size - 1) * self.dilation + 1}, so no padding keeps the "
                    f"output size: give pad explicitly (CONV{self.size}-{self.filters}/p0 in a spec)")
            object.__setattr__(self, "pad", pad)  # frozen: fill in the default once, here
        require_int("Conv.pad", self.pad, 0)

    @property
    def conv_param(self):
        """The CS231n ``conv_param`` dict for ``conv_forward_*``."""
        return {"stride": self.stride, "pad": self.pad, "dilation": self.dilation}

    @property
    def name(self):
        """The notes' name, e.g. ``CONV3-64``; options only where they differ from the defaults."""
        text = f"CONV{self.size}-{self.filters}"
        if self.stride != 1:
            text += f"/s{self.stride}"
        if self.pad != _centred_pad(self.size, self.dilation):
            text += f"/p{self.pad}"
        if self.dilation != 1:
            text += f"/d{self.dilation}"
        return text


POOL_KINDS = ("max", "avg", "l2")
_POOL_PREFIX = {"max": "POOL", "avg": "AVGPOOL", "l2": "L2POOL"}


@dataclass(frozen=True)
class Pool:
    """A pooling layer over ``size x size`` windows with no padding; depth is unchanged.

    ``kind`` is ``"max"``, ``"avg"`` or ``"l2"``; ``stride=None`` means ``stride = size``
    (non-overlapping windows, the notes' common POOL2).
    """

    kind: str = "max"
    size: int = 2
    stride: Union[int, None] = None

    def __post_init__(self):
        if self.kind not in POOL_KINDS:
            raise ValueError(f"Pool.kind must be one of {POOL_KINDS}, got {self.kind!r}")
        require_int("Pool.size", self.size, 1)
        if self.stride is None:
            object.__setattr__(self, "stride", self.size)
        require_int("Pool.stride", self.stride, 1)

    @property
    def pool_param(self):
        """The CS231n ``pool_param`` dict for ``max_pool_forward_*``."""
        return {"pool_height": self.size, "pool_width": self.size, "stride": self.stride}

    @property
    def name(self):
        text = f"{_POOL_PREFIX[self.kind]}{self.size}"
        return text if self.stride == self.size else f"{text}/s{self.stride}"


@dataclass(frozen=True)
class Relu:
    """Elementwise ``max(0, x)``; no parameters, shape unchanged."""

    @property
    def name(self):
        return "RELU"


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalization of the CONV or FC layer right before it; shape unchanged.

    After a CONV of K filters: spatial batch norm, one mean and variance per channel over
    the batch and every position, and a learned scale gamma and shift beta of shape (K,).
    After an FC of N units: one mean and variance per unit, gamma and beta of shape (N,).
    """

    @property
    def name(self):
        return "BN"


@dataclass(frozen=True)
class FC:
    """A fully connected layer: the input volume flattened to D values, then ``units`` outputs.

    Its weights have shape ``(D, units)`` and its biases ``(units,)``.
    """

    units: int

    def __post_init__(self):
        require_int("FC.units", self.units, 1)

    @property
    def name(self):
        return f"FC-{self.units}"


Layer = Union[Input, Conv, Pool, Relu, BatchNorm, FC]
LAYER_CLASSES = (Input, Conv, Pool, Relu, BatchNorm, FC)


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    text: str       # as written, for error messages
    index: int      # 1-based position among the tokens
    column: int     # 1-based character position in the spec

    def error(self, expected):
        return ValueError(f'"{self.text}" at token {self.index}: expected {expected} '
                          f"(character {self.column} of the spec)")


# A word may contain "-" (CONV3-64) but not the arrow "->"; "*" starts a repeat count.
_TOKEN_RE = re.compile(r"""
      (?P<skip>\s+|->|,)
    | (?P<open>\[)
    | (?P<close>\])
    | (?P<repeat>\*(?:[^\s,\[\]*>-]|-(?!>))*)
    | (?P<word>(?:[^\s,\[\]*>-]|-(?!>))+)
""", re.VERBOSE)


def _tokenize(text):
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:  # only a lone ">" gets here
            raise ValueError(f'"{text[position]}" at character {position + 1}: expected a layer, '
                             f'"->", ",", "[" or "]"')
        if match.lastgroup != "skip":
            tokens.append((match.lastgroup, _Token(match.group(), len(tokens) + 1, position + 1)))
        position = match.end()
    return tokens


# ---------------------------------------------------------------------------------------------
# Layers from words
# ---------------------------------------------------------------------------------------------

_INPUT_RE = re.compile(r"INPUT-(\d+)X(\d+)X(\d+)")
_CONV_RE = re.compile(r"CONV(\d+)-(\d+)((?:/[A-Z]\d*)*)")
_POOL_RE = re.compile(r"(MAX|AVG|L2)?POOL(\d+)((?:/[A-Z]\d*)*)")
_FC_RE = re.compile(r"FC-(\d+)")

_CONV_FORM = "CONVF-K like CONV3-64, with options /sS /pP /dD like CONV11-96/s4/p0"
_POOL_FORM = "POOLF like POOL2, AVGPOOL2 or L2POOL2, with option /sS like POOL3/s2"


def _options(token, text, allowed, form):
    """'/s4/p0' -> {'s': 4, 'p': 0}, each letter at most once and from ``allowed``."""
    found = {}
    for match in re.finditer(r"/([A-Z])(\d*)", text):
        letter, digits = match.group(1), match.group(2)
        if letter.lower() not in allowed or not digits:
            raise token.error(f"{form}; /{letter.lower()}{digits} is not an option here")
        if letter.lower() in found:
            raise token.error(f"{form}; /{letter.lower()} is given twice")
        found[letter.lower()] = int(digits)
    return found


def _build(token, layer_class, *args, **kwargs):
    """Construct a layer; its own checks (CONV3-0, CONV2-8 without /p) get the token's position."""
    try:
        return layer_class(*args, **kwargs)
    except (TypeError, ValueError) as err:
        raise token.error(f"valid hyperparameters: {err}") from None


def _layer_from_word(token, is_first, is_last_at_top, num_classes):
    word = token.text.upper()
    if word.startswith("INPUT"):
        match = _INPUT_RE.fullmatch(word)
        if match is None:
            raise token.error("INPUT-HxWxC like INPUT-224x224x3")
        if not is_first:
            raise token.error("INPUT only as the first token of the spec")
        return _build(token, Input, *map(int, match.groups()))
    if word.startswith("CONV"):
        match = _CONV_RE.fullmatch(word)
        if match is None:
            raise token.error(_CONV_FORM)
        size, filters = int(match.group(1)), int(match.group(2))
        options = _options(token, match.group(3), "spd", _CONV_FORM)
        return _build(token, Conv, size, filters, stride=options.get("s", 1),
                      pad=options.get("p"), dilation=options.get("d", 1))
    if "POOL" in word:
        match = _POOL_RE.fullmatch(word)
        if match is None:
            raise token.error(_POOL_FORM)
        kind = {None: "max", "MAX": "max", "AVG": "avg", "L2": "l2"}[match.group(1)]
        options = _options(token, match.group(3), "s", _POOL_FORM)
        return _build(token, Pool, kind, int(match.group(2)), options.get("s"))
    if word == "RELU":
        return Relu()
    if word == "BN":
        return BatchNorm()
    if word == "FC":
        if not is_last_at_top:
            raise token.error("FC-N like FC-4096; a bare FC (num_classes outputs) "
                              "only as the last token, outside brackets")
        if num_classes is None:
            raise token.error("FC-N, or parse_spec(..., num_classes=N) to give a bare FC "
                              "its N outputs")
        return _build(token, FC, num_classes)
    if word.startswith("FC"):
        match = _FC_RE.fullmatch(word)
        if match is None:
            raise token.error("FC-N like FC-4096, or a bare FC as the last layer")
        return _build(token, FC, int(match.group(1)))
    raise token.error("a layer: INPUT-HxWxC, CONVF-K, POOLF, AVGPOOLF, L2POOLF, RELU, BN, FC-N or FC, "
                      'or "[" to start a repeated group')


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def parse_spec(text, num_classes=None):
    """Parse a spec (see the module docstring) into a flat list of layers.

    text: the spec, e.g. ``"INPUT-32x32x3 -> [CONV3-32 -> RELU]*2 -> POOL2 -> FC"``.
    num_classes: the outputs of a bare ``FC`` at the end. If given and the spec ends with
        ``FC-N``, N must equal it.

    Returns ``[Input?, layer, ...]``: an ``Input`` first if the spec has one, then at
    least one layer, repetitions expanded. Raises ValueError naming the token, its
    position, what was expected and what came.

    >>> parse_spec("[[conv3-8, relu]*2, pool2]*2")[-3:]
    [Conv(size=3, filters=8, stride=1, pad=1, dilation=1), Relu(), Pool(kind='max', size=2, stride=2)]
    >>> parse_spec("CONV3-")
    Traceback (most recent call last):
    ...
    ValueError: "CONV3-" at token 1: expected CONVF-K like CONV3-64, with options /sS /pP /dD like CONV11-96/s4/p0 (character 1 of the spec)
    """
    if not isinstance(text, str):
        raise TypeError(f"spec must be a str like 'INPUT-32x32x3 -> CONV3-16 -> RELU', "
                        f"got {type(text).__name__}")
    if num_classes is not None:
        require_int("num_classes", num_classes, 1)
    tokens = _tokenize(text)
    if not tokens:
        raise ValueError("empty spec: expected layers like 'INPUT-32x32x3 -> CONV3-16 -> RELU'")

    layers, position = _parse_sequence(tokens, 0, depth=0, num_classes=num_classes)
    if position < len(tokens):  # only a stray "]" stops the top-level sequence early
        raise tokens[position][1].error('a layer or "[": this "]" closes no open "["')
    if not any(not isinstance(layer, Input) for layer in layers):
        raise ValueError(f"spec {text!r} has no layers after INPUT: expected e.g. "
                         f"'{text.strip()} -> CONV3-16 -> RELU'")
    check_batchnorm_placement(layers)
    last = layers[-1]
    if num_classes is not None and isinstance(last, FC) and last.units != num_classes:
        raise ValueError(f"spec ends with {last.name} but num_classes={num_classes}: "
                         f"write FC-{num_classes} or a bare FC")
    return layers


def _parse_sequence(tokens, position, depth, num_classes):
    """Parse layers and groups from ``position`` until "]" or the end -> (layers, position)."""
    layers = []
    while position < len(tokens):
        kind, token = tokens[position]
        if kind == "close":  # the caller decides whether this "]" closes anything
            return layers, position
        if kind == "open":
            opening = token
            group, position = _parse_sequence(tokens, position + 1, depth + 1, num_classes)
            if position >= len(tokens):
                raise opening.error(f'a matching "]": {depth + 1} bracket(s) still open at the end')
            if not group:
                raise tokens[position][1].error('at least one layer between "[" and "]"')
            position += 1  # past "]"
            if position >= len(tokens) or tokens[position][0] != "repeat":
                came = tokens[position][1].text if position < len(tokens) else "the end"
                raise tokens[position - 1][1].error(
                    f'"*N" right after "]" (a repeat count like *2), got {came!r}')
            layers.extend(group * _repeat_count(tokens[position][1]))
            position += 1
            continue
        if kind == "repeat":
            raise token.error('a layer or "[": "*N" repeats a bracketed group, like [CONV3-64 -> RELU]*2')
        is_last_at_top = depth == 0 and position == len(tokens) - 1
        layers.append(_layer_from_word(token, position == 0, is_last_at_top, num_classes))
        position += 1
    return layers, position


def _repeat_count(token):
    digits = token.text[1:]
    if not digits.isdigit() or int(digits) < 1:
        raise token.error("a repeat count N >= 1 like *2")
    return int(digits)


def render_spec(layers):
    """Write layers back as a spec, one token per layer (no brackets): parse_spec inverts it.

    >>> render_spec([Input(32, 32, 3), Conv(5, 6, pad=0), Pool("avg", 2), FC(10)])
    'INPUT-32x32x3 -> CONV5-6/p0 -> AVGPOOL2 -> FC-10'
    """
    return " -> ".join(_checked_layer(layer, i).name for i, layer in enumerate(layers))


def as_layers(spec, num_classes=None):
    """A spec string or an already parsed list/tuple of layers -> a list of layers."""
    if isinstance(spec, str):
        return parse_spec(spec, num_classes)
    if isinstance(spec, (list, tuple)):
        layers = [_checked_layer(layer, i) for i, layer in enumerate(spec)]
        for i, layer in enumerate(layers):
            if isinstance(layer, Input) and i != 0:
                raise ValueError(f"layers[{i}] is {layer!r}: an Input may only come first")
        check_batchnorm_placement(layers)
        return layers
    raise TypeError(f"expected a spec string or a list of layers, got {type(spec).__name__}")


def check_batchnorm_placement(layers):
    """Every BN right after a CONV or an FC layer, the layer whose outputs it normalizes.

    Raises ValueError naming the BN (its 1-based position among the layers, INPUT included)
    and what came before it.
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, BatchNorm):
            continue
        before = layers[i - 1] if i > 0 else None
        if isinstance(before, (Conv, FC)):
            continue
        came = "the start of the spec" if before is None or isinstance(before, Input) else before.name
        raise ValueError(f"layer {i + 1} (BN) follows {came}: expected BN right after a CONV or FC layer, "
                         f"the one whose outputs it normalizes, as in CONV3-64 -> BN -> RELU -> POOL2")


def _checked_layer(layer, i):
    if not isinstance(layer, LAYER_CLASSES):
        raise TypeError(f"layers[{i}] must be Input, Conv, Pool, Relu, BatchNorm or FC, "
                        f"got {type(layer).__name__} {layer!r}")
    return layer
