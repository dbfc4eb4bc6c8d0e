"""Validation accuracy against minutes of training, for runs of the 90% recipe side by side.

Each run folder is one written by ``python -m cs231n_lib.train`` or ``recipe_torch_accuracy.py``:
its ``metrics.json`` (the training seconds, the test accuracy, ``torch`` for PyTorch's runs) and
its per-epoch checkpoints (the validation accuracies). The time at which epoch k ended is read
from the checkpoints' modification times, counted back from the end of training: the last
checkpoint is written as training ends, so epoch k ended at
``train_seconds - (mtime(last checkpoint) - mtime(checkpoint k))``.

    .venv/bin/python bench/plot_recipe_runs.py runs/recipe90-seed0 runs/recipe90-seed1 \\
        runs/recipe90-seed2 runs/recipe90-torch-seed0 --out docs/img/recipe90_engine_vs_pytorch.png
"""

import argparse
import json
import pickle
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def epoch_times_and_accuracies(folder):
    """([minutes at the end of epochs 0..E], [validation accuracy after each], metrics) of one run."""
    folder = Path(folder)
    metrics_path = folder / "metrics.json"
    if not metrics_path.exists():
        raise SystemExit(f"{folder}: no metrics.json (expected a finished run of the recipe)")
    metrics = json.loads(metrics_path.read_text())
    checkpoints = sorted(folder.glob("checkpoint_epoch_*.pkl"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not checkpoints:
        raise SystemExit(f"{folder}: no checkpoint_epoch_*.pkl")
    with open(checkpoints[-1], "rb") as f:
        accuracies = pickle.load(f)["val_acc_history"]  # epoch 0 (before training) to the last
    if len(accuracies) != len(checkpoints) + 1:
        raise SystemExit(f"{folder}: {len(checkpoints)} checkpoints but {len(accuracies) - 1} epochs recorded")
    end = checkpoints[-1].stat().st_mtime
    seconds = metrics["train_seconds_this_run"]
    minutes = [0.0] + [(seconds - (end - path.stat().st_mtime)) / 60 for path in checkpoints]
    return minutes, accuracies, metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--budget-minutes", type=float, default=30)
    args = parser.parse_args(argv)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for folder in args.runs:
        minutes, accuracies, metrics = epoch_times_and_accuracies(folder)
        who = "PyTorch" if "torch" in metrics else "the engine"
        config = Path(folder) / "config.json"  # train's record of its arguments, the seed among them
        seed = metrics["seed"] if "seed" in metrics else json.loads(config.read_text())["seed"]
        label = (f"{who}, seed {seed}: "
                 f"test {metrics['test_acc']:.2%} after {minutes[-1]:.1f} min")
        ax.plot(minutes, accuracies, marker="o", markersize=3, label=label,
                linestyle="--" if who == "PyTorch" else "-")
    ax.axvline(args.budget_minutes, color="grey", linewidth=1)
    ax.axhline(0.9, color="grey", linewidth=1, linestyle=":")
    ax.set_xlabel("minutes of training (2 cores)")
    ax.set_ylabel("validation accuracy (1,000 images)")
    ax.set_title("The 90% recipe: validation accuracy after each epoch")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
