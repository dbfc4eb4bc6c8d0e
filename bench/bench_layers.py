"""Fast (im2col / strided taps) against naive layers, forward and backward.

    .venv/bin/python bench/bench_layers.py [--threads 1]
"""

import argparse
import sys

import numpy as np

from common import limit_threads, median_seconds, report

sys.path.insert(0, str(__import__("common").ROOT))
from cs231n_lib import fast_layers, layers  # noqa: E402

CONV_CASES = [  # (name, x shape, w shape, conv_param)
    ("3x32x32, 32 7x7, pad 3", (50, 3, 32, 32), (32, 3, 7, 7), {"stride": 1, "pad": 3}),
    ("64x16x16, 64 3x3, pad 1", (50, 64, 16, 16), (64, 64, 3, 3), {"stride": 1, "pad": 1}),
    ("64x33x33, 64 3x3, stride 2", (50, 64, 33, 33), (64, 64, 3, 3), {"stride": 2, "pad": 1}),
]
POOL_CASES = [
    ("32x32x32, 2x2 stride 2", (50, 32, 32, 32), {"pool_height": 2, "pool_width": 2, "stride": 2}),
    ("64x33x33, 3x3 stride 2", (50, 64, 33, 33), {"pool_height": 3, "pool_width": 3, "stride": 2}),
]


def time_pair(forward, backward, args, repeats):
    out, cache = forward(*args)
    dout = np.ones_like(out)
    return (median_seconds(lambda: forward(*args), repeats=repeats),
            median_seconds(lambda: backward(dout, cache), repeats=repeats))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    with limit_threads(args.threads):
        for name, x_shape, w_shape, conv_param in CONV_CASES:
            x = rng.standard_normal(x_shape, dtype=np.float32)
            w = rng.standard_normal(w_shape, dtype=np.float32)
            b = np.zeros(w_shape[0], dtype=np.float32)
            naive = time_pair(layers.conv_forward_naive, layers.conv_backward_naive, (x, w, b, conv_param), 3)
            fast = time_pair(fast_layers.conv_forward_fast, fast_layers.conv_backward_fast,
                             (x, w, b, conv_param), args.repeats)
            rows.append(("conv " + name, *(f"{t * 1e3:.1f}" for t in naive + fast),
                         f"{naive[0] / fast[0]:.1f}x", f"{naive[1] / fast[1]:.1f}x"))
        for name, x_shape, pool_param in POOL_CASES:
            x = rng.standard_normal(x_shape, dtype=np.float32)
            naive = time_pair(layers.max_pool_forward_naive, layers.max_pool_backward_naive, (x, pool_param), 3)
            fast = time_pair(fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast,
                             (x, pool_param), args.repeats)
            rows.append(("max pool " + name, *(f"{t * 1e3:.1f}" for t in naive + fast),
                         f"{naive[0] / fast[0]:.1f}x", f"{naive[1] / fast[1]:.1f}x"))
    report("Fast vs naive layers, batch 50, float32", args.threads,
           ["layer", "naive fwd ms", "naive bwd ms", "fast fwd ms", "fast bwd ms",
            "fwd speed-up", "bwd speed-up"], rows)


if __name__ == "__main__":
    main()
