"""A full ThreeLayerConvNet training step (forward, backward, Adam update) in images/second,
against the same model in PyTorch eager on the CPU, in the same run.

    .venv/bin/python bench/bench_train_step.py [--threads 1]
"""

import argparse
import sys

import numpy as np
import torch

from common import ROOT, limit_threads, median_seconds, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import optim  # noqa: E402
from cs231n_lib.classifiers import ThreeLayerConvNet  # noqa: E402


def ours(X, y):
    np.random.seed(0)
    model = ThreeLayerConvNet(weight_scale=1e-2)  # CS231n's defaults: 32 7x7 filters, hidden 100
    configs = {name: {"learning_rate": 1e-4} for name in model.params}

    def step():
        _, grads = model.loss(X, y)
        for name, w in model.params.items():
            model.params[name], configs[name] = optim.adam(w, grads[name], configs[name])
    return step


def theirs(X, y):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 7, padding=3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 16 * 16, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
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
        for batch in (50, 128):
            X = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
            y = rng.integers(10, size=batch)
            ours_s = median_seconds(ours(X, y), repeats=args.repeats, warmup=2)
            torch_s = median_seconds(theirs(X, y), repeats=args.repeats, warmup=2)
            rows.append((batch, f"{batch / ours_s:.0f}", f"{batch / torch_s:.0f}", f"{torch_s / ours_s:.2f}"))
    report("ThreeLayerConvNet training step vs PyTorch eager (CPU, float32, Adam)", args.threads,
           ["batch", "ours images/s", "PyTorch images/s", "ours / PyTorch speed"], rows,
           notes="Target: ours / PyTorch speed >= 1.0.")


if __name__ == "__main__":
    main()
