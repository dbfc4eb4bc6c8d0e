"""The 90% recipe trained with PyTorch's forward and backward: the accuracy it reaches beside ours.

Everything but each step's forward and backward is the kit's own, so the two runs differ only in
who computes the gradients: the Solver that ``python -m cs231n_lib.train`` builds from
``train.RECIPE_90`` (``train.make_solver``: every image once per epoch in minibatches of 512,
flips and 2-pixel shifts, the warm-up and linear decay, Nesterov SGD with decoupled weight decay
and the per-parameter rates, lookahead, the per-epoch checks and checkpoints), the same data
(``train.load_data``), the same initial weights (``train.build_model``, seeded), and the same
test-time augmentation on all 10,000 test images. ``TorchModel`` runs the net that
``bench_recipe.torch_net`` builds from the recipe's spec (PyTorch's Conv2d, BatchNorm2d, ReLU,
MaxPool2d, Linear and its cross entropy with label smoothing) behind the kit's model interface.

One difference stays: the Solver keeps the parameters of the best validation accuracy, with a
ConvNet's BN running statistics of that epoch; PyTorch's running statistics are its modules'
buffers, always the last step's. The script says which epoch was best: when it is the last (as
in all of the engine's runs), the test accuracy is of exactly the model trained.

    .venv/bin/python bench/recipe_torch_accuracy.py --seed 0       # about 42 minutes on 2 cores
    .venv/bin/python bench/recipe_torch_accuracy.py --epochs 1 --num-train 2000   # a smoke run

Writes ``metrics.json`` and the checkpoints into ``--out`` and appends a row to docs/benchmarks.md.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from bench_recipe import torch_net
from common import ROOT, limit_threads, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import train  # noqa: E402
from cs231n_lib.engine import ROUNDING_FLOOR  # noqa: E402


class TorchModel:
    """A kit model (``params``, ``loss(X, y=None)``) whose forward and backward are PyTorch's.

    ``params`` are the kit model's NumPy arrays (the Solver updates them); each call copies them
    into the torch net first. Our FC weight is (D, units), torch's Linear weight its transpose.
    """

    def __init__(self, model):
        self.params = model.params
        self.label_smoothing = model.label_smoothing
        self.dtype = next(iter(model.params.values())).dtype  # float32, or float64 for the check
        self.net, self.torch_params = torch_net(model, with_names=True)
        self.net.to(getattr(torch, self.dtype.name))

    def _in_torch_layout(self, name, array):
        transposed = name.startswith("W") and self.torch_params[name].dim() == 2  # a Linear's weight
        return np.ascontiguousarray(array.T if transposed else array)

    def loss(self, X, y=None):
        """Scores (N, C) when ``y`` is None (BN in test mode); else (loss, grads) (BN in train mode)."""
        with torch.no_grad():
            for name, weight in self.torch_params.items():
                weight.copy_(torch.from_numpy(self._in_torch_layout(name, self.params[name])))
        X = torch.from_numpy(np.ascontiguousarray(X, dtype=self.dtype))
        if y is None:
            self.net.eval()
            with torch.no_grad():
                return self.net(X).numpy()
        self.net.train()
        for weight in self.torch_params.values():
            weight.grad = None
        loss = torch.nn.functional.cross_entropy(self.net(X), torch.from_numpy(np.asarray(y, dtype=np.int64)),
                                                 label_smoothing=self.label_smoothing)
        loss.backward()
        grads = {name: self._in_torch_layout(name, weight.grad.numpy()) for name, weight in self.torch_params.items()}
        return loss.item(), grads


def check_same_gradients(command, X, y):
    """The kit's model.loss and TorchModel's on one batch, both in float64 from the initial weights
    of ``command`` (train's arguments): the largest difference of the loss and of any gradient,
    relative to its largest value (or SystemExit past 1e-6). In float32 the two differ by their rounding, about 1% of the conv
    gradients under BN (docs/library.md, the training engine's check); the identity-initialized
    convs' gammas have gradients that are zero but for rounding, held to the engine's
    ROUNDING_FLOOR of the largest gradient instead."""
    model = train.build_model(train.parse_args([*command, "--dtype", "float64"]))
    loss, grads = model.loss(X.astype(np.float64), y)
    torch_loss, torch_grads = TorchModel(model).loss(X, y)
    largest = max(float(np.abs(grad).max()) for grad in grads.values())
    worst = abs(loss - torch_loss) / abs(loss)
    for name, grad in grads.items():
        scale = max(float(np.abs(grad).max()), ROUNDING_FLOOR * largest / 1e-6)
        worst = max(worst, float(np.abs(grad - torch_grads[name]).max()) / scale)
    if not worst < 1e-6:
        raise SystemExit(f"PyTorch's gradients differ from the kit's model.loss: relative difference {worst:.3g}")
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--num-train", type=int, default=None, help="default: the recipe's 49,000")
    parser.add_argument("--out", default=None, help="default: runs/recipe90-torch-seedN")
    options = parser.parse_args(argv)
    out = options.out or str(ROOT / "runs" / f"recipe90-torch-seed{options.seed}")
    command = [*train.RECIPE_90, "--seed", str(options.seed), "--engine", "off", "--verbose", "--out", out]
    if options.epochs is not None:
        recipe = train.parse_args(list(train.RECIPE_90))  # its warm-up, the same share of fewer epochs
        warmup = recipe.warmup_epochs * options.epochs / recipe.epochs
        command += ["--epochs", str(options.epochs), "--warmup-epochs", str(warmup)]
    if options.num_train is not None:
        command += ["--num-train", str(options.num_train)]
    args = train.parse_args(command)
    os.makedirs(out, exist_ok=True)
    model = TorchModel(train.build_model(args))
    data, _ = train.load_data(args)
    difference = check_same_gradients(command, data["X_train"][:64], data["y_train"][:64])
    print(f"PyTorch's loss and gradients agree with the kit's on 64 images to {difference:.1e} relative")
    load_before = os.getloadavg()
    with limit_threads(args.threads):
        solver = train.make_solver(args, model, data, out)
        started = time.perf_counter()
        solver.train()
        seconds = time.perf_counter() - started
        metrics = {
            "seed": options.seed, "epochs": solver.epoch, "threads": args.threads,
            **train.accuracies_on_test_set(args, solver, data),
            "best_val_acc": solver.best_val_acc,
            "best_epoch": solver.val_acc_history.index(solver.best_val_acc),
            "final_train_acc": solver.train_acc_history[-1],
            "train_seconds_this_run": round(seconds, 1),
            "torch": torch.__version__,
        }
    load_after = os.getloadavg()
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps(metrics, indent=2))
    best_note = ("the last" if metrics["best_epoch"] == solver.epoch else
                 f"epoch {metrics['best_epoch']} (its weights with the last step's BN statistics)")
    report("The 90% recipe trained with PyTorch's forward and backward (CPU, float32)", str(args.threads),
           ["seed", "epochs", "training images", "test accuracy: flip + shifts TTA", "flip TTA", "no TTA",
            "best validation (1,000)", "best epoch", "training time"],
           [(options.seed, solver.epoch, len(data["X_train"]), f"{metrics['test_acc']:.2%}",
             f"{metrics['test_acc_flip_only']:.2%}", f"{metrics['test_acc_without_tta']:.2%}",
             f"{metrics['best_val_acc']:.1%}", best_note, f"{seconds:,.0f} s ({seconds / 60:.1f} min)")],
           notes=(f"`bench/recipe_torch_accuracy.py`: the kit's Solver and data as `train.RECIPE_90` sets them, "
                  f"the forward and backward of PyTorch {torch.__version__} (`torch.set_num_threads({args.threads})`). "
                  f"Loss and gradients agree with the kit's `model.loss` on 64 training images to "
                  f"{difference:.1e} relative before training. Test accuracy on {len(data['y_test']):,} images. "
                  f"Load average (1, 5, 15 min) before "
                  f"{tuple(round(x, 1) for x in load_before)}, after {tuple(round(x, 1) for x in load_after)}."))
    return metrics


if __name__ == "__main__":
    main()
