"""Train a model on CIFAR-10 from the command line, with checkpoints, resume and plots.

    python -m cs231n_lib.train --epochs 1 --out runs/three_layer
    python -m cs231n_lib.train --backend cupy ...          # on a GPU, one argument
    python -m cs231n_lib.train --out runs/three_layer --resume   # after an interruption
    python -m cs231n_lib.train --model convnet --spec "[CONV3-32 -> RELU]*2 -> POOL2 -> FC" ...
    python -m cs231n_lib.train ... --update-rule sgd_nesterov --learning-rate 0.05 --momentum 0.9 \
        --weight-decay 5e-4 --label-smoothing 0.2 --schedule linear --warmup-epochs 1 --tta

Writes into --out: ``best_model.npz``, the model of the best validation accuracy as a checkpoint
that is data (``cs231n_lib.checkpoint``: what the course's grader evaluates), a training checkpoint
per epoch (to --resume), ``config.json``, ``metrics.json``
(accuracies and timing), ``history.png`` (loss and accuracy curves) and
``filters.png`` (the first-layer filters).
"""

import argparse
import fnmatch
import fractions
import functools
import json
import pathlib
import re
import sys
import time

from threadpoolctl import threadpool_limits

from .backend import BACKENDS, BackendUnavailableError, np, resolve_backend
from .augment import flip_and_crop
from .checkpoint import save_checkpoint
from .classifiers import ConvNet, ThreeLayerConvNet, dirac_init
from .optim import UPDATE_RULES
from .solver import SAMPLINGS, SCHEDULES, Solver
from .vis_utils import plot_filters, plot_history

# The settings that define a run; --resume refuses a run whose settings differ.
RUN_SETTINGS = ("model", "spec", "augment", "crop_pad", "normalize", "num_filters", "filter_size", "hidden_dim",
                "weight_scale", "reg", "update_rule", "learning_rate", "lr_decay", "batch_size", "num_train",
                "num_val", "seed", "dtype", "momentum", "weight_decay", "label_smoothing", "schedule",
                "warmup_epochs", "lr_scale", "score_scale", "sampling", "dirac_init", "lookahead")
# The recipe of docs/training.md (issue 18: 90% on CIFAR-10 in 30 minutes on two cores), the one
# place it is written down: the docs' command (tests/test_train.py checks they agree) and
# bench/bench_recipe.py read it from here. Add --seed S --out DIR to run it.
RECIPE_90 = (
    "--model", "convnet", "--spec",
    "CONV3-64 -> BN -> RELU -> POOL2 -> CONV3-64 -> BN -> RELU -> CONV3-128 -> BN -> RELU -> POOL2 -> "
    "CONV3-128 -> BN -> RELU -> CONV3-128 -> BN -> RELU -> POOL2 -> CONV3-128 -> BN -> RELU -> POOL2 -> FC",
    "--weight-scale", "he", "--dirac-init", "--score-scale", "1/9", "--normalize", "--augment", "--crop-pad", "2",
    "--reg", "0", "--update-rule", "sgd_nesterov", "--learning-rate", "0.75", "--momentum", "0.85",
    "--weight-decay", "0.0089", "--lr-scale", "gamma*=0", "--lr-scale", "beta*=64", "--label-smoothing", "0.2",
    "--schedule", "linear", "--warmup-epochs", "2", "--sampling", "permutation", "--lookahead",
    "--batch-size", "512", "--epochs", "10", "--tta", "--tta-translate", "1", "--num-test", "10000",
    "--threads", "2",
)
# Rules that take --momentum (and, sgd_nesterov only, --weight-decay).
MOMENTUM_RULES = ("sgd_momentum", "sgd_nesterov")


def weight_scale(text):
    if text == "he":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'he', got {text!r}") from None


def fraction(text):
    """A number >= 0 written as 0.25 or 1/4."""
    try:
        value = float(fractions.Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number >= 0 such as 0.25 or 1/4, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 such as 0.25 or 1/4, got {text!r}")
    return value


def lr_scale(text):
    """'PATTERN=FACTOR' (FACTOR a number or a fraction such as 1/81) -> (pattern, factor)."""
    pattern, sep, factor = text.partition("=")
    try:
        value = fraction(factor)
    except argparse.ArgumentTypeError:
        value = None
    if not sep or not pattern.strip() or value is None:
        raise argparse.ArgumentTypeError(f"expected PATTERN=FACTOR with a factor >= 0, such as 'beta*=64' "
                                         f"or 'W7=1/81', got {text!r}")
    return pattern.strip(), value


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m cs231n_lib.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["three_layer", "convnet"], default="three_layer")
    p.add_argument("--spec", default=None,
                   help="for --model convnet: the layers in the notes' notation (see docs/architecture.md)")
    p.add_argument("--augment", action="store_true",
                   help="random flips and crops (shifts of up to --crop-pad pixels) of each minibatch")
    p.add_argument("--crop-pad", type=int, default=4,
                   help="with --augment: the largest shift of a random crop, in pixels (default 4)")
    p.add_argument("--normalize", action="store_true",
                   help="divide the (mean-subtracted) images by the training set's standard deviation, "
                        "so that inputs have unit scale (what He initialization assumes)")
    p.add_argument("--num-filters", type=int, default=32)
    p.add_argument("--filter-size", type=int, default=7)
    p.add_argument("--hidden-dim", type=int, default=500)
    p.add_argument("--weight-scale", type=weight_scale, default=1e-3,
                   help="standard deviation of the initial weights, or 'he' (convnet only)")
    p.add_argument("--reg", type=float, default=1e-3)
    p.add_argument("--update-rule", choices=sorted(UPDATE_RULES), default="adam")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=1.0,
                   help="with --schedule step: multiply the learning rate by this after each epoch")
    p.add_argument("--momentum", type=float, default=None,
                   help="for sgd_momentum and sgd_nesterov (default: the rule's, 0.9)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="for sgd_nesterov: decoupled weight decay, each step shrinks every parameter by "
                        "learning_rate * weight_decay of itself (--reg is the loss's L2 term instead)")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="for --model convnet: the softmax loss's target puts this much weight evenly on "
                        "all classes (0 <= s < 1)")
    p.add_argument("--schedule", choices=SCHEDULES, default="step",
                   help="step: --lr-decay each epoch; linear or cosine: set at every iteration, from the "
                        "--learning-rate peak (after --warmup-epochs of linear warm-up) down to zero")
    p.add_argument("--warmup-epochs", type=float, default=0.0,
                   help="with --schedule linear or cosine: epochs of linear warm-up")
    p.add_argument("--lr-scale", type=lr_scale, action="append", default=None, metavar="PATTERN=FACTOR",
                   help="multiply the learning rate of the parameters whose names match PATTERN "
                        "(fnmatch: W7, 'beta*') by FACTOR, 0 to freeze them; repeatable. The "
                        "step only: --weight-decay's shrink per step stays the same")
    p.add_argument("--score-scale", type=fraction, default=1.0,
                   help="for --model convnet: scores computed as this times the last layer's output "
                        "(e.g. 1/9), a gentler last layer, in its equivalent form: that layer's initial "
                        "weights times it, its learning rate times its square")
    p.add_argument("--dirac-init", action="store_true",
                   help="for --model convnet: each size-keeping conv starts as the identity on its "
                        "first input-depth filters (classifiers.dirac_init)")
    p.add_argument("--lookahead", action="store_true",
                   help="every 5 steps pull the weights back to their moving average, which tightens "
                        "towards the end; the final weights are the average (Solver's lookahead)")
    p.add_argument("--sampling", choices=SAMPLINGS, default="replacement",
                   help="replacement: each minibatch drawn at random (CS231n's); permutation: each "
                        "epoch a fresh shuffle, every image once")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation in the test evaluation: average the scores of each "
                        "image and its mirror image")
    p.add_argument("--tta-translate", type=int, default=0, metavar="PIXELS",
                   help="with --tta: also average in the mirrored pairs of the test images shifted by "
                        "this many pixels up-left and down-right (airbench's second level; 1 is its)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--num-train", type=int, default=49000)
    p.add_argument("--num-val", type=int, default=1000)
    p.add_argument("--num-test", type=int, default=1000)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="numpy, cupy or auto (default: $CS231N_BACKEND, else numpy)")
    p.add_argument("--data", default=None, help="the cifar-10-batches-py folder (default: found automatically)")
    p.add_argument("--out", default="runs/three_layer", help="folder for checkpoints, plots and metrics")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the checkpoints of an earlier run in --out and start afresh")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="threads of the training engine, each minibatch split across them with one "
                        "BLAS thread each (and the BLAS threads where the engine does not run); "
                        "default: one engine thread, BLAS as the library chooses")
    p.add_argument("--engine", choices=["auto", "on", "off"], default="auto",
                   help="the fast training engine (cs231n_lib/engine.py): auto uses it where it "
                        "supports the model and agrees with model.loss; off always uses model.loss")
    p.add_argument("--verbose", action="store_true", help="print losses instead of a progress bar")
    args = p.parse_args(argv)
    if (args.model == "convnet") != (args.spec is not None):
        p.error("--spec goes with --model convnet, and --model convnet needs a --spec")
    if args.model == "three_layer" and args.weight_scale == "he":
        p.error("--weight-scale he is for --model convnet")
    if args.momentum is not None and args.update_rule not in MOMENTUM_RULES:
        p.error(f"--momentum goes with --update-rule {' or '.join(MOMENTUM_RULES)}, not {args.update_rule}")
    if args.weight_decay and args.update_rule != "sgd_nesterov":
        p.error(f"--weight-decay goes with --update-rule sgd_nesterov, not {args.update_rule} "
                "(--reg is the loss's L2 term, for every rule)")
    for flag, value in (("--score-scale", args.score_scale != 1.0), ("--dirac-init", args.dirac_init)):
        if value and args.model != "convnet":
            p.error(f"{flag} is for --model convnet")
    if args.score_scale == 0:
        p.error("--score-scale must be above 0")
    if args.label_smoothing and args.model != "convnet":
        p.error("--label-smoothing is for --model convnet (ThreeLayerConvNet.loss is CS231n's plain softmax)")
    if args.tta_translate and not args.tta:
        p.error("--tta-translate goes with --tta")
    if args.tta_translate < 0:
        p.error(f"--tta-translate must be at least 0, got {args.tta_translate}")
    if args.crop_pad != 4 and not args.augment:
        p.error("--crop-pad goes with --augment")
    if args.crop_pad < 0:
        p.error(f"--crop-pad must be at least 0, got {args.crop_pad}")
    if args.schedule == "step" and args.warmup_epochs:
        p.error("--warmup-epochs goes with --schedule linear or cosine")
    if args.schedule != "step" and args.lr_decay != 1.0:
        p.error(f"--lr-decay is for --schedule step; --schedule {args.schedule} sets the learning rate itself")
    if not 0 <= args.warmup_epochs < args.epochs:
        p.error(f"--warmup-epochs must be at least 0 and below --epochs ({args.epochs}), got {args.warmup_epochs}")
    for name in ("epochs", "batch_size", "num_train", "num_val", "num_test", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def run_settings(args):
    # As JSON reads them back, so that --resume compares like with like.
    values = vars(args) | {"lr_scale": [list(pair) for pair in args.lr_scale] if args.lr_scale else None}
    return {key: values[key] for key in RUN_SETTINGS}


def optim_config(args):
    """The update rule's config from the flags: the learning rate, and momentum / weight decay when given."""
    config = {"learning_rate": args.learning_rate}
    if args.momentum is not None:
        config["momentum"] = args.momentum
    if args.weight_decay:
        config["weight_decay"] = args.weight_decay
    return config


def lr_scales(args, model):
    """The Solver's lr_scales from --lr-scale and --score-scale (None: every rate the same)."""
    scales = dict(args.lr_scale or ())
    if args.score_scale != 1.0:
        last = last_layer_names(model)
        overlap = [(pattern, name) for pattern in scales for name in last if fnmatch.fnmatch(name, pattern)]
        if overlap:
            raise ValueError(f"--score-scale sets the learning rate of {' and '.join(last)}; "
                             f"--lr-scale {overlap[0][0]!r} also matches {overlap[0][1]}")
        scales.update(dict.fromkeys(last, args.score_scale ** 2))
    return scales or None


def make_solver(args, model, data, out):
    """The Solver that trains ``model`` on ``data`` as the command line says, checkpointing into
    the folder ``out`` (``bench/recipe_torch_accuracy.py`` trains PyTorch's net with this one)."""
    return Solver(model, data, update_rule=args.update_rule,
                  optim_config=optim_config(args), lr_decay=args.lr_decay,
                  lr_schedule=args.schedule, warmup_epochs=args.warmup_epochs,
                  num_epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                  checkpoint_name=str(pathlib.Path(out) / "checkpoint"), verbose=args.verbose,
                  print_every=100,
                  augment=functools.partial(flip_and_crop, pad=args.crop_pad) if args.augment else None,
                  engine=args.engine, threads=args.threads,
                  lr_scales=lr_scales(args, model), sampling=args.sampling, lookahead=args.lookahead)


def accuracies_on_test_set(args, solver, data):
    """The trained model's accuracy on the test set: ``test_acc`` with the test-time augmentation
    the command asks for, and with --tta also ``test_acc_without_tta``, with --tta-translate also
    ``test_acc_flip_only`` (the flip alone)."""
    X, y = data["X_test"], data["y_test"]
    accuracies = {"test_acc": solver.check_accuracy(X, y, flip=args.tta, translate=args.tta_translate)}
    if args.tta:
        accuracies["test_acc_without_tta"] = solver.check_accuracy(X, y)
    if args.tta_translate:
        accuracies["test_acc_flip_only"] = solver.check_accuracy(X, y, flip=True)
    return accuracies


def newest_checkpoint(out):
    """The checkpoint of the highest epoch in ``out``, or None."""
    found = []
    for path in out.glob("checkpoint_epoch_*.pkl"):
        match = re.fullmatch(r"checkpoint_epoch_(\d+)\.pkl", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def load_data(args):
    """The data dict of get_CIFAR10_data, with mean_image, and the input scale: the model's input is
    (raw_images - data["mean_image"]) / scale (1.0 without --normalize)."""
    from .data_utils import get_CIFAR10_data
    kwargs = {"num_training": args.num_train, "num_validation": args.num_val,
              "num_test": args.num_test, "dtype": np.dtype(args.dtype), "with_mean_image": True}
    if args.data is not None:
        kwargs["cifar10_dir"] = args.data
    data = get_CIFAR10_data(**kwargs)
    scale = 1.0
    if args.normalize:
        scale = float(data["X_train"].std(dtype=np.float64))
        for key in ("X_train", "X_val", "X_test"):
            data[key] *= np.asarray(1.0 / scale, dtype=data[key].dtype)
    return data, scale


def last_layer_names(model):
    """The names of the parameters of the layer that gives the scores: ``["W7", "b7"]``."""
    last = max(int(name[1:]) for name in model.params if re.fullmatch(r"W\d+", name))
    return [name for name in (f"W{last}", f"b{last}") if name in model.params]


def build_model(args):
    np.random.seed(args.seed)  # the weights are drawn from NumPy's global generator, as in CS231n
    if args.model == "convnet":
        model = ConvNet(args.spec, input_dim=(3, 32, 32), weight_scale=args.weight_scale, reg=args.reg,
                        dtype=np.dtype(args.dtype), backend=args.backend, seed=args.seed,
                        label_smoothing=args.label_smoothing)
        if args.dirac_init:
            dirac_init(model)
        if args.score_scale != 1.0:
            for name in last_layer_names(model):  # the equivalent form: lr_scales() does the rest
                model.params[name] *= model.params[name].dtype.type(args.score_scale)
        return model
    return ThreeLayerConvNet(num_filters=args.num_filters, filter_size=args.filter_size,
                             hidden_dim=args.hidden_dim, weight_scale=args.weight_scale,
                             reg=args.reg, dtype=np.dtype(args.dtype), backend=args.backend)


def prepare_output(args):
    """Create --out; on --resume check the settings match and return the checkpoint to load."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "config.json"
    settings = run_settings(args)
    checkpoint = None
    if args.resume:
        checkpoint = newest_checkpoint(out)
        if checkpoint is None:
            raise SystemExit(f"--resume: no checkpoint_epoch_*.pkl in {out}; run without --resume to start")
        saved = json.loads(config_path.read_text())
        defaults = vars(parse_args([]))  # a run from before a setting existed used its default
        changed = {k: (saved.get(k, defaults[k]), v) for k, v in settings.items() if saved.get(k, defaults[k]) != v}
        if changed:
            raise SystemExit(f"--resume: the run in {out} used other settings: "
                             + ", ".join(f"{k} was {a!r}, now {b!r}" for k, (a, b) in changed.items()))
    elif newest_checkpoint(out) is not None:
        if not args.overwrite:
            raise SystemExit(f"{out} already holds checkpoints: pass --resume to continue that run, "
                             f"--overwrite to start afresh, or choose another --out")
        for old in out.glob("checkpoint_epoch_*.pkl"):
            old.unlink()
    config_path.write_text(json.dumps(settings, indent=2) + "\n")
    return out, checkpoint


def main(argv=None):
    args = parse_args(argv)
    try:
        xp = resolve_backend(args.backend)  # fail now if cupy was asked for and cannot run
        model = build_model(args)  # before the data: a bad --spec should not wait for a load
        data, input_scale = load_data(args)
    except (BackendUnavailableError, FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    out, checkpoint = prepare_output(args)
    if args.threads is not None:
        threadpool_limits(args.threads)  # for the rest of this process
    try:
        solver = make_solver(args, model, data, out)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    if checkpoint is not None:
        solver.load_checkpoint(checkpoint)
        print(f"resumed from {checkpoint} (epoch {solver.epoch})")
    print(f"training {args.model} on {len(data['X_train'])} images for {args.epochs} epoch(s) "
          f"on {xp.__name__}")
    started = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - started
    print(f"training engine: {solver.engine_note}")
    metrics = {
        "epochs": solver.epoch,
        "final_train_acc": solver.train_acc_history[-1],
        "best_val_acc": solver.best_val_acc,
        **accuracies_on_test_set(args, solver, data),
        "train_seconds_this_run": round(seconds, 1),
        "backend": xp.__name__,
        "engine": solver.engine_note,
        # What trained the model (config.json holds every setting; these are the recipe's).
        "recipe": {"update_rule": args.update_rule, "learning_rate": args.learning_rate, "momentum": args.momentum,
                   "weight_decay": args.weight_decay, "label_smoothing": args.label_smoothing,
                   "schedule": args.schedule, "warmup_epochs": args.warmup_epochs, "lr_decay": args.lr_decay,
                   "lr_scale": dict(args.lr_scale or ()), "score_scale": args.score_scale,
                   "sampling": args.sampling, "dirac_init": args.dirac_init, "lookahead": args.lookahead,
                   "augment": args.augment, "crop_pad": args.crop_pad if args.augment else None, "tta": args.tta,
                   "tta_translate": args.tta_translate},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    # The solver left the best validation parameters in the model: the checkpoint to submit.
    save_checkpoint(out / "best_model.npz", model, mean_image=data["mean_image"], scale=input_scale,
                    reported_accuracy=solver.best_val_acc)
    plot_history(solver, out / "history.png")
    plot_filters(model.params["W1"], out / "filters.png")
    print(json.dumps(metrics, indent=2))
    print(f"plots and checkpoints in {out}/")
    return metrics


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
