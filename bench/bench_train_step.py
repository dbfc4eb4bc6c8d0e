"""One training step (forward, backward, Adam update) in images/second against PyTorch eager on the
CPU, same run, same model: ThreeLayerConvNet (CS231n's defaults) at batches 50 and 128, and the
best-model recipe's ConvNet (docs/training.md) at batch 100.

Ours is the Solver's path: the training engine (``engine.TrainingEngine``, ``threads`` shards
with one BLAS thread each) and Adam in place on its flat buffers; the library's layers
(``model.loss`` with per-parameter ``optim.adam``, what the Solver runs with ``engine="off"``)
are timed beside it. PyTorch runs with ``torch.set_num_threads(threads)``. Each figure is a
median over rounds in which every contender runs once in turn (with more than one thread,
after 0.2 s of rest so that the previous contender's idle BLAS/OpenMP threads have stopped
spinning); peak MiB is what NumPy held during our first two steps (buffers allocated
included; tracemalloc).

    .venv/bin/python bench/bench_train_step.py [--threads 1]
"""

import argparse
import sys

import numpy as np
import torch

from common import ROOT, limit_threads, paired_median_seconds, peak_mib, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import optim  # noqa: E402
from cs231n_lib.classifiers import ConvNet, ThreeLayerConvNet  # noqa: E402
from cs231n_lib.engine import TrainingEngine  # noqa: E402

RECIPE = ("CONV3-32 -> RELU -> POOL2 -> CONV3-64 -> RELU -> POOL2 -> CONV3-128 -> RELU -> POOL2 "
          "-> FC-256 -> RELU -> FC")
CASES = [  # (model name, batch)
    ("ThreeLayerConvNet", 50), ("ThreeLayerConvNet", 128), ("recipe ConvNet", 100),
]


def our_model(name):
    np.random.seed(0)
    if name == "ThreeLayerConvNet":
        return ThreeLayerConvNet(weight_scale=1e-2)  # CS231n's defaults: 32 7x7 filters, hidden 100
    return ConvNet(RECIPE, input_dim=(3, 32, 32), reg=5e-4, seed=0)


def torch_model(name):
    torch.manual_seed(0)
    nn = torch.nn
    if name == "ThreeLayerConvNet":
        return nn.Sequential(nn.Conv2d(3, 32, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(32 * 16 * 16, 100), nn.ReLU(), nn.Linear(100, 10))
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 10))


def engine_step(name, X, y, threads):
    model = our_model(name)
    engine = TrainingEngine(model, threads=threads)
    configs = {param: {"learning_rate": 1e-4} for param in model.params}

    def step():
        engine.loss(X, y)
        engine.adam_update(configs)
    return step


def layers_step(name, X, y):
    model = our_model(name)
    configs = {param: {"learning_rate": 1e-4} for param in model.params}

    def step():
        _, grads = model.loss(X, y)
        for param, w in model.params.items():
            model.params[param], configs[param] = optim.adam(w, grads[param], configs[param])
    return step


def torch_step(name, X, y):
    model = torch_model(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(Xt), yt)
        loss.backward()
        optimizer.step()
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    with limit_threads(args.threads):
        for name, batch in CASES:
            X = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
            y = rng.integers(10, size=batch)
            memory = peak_mib(lambda: [step() for step in [engine_step(name, X, y, args.threads)] * 2])
            seconds = paired_median_seconds({
                "engine": engine_step(name, X, y, args.threads),
                "torch": torch_step(name, X, y),
                "layers": layers_step(name, X, y),
            }, repeats=args.repeats, settle=0.2 if args.threads > 1 else 0.0)
            rows.append((name, batch, f"{batch / seconds['engine']:.0f}", f"{batch / seconds['torch']:.0f}",
                         f"{seconds['torch'] / seconds['engine']:.2f}", f"{batch / seconds['layers']:.0f}",
                         f"{memory:.0f}"))
    report("Training step vs PyTorch eager (CPU, float32, Adam)", args.threads,
           ["model", "batch", "engine images/s", "PyTorch images/s", "engine / PyTorch speed",
            "layers (model.loss) images/s", "engine peak MiB"], rows,
           notes=f"Engine: {args.threads} thread(s) of its own, one BLAS thread each. "
                 "Medians over rounds in which each contender runs once in turn. "
                 "Targets: engine / PyTorch speed >= 1.2 at 1 thread, >= 1.0 at 2 threads.")


if __name__ == "__main__":
    main()
