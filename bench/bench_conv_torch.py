"""Conv forward+backward (dx, dw, db) against torch.nn.functional.conv2d on the CPU, same run.

Ours is the training engine's convolution (``mec.conv_forward_mec`` / ``conv_backward_mec``:
MEC, on (N, C, H, W) arrays in and out, buffers allocated per call), run as the engine runs
it: with k threads, the batch in k shards computed in k threads with one BLAS thread each
(the weight gradients added). The im2col fast layer
(``fast_layers.conv_forward_fast``, the students' version) is timed beside it. Each figure is
a median over rounds in which every contender runs once in turn (with more than one thread,
after 0.2 s of rest so that the previous contender's idle BLAS/OpenMP threads have stopped
spinning). Also reported: our GFLOP/s
against the measured float32 GEMM peak, and the peak memory NumPy held during one
forward+backward (tracemalloc).

    .venv/bin/python bench/bench_conv_torch.py [--threads 1]
"""

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from common import ROOT, gemm_peak_gflops, limit_threads, paired_median_seconds, peak_mib, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import fast_layers, mec  # noqa: E402

LAYERS = [  # (name, C, H, F, K, pad)
    ("ThreeLayerConvNet conv: 3x32x32, 32 7x7, pad 3", 3, 32, 32, 7, 3),
    ("VGG-style conv: 64x16x16, 64 3x3, pad 1", 64, 16, 64, 3, 1),
]
BATCHES = (50, 128)


def conv_flops(N, C, H, F, K):
    """Forward + backward (dx and dw) multiply-adds of a stride-1 'same' conv, as FLOPs."""
    return 3 * 2 * N * F * C * K * K * H * H


def layer_step(forward, backward, x, w, b, pad):
    conv_param = {"stride": 1, "pad": pad}

    def step():
        out, cache = forward(x, w, b, conv_param)
        return backward(out, cache)
    return step


def sharded_step(forward, backward, x, w, b, pad, threads):
    """The step on ``threads`` shards of the batch in as many threads, one BLAS thread each."""
    if threads == 1:
        return layer_step(forward, backward, x, w, b, pad)
    shards = np.array_split(x, threads)
    steps = [layer_step(forward, backward, shard, w, b, pad) for shard in shards]
    pool = ThreadPoolExecutor(threads - 1)

    def step():
        with threadpool_limits(1, user_api="blas"):
            futures = [pool.submit(s) for s in steps[1:]]
            _, dw, db = steps[0]()
            for future in futures:
                _, dw_shard, db_shard = future.result()
                dw += dw_shard
                db += db_shard
    return step


def torch_step(x, w, b, pad):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))

    def step():
        out = torch.nn.functional.conv2d(xt, wt, bt, padding=pad)
        out.backward(out.detach())
        xt.grad = wt.grad = bt.grad = None
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=11)
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
                engine = sharded_step(mec.conv_forward_mec, mec.conv_backward_mec, x, w, b, pad, args.threads)
                seconds = paired_median_seconds({
                    "engine": engine,
                    "torch": torch_step(x, w, b, pad),
                    "im2col": layer_step(fast_layers.conv_forward_fast, fast_layers.conv_backward_fast, x, w, b, pad),
                }, repeats=args.repeats, settle=0.2 if args.threads > 1 else 0.0)
                gflops = conv_flops(N, C, H, F, K) / seconds["engine"] / 1e9
                rows.append((name, N, f"{seconds['engine'] * 1e3:.1f}", f"{seconds['torch'] * 1e3:.1f}",
                             f"{seconds['engine'] / seconds['torch']:.2f}", f"{seconds['im2col'] * 1e3:.1f}",
                             f"{gflops:.1f}", f"{100 * gflops / peak:.0f}%", f"{peak_mib(engine):.0f}"))
    report("Conv forward+backward vs PyTorch conv2d (CPU, float32)", args.threads,
           ["layer", "batch", "engine (MEC) ms", "PyTorch ms", "engine / PyTorch", "im2col layer ms",
            "engine GFLOP/s", "of GEMM peak", "engine peak MiB"], rows,
           notes=f"GEMM peak (NumPy float32 2048x2048 matmul, same threads): {peak:.1f} GFLOP/s. "
                 "Medians over rounds in which each contender runs once in turn. "
                 "Target: engine / PyTorch <= 1.2.")


if __name__ == "__main__":
    main()
