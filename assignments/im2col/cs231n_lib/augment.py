"""Data augmentation for minibatches on the host: random horizontal flips and random crops.

Augmenting each minibatch with label-preserving changes (a mirrored car is still a car)
is the cheapest regularizer for CIFAR-10. Functions take and return (N, C, H, W) NumPy
arrays and a NumPy Generator, so the Solver can apply them before moving a batch to the device.

>>> from cs231n_lib.backend import np
>>> X = np.arange(2 * 1 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3)
>>> flip_and_crop(X, np.random.default_rng(0), pad=0).shape
(2, 1, 2, 3)
"""

from .backend import np


def random_flip(X, rng):
    """Mirror a random half of the images left-right. X: (N, C, H, W) -> same shape."""
    flip = rng.random(X.shape[0]) < 0.5
    out = X.copy()
    out[flip] = X[flip, :, :, ::-1]
    return out


def random_crop(X, rng, pad=4):
    """Shift each image by up to ``pad`` pixels: zero-pad by ``pad``, then crop back to H x W."""
    if pad == 0:
        return X
    N, C, H, W = X.shape
    padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    tops = rng.integers(0, 2 * pad + 1, size=N)
    lefts = rng.integers(0, 2 * pad + 1, size=N)
    out = np.empty_like(X)
    for i in range(N):
        out[i] = padded[i, :, tops[i]:tops[i] + H, lefts[i]:lefts[i] + W]
    return out


def flip_and_crop(X, rng, pad=4):
    """The usual CIFAR-10 augmentation: a random flip, then a random crop of a padded image."""
    return random_crop(random_flip(X, rng), rng, pad)


def shifted(X, dy, dx):
    """Each image moved down by ``dy`` and right by ``dx`` pixels (negative: up, left), the
    uncovered border filled by reflection, as a test-time copy. X: (N, C, H, W) -> same shape."""
    N, C, H, W = X.shape
    if not (abs(dy) < H and abs(dx) < W):
        raise ValueError(f"a shift of ({dy}, {dx}) pixels needs images larger than {H}x{W}")
    py, px = abs(dy), abs(dx)
    padded = np.pad(X, ((0, 0), (0, 0), (py, py), (px, px)), mode="reflect")
    return np.ascontiguousarray(padded[:, :, py - dy:py - dy + H, px - dx:px - dx + W])
