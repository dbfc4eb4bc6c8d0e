"""Fast conv forward+backward against torch.nn.functional.conv2d on the CPU, same run.

Reports each time, the ratio, our achieved GFLOP/s against the measured float32 GEMM
peak, and the peak memory NumPy allocated during one forward+backward (tracemalloc).

    .venv/bin/python bench/bench_conv_torch.py [--threads 1]
"""

import argparse
import sys
import tracemalloc

import numpy as np
import torch

from common import ROOT, gemm_peak_gflops, limit_threads, median_seconds, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import fast_layers  # noqa: E402

LAYERS = [  # (name, C, H, F, K, pad)
    ("ThreeLayerConvNet conv: 3x32x32, 32 7x7, pad 3", 3, 32, 32, 7, 3),
    ("VGG-style conv: 64x16x16, 64 3x3, pad 1", 64, 16, 64, 3, 1),
]
BATCHES = (50, 128)


def conv_flops(N, C, H, F, K):
    """Forward + backward (dx and dw) multiply-adds of a stride-1 'same' conv, as FLOPs."""
    return 3 * 2 * N * F * C * K * K * H * H


def ours(x, w, b, pad):
    conv_param = {"stride": 1, "pad": pad}

    def step():
        out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
        fast_layers.conv_backward_fast(out, cache)
    return step


def theirs(x, w, b, pad):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))

    def step():
        out = torch.nn.functional.conv2d(xt, wt, bt, padding=pad)
        out.backward(out.detach())
        xt.grad = wt.grad = bt.grad = None
    return step


def peak_bytes(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    peak = gemm_peak_gflops(args.threads)
    rows = []
    with limit_threads(args.threads):
        for name, C, H, F, K, pad in LAYERS:
            for N in BATCHES:
                x = rng.standard_normal((N, C, H, H), dtype=np.float32)
                w = rng.standard_normal((F, C, K, K), dtype=np.float32)
                b = rng.standard_normal(F, dtype=np.float32)
                ours_s = median_seconds(ours(x, w, b, pad), repeats=args.repeats)
                torch_s = median_seconds(theirs(x, w, b, pad), repeats=args.repeats)
                gflops = conv_flops(N, C, H, F, K) / ours_s / 1e9
                memory = peak_bytes(ours(x, w, b, pad)) / 2**20
                rows.append((name, N, f"{ours_s * 1e3:.1f}", f"{torch_s * 1e3:.1f}",
                             f"{ours_s / torch_s:.2f}", f"{gflops:.1f}", f"{100 * gflops / peak:.0f}%",
                             f"{memory:.0f}"))
    report("Conv forward+backward vs PyTorch conv2d (CPU, float32)", args.threads,
           ["layer", "batch", "ours ms", "PyTorch ms", "ours / PyTorch", "our GFLOP/s",
            "of GEMM peak", "our peak MiB"], rows,
           notes=f"GEMM peak (NumPy float32 2048x2048 matmul, same threads): {peak:.1f} GFLOP/s. "
                 "Targets: ours / PyTorch <= 1.2; 50% or more of GEMM peak.")


if __name__ == "__main__":
    main()
