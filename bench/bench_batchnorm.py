"""The cost of batch normalization in the training engine, against the conv it follows.

One stage of the recipe's family, ``CONV3-F -> RELU -> POOL2`` at three widths (32x32x32,
16x16x64, 8x8x128 inputs, batch 100, float32), timed with and without a ``BN`` after the
conv: forward and backward (``engine.loss(X, y)``, train mode: batch statistics, running
statistics updated, with threads the shards' exchange of sums) and the test-mode forward
(``engine.loss(X)``). The BN stage's cost is the difference; "BN / conv" divides it by the
stage without BN (the conv with its fused ReLU and pool, which dominates). The stage computes
its input gradient, as every layer but the first does. PyTorch eager (``Conv2d``,
``BatchNorm2d``, ``ReLU``, ``MaxPool2d``, same shapes, ``torch.set_num_threads``) is timed in
the same rounds for scale.

On a shared machine the difference of two step times is as noisy as the load, so the BN
kernels are also timed alone ("BN kernels": the train-mode forward and backward of
``engine._batchnorm_forward/_backward`` with the ReLU and its mask, on the stage's whole
(H, F, N*W) activations in this thread). Each figure is the fastest of the rounds (the least
disturbed run), every contender running once per round in turn.

    .venv/bin/python bench/bench_batchnorm.py [--threads 1]
"""

import argparse
import sys
import time

import numpy as np
import torch

from common import ROOT, limit_threads, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import engine as engine_module  # noqa: E402
from cs231n_lib.classifiers import ConvNet  # noqa: E402
from cs231n_lib.classifiers.convnet import BN_EPS, BN_MOMENTUM  # noqa: E402
from cs231n_lib.engine import TrainingEngine  # noqa: E402

CASES = [(32, 32, 32), (64, 64, 16), (128, 128, 8)]  # (input channels, filters, input side)
BATCH = 100


def engine_calls(channels, filters, side, batchnorm, threads, X, y):
    """(train step, test forward) of one CONV3 (-> BN) -> RELU -> POOL2 stage and a small FC."""
    bn = " -> BN" if batchnorm else ""
    model = ConvNet(f"INPUT-{side}x{side}x{channels} -> CONV3-{filters}{bn} -> RELU -> POOL2 -> FC", seed=0)
    engine = TrainingEngine(model, threads=threads)
    engine.stages[0].need_dx = True  # as a layer inside a net (buffers are made at the first call)
    return (lambda: engine.loss(X, y)), (lambda: engine.loss(X))


def bn_kernels(filters, side, rng):
    """The BN stage's own work in train mode, forward and backward, on (H, F, N*W) activations."""
    z0 = rng.standard_normal((side, filters, BATCH * side), dtype=np.float32)
    z, centered, scratch = np.empty_like(z0), np.empty_like(z0), np.empty_like(z0)
    dz0 = rng.standard_normal(z0.shape, dtype=np.float32)
    dz, positive = np.empty_like(dz0), np.empty(z0.shape, dtype=bool)
    prepared = {"gamma": np.ones(filters, np.float32), "beta": np.zeros(filters, np.float32)}
    bn_param = {"eps": BN_EPS, "momentum": BN_MOMENTUM, "running_mean": np.zeros(filters, np.float32),
                "running_var": np.ones(filters, np.float32)}
    grads = {"gamma": np.empty(filters, np.float32), "beta": np.empty(filters, np.float32)}
    context = engine_module.BatchContext(training=True, batch_size=BATCH, workers=1)
    count = BATCH * side * side

    def run():
        z[...] = z0  # the conv's output (not BN's work, but one pass over it: a small overcount)
        inv_std = engine_module._batchnorm_forward(z, centered, prepared, bn_param, context, 0, count,
                                                   engine_module.CONV_CHANNELS)
        np.maximum(z, 0, out=z)
        np.greater(z, 0, out=positive)
        np.multiply(dz0, positive, out=dz)
        engine_module._batchnorm_backward(dz, centered, scratch, inv_std, prepared, ("gamma", "beta"), grads,
                                          False, context, 0, count, engine_module.CONV_CHANNELS)
    return run


def fastest_seconds(functions, repeats, settle):
    """The fastest wall time of each function (name -> fn), every one called once per round in turn."""
    for fn in functions.values():
        fn()
    best = {name: float("inf") for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            time.sleep(settle)
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def torch_calls(channels, filters, side, batchnorm, X, y):
    torch.manual_seed(0)
    nn = torch.nn
    layers = [nn.Conv2d(channels, filters, 3, padding=1, bias=not batchnorm)]
    layers += [nn.BatchNorm2d(filters)] if batchnorm else []
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(filters * (side // 2) ** 2, 10)]
    model = nn.Sequential(*layers)
    Xt, yt = torch.from_numpy(X).requires_grad_(True), torch.from_numpy(y)

    def train():
        model.train()
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(Xt), yt).backward()

    def test():
        model.eval()
        with torch.no_grad():
            model(Xt)
    return train, test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    with limit_threads(args.threads):
        for channels, filters, side in CASES:
            X = rng.standard_normal((BATCH, channels, side, side), dtype=np.float32)
            y = rng.integers(10, size=BATCH)
            calls = {}
            for batchnorm in (False, True):
                tag = "bn" if batchnorm else "plain"
                calls[f"engine {tag} train"], calls[f"engine {tag} test"] = engine_calls(
                    channels, filters, side, batchnorm, args.threads, X, y)
                calls[f"torch {tag} train"], calls[f"torch {tag} test"] = torch_calls(
                    channels, filters, side, batchnorm, X, y)
            calls["BN kernels"] = bn_kernels(filters, side, rng)
            seconds = fastest_seconds(calls, repeats=args.repeats, settle=0.2 if args.threads > 1 else 0.0)
            ms = {name: 1000 * value for name, value in seconds.items()}
            row = [f"{side}x{side}x{channels} -> CONV3-{filters}",
                   f"{ms['BN kernels']:.1f} ({ms['BN kernels'] / ms['engine plain train']:.0%})"]
            for who in ("engine", "torch"):
                for mode in ("train", "test"):
                    plain, bn = ms[f"{who} plain {mode}"], ms[f"{who} bn {mode}"]
                    row += [f"{plain:.1f}", f"{bn - plain:.1f} ({(bn - plain) / plain:.0%})"]
            rows.append(row)
    report("Batch normalization's cost in the engine (CONV3 -> BN -> RELU -> POOL2, batch 100, float32)",
           args.threads,
           ["stage", "BN kernels alone ms (/ engine conv train)", "engine conv train ms", "engine BN train ms (BN / conv)", "engine conv test ms",
            "engine BN test ms (BN / conv)", "PyTorch conv train ms", "PyTorch BN train ms (BN / conv)",
            "PyTorch conv test ms", "PyTorch BN test ms (BN / conv)"], rows,
           notes=f"Engine: {args.threads} thread(s), one BLAS thread each; train = forward and backward "
                 "(engine.loss(X, y)), test = forward with the running statistics. conv = the stage without BN "
                 "(CONV3 with its fused ReLU and 2x2 pool, and the small FC after it); BN = the time a BN adds "
                 "to it; BN kernels = BN's train-mode forward and backward alone, in one thread. The fastest "
                 "of the rounds in which each contender runs once in turn.")


if __name__ == "__main__":
    main()
