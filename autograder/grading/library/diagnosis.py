"""Compare a student's array with the expected one and say what is wrong in words they can act on.

Feedback names shapes, positions and kinds of error, never values of the hidden inputs or
the reference code: "off by a factor of 0.5", "only filter 2 is wrong", "row 0 and column 0
are right, later positions are wrong: check how the window moves by the stride", "the
border of the map is wrong: check the zero padding", "looks like the bias is missing".
"""

import dataclasses
import itertools

import numpy as np

from cs231n_lib.gradient_check import compare_arrays

RTOL = 1e-5          # float32 arithmetic on our inputs stays well inside; real mistakes are O(1)


@dataclasses.dataclass(frozen=True)
class Verdict:
    passed: bool
    diagnosis: str | None = None
    max_error: float | None = None      # relative to the largest expected magnitude


@dataclasses.dataclass(frozen=True)
class Layout:
    """What the axes of an array mean, so that a diagnosis can speak of filters and rows."""
    axis_names: tuple[str, ...] = ()    # ("image", "filter", "row", "column")
    channel_axis: int | None = None     # the axis a bias is added along
    channel_word: str = "channel"
    spatial: bool = False               # the last two axes are a map (rows, columns)
    stride: int | None = None           # the map was produced by windows this far apart
    bias: np.ndarray | None = None      # the bias the function was given, if any


def tolerance(expected: np.ndarray, rtol: float = RTOL) -> float:
    return rtol * float(np.abs(expected).max(initial=0.0)) + 1e-12


def compare(got: np.ndarray, expected: np.ndarray, label: str, layout: Layout = Layout(),
            rtol: float = RTOL) -> Verdict:
    """Pass when every value is within ``rtol`` of the largest expected magnitude; else explain.

    The comparison is the library's own (``gradient_check.compare_arrays``, as in the notebooks):
    a NaN or an infinity on either side never passes, and the verdict says so.
    """
    comparison = compare_arrays(label, got, expected, rtol=rtol, atol=1e-12, relative_to="largest")
    if comparison.passed:
        return Verdict(True, None, comparison.error)
    if comparison.worst is None:   # a shape, NaN or infinity: nothing to explain beyond the comparison's words
        return Verdict(False, comparison.message, comparison.error)
    return Verdict(False, explain(got, expected, label, layout), comparison.error)


def explain(got, expected, label, layout: Layout) -> str:
    """The most specific explanation that fits, then where the error sits."""
    for guess in (_all_zeros, _scaled, _bias, _constant_offset, _permuted):
        sentence = guess(got, expected, label, layout)
        if sentence:
            return sentence
    return _where(got, expected, label, layout)


def _close(a, b) -> bool:
    return bool(np.abs(a - b).max(initial=0.0) <= tolerance(b, 1e-4))


def _all_zeros(got, expected, label, layout):
    if not got.any() and expected.any():
        return f"{label} is all zeros: is the array you return ever filled in?"
    return None


def _scaled(got, expected, label, layout):
    denominator = float((expected * expected).sum())
    if denominator == 0.0:
        return None
    ratio = float((got * expected).sum()) / denominator
    if abs(ratio - 1.0) < 1e-6 or not _close(got, ratio * expected):
        return None
    if abs(ratio + 1.0) < 1e-6:
        return f"{label} has the right magnitude but the opposite sign everywhere"
    return (f"{label} is {ratio:.4g} times the expected values everywhere: "
            f"look for a missing or extra factor (a sum versus a mean, a doubled term)")


def _bias(got, expected, label, layout):
    if layout.bias is None or layout.channel_axis is None:
        return None
    shape = [1] * expected.ndim
    shape[layout.channel_axis] = -1
    bias = np.asarray(layout.bias, dtype=np.float64).reshape(shape)
    if not bias.any():
        return None
    if _close(got, expected - bias):
        return f"{label} is right except that the bias is not added"
    if _close(got, expected + bias):
        return f"{label} is right except that the bias is added twice"
    return None


def _constant_offset(got, expected, label, layout):
    if layout.channel_axis is None:
        return None
    difference = got - expected
    axes = tuple(a for a in range(expected.ndim) if a != layout.channel_axis)
    per_channel = difference.mean(axis=axes, keepdims=True)
    if _close(difference, np.broadcast_to(per_channel, difference.shape)) and per_channel.any():
        return (f"{label} differs from the expected values by a constant per {layout.channel_word}: "
                f"check how the bias is added")
    return None


def _permuted(got, expected, label, layout):
    for order in itertools.permutations(range(expected.ndim)):
        if order == tuple(range(expected.ndim)):
            continue
        moved = expected.transpose(order)
        if moved.shape == got.shape and _close(got, moved):
            names = layout.axis_names or tuple(f"axis {a}" for a in range(expected.ndim))
            swapped = [names[a] for a, b in zip(range(expected.ndim), order) if a != b]
            return (f"{label} holds the expected values with its {' and '.join(swapped)} axes in a "
                    f"different order: check the indexing order")
    return None


def _where(got, expected, label, layout) -> str:
    error = np.abs(got - expected)
    wrong = error > tolerance(expected)
    worst = tuple(int(i) for i in np.unravel_index(int(error.argmax()), error.shape))
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-12)
    sentences = [f"{int(wrong.sum())} of {wrong.size} values of {label} are wrong; the largest error "
                 f"({float(error.max()) / scale:.2g} of the largest expected magnitude) is at "
                 f"{label}[{', '.join(map(str, worst))}]{_named(worst, layout)}"]
    if layout.channel_axis is not None and expected.shape[layout.channel_axis] > 1:
        other = tuple(a for a in range(expected.ndim) if a != layout.channel_axis)
        bad_channels = [int(c) for c in np.flatnonzero(wrong.any(axis=other))]
        if len(bad_channels) < expected.shape[layout.channel_axis]:
            sentences.append(f"only {layout.channel_word}(s) {bad_channels} are wrong, the others are right")
    if layout.spatial and expected.ndim >= 2:
        sentences.append(_spatial(wrong, layout))
    return "; ".join(s for s in sentences if s) + "."


def _named(index, layout) -> str:
    if len(layout.axis_names) != len(index):
        return ""
    return " (" + ", ".join(f"{name} {i}" for name, i in zip(layout.axis_names, index)) + ")"


def _spatial(wrong: np.ndarray, layout: Layout) -> str:
    rows, cols = wrong.shape[-2:]
    by_position = wrong.reshape(-1, rows, cols).any(axis=0)   # (rows, cols)
    border = np.zeros((rows, cols), dtype=bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    if rows > 2 and cols > 2:
        if not by_position[~border].any():
            return "only the border of the map is wrong: check the zero padding"
        if not by_position[border].any():
            return "the border of the map is right but the interior is wrong"
    if layout.stride and layout.stride > 1 and not by_position[0, 0] and by_position.any():
        return (f"the first window (row 0, column 0) is right and later ones are wrong: check that "
                f"window (i, j) starts at (i * stride, j * stride) = (i * {layout.stride}, "
                f"j * {layout.stride}) of the padded input")
    wrong_rows = [int(r) for r in np.flatnonzero(by_position.any(axis=1))]
    wrong_cols = [int(c) for c in np.flatnonzero(by_position.any(axis=0))]
    if len(wrong_rows) < rows or len(wrong_cols) < cols:
        return f"wrong at rows {wrong_rows} of {rows} and columns {wrong_cols} of {cols} of the map"
    return "wrong across the whole map"
