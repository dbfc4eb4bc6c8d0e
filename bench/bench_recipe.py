"""The 90%-in-30-minutes recipe's training step, the engine against PyTorch CPU eager, side by side.

The recipe is read from ``train.RECIPE_90`` (the command of docs/training.md): its net, built by
``train.build_model`` (identity-initialized convs, the last layer scaled), its batch, its
augmentation and its optimizer settings. Ours is that ``ConvNet`` trained by the engine (the
Solver's path); PyTorch's is built FROM THE SAME SPEC by ``torch_net`` (one function maps each
spec layer to its torch module) and starts from our initial weights, so the two nets are the same
by construction (the script checks their scores agree before timing). Both take the same
minibatches, the same augmentation (``augment.flip_and_crop`` on the host, inside the timed
step for both), SGD with Nesterov momentum and decoupled weight decay with the recipe's
per-parameter learning rates (ours: ``optim.sgd_nesterov`` in place on the Solver's
``per_parameter_configs``; PyTorch: ``torch.optim.SGD(nesterov=True)``, one parameter group per
parameter, after the same ``p *= 1 - lr * weight_decay``), label smoothing in the softmax loss and
the warm-up then linear decay of the learning rate (``solver.schedule_factor``), set at every
step on both sides. Not timed: lookahead's averaging every 5 steps (two passes over 0.56 M
parameters, under a millisecond) and the evaluations.

Timed: ``--steps`` training steps per call, at 1 and 2 threads in the same run (ours: the
engine's threads, one BLAS thread each; PyTorch: ``torch.set_num_threads``), each figure a
median over rounds in which the two take turns (``common.paired_median_seconds``). Printed:
the epoch time on 49,000 images (steps per epoch times the step time) and the ratio PyTorch /
engine (above 1: the engine is faster), then a per-layer profile of each at 1 thread: the
engine's per-stage timers (forward and backward of each fused stage, the update) and
``torch.profiler``'s operators grouped by input shape (each conv layer has its own).

    .venv/bin/python bench/bench_recipe.py                      # the recipe's net, batch 512
    .venv/bin/python bench/bench_recipe.py --batch 256 --steps 2 --repeats 3   # a short setting
    .venv/bin/python bench/bench_recipe.py --spec "CONV3-64 -> BN -> RELU -> POOL2 -> ... -> FC"

BN: ``torch_net`` maps the spec's BN to ``BatchNorm2d``/``BatchNorm1d`` with the CONV/FC before
it bias-free, as our ConvNet does.
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch

from common import ROOT, gemm_peak_gflops, limit_threads, paired_median_seconds, report

sys.path.insert(0, str(ROOT))
from cs231n_lib import layer_spec, optim, train  # noqa: E402
from cs231n_lib.architecture import summarize  # noqa: E402
from cs231n_lib.augment import flip_and_crop  # noqa: E402
from cs231n_lib.classifiers.convnet import volume_shapes  # noqa: E402
from cs231n_lib.engine import ConvStage, TrainingEngine  # noqa: E402
from cs231n_lib.solver import lr_scale_of_each_parameter, per_parameter_configs, schedule_factor  # noqa: E402

RECIPE = train.parse_args(list(train.RECIPE_90))  # the recipe's settings, as the command reads them
TRAIN_IMAGES = 49_000


def recipe_model(spec):
    """The recipe's ConvNet for ``spec`` (its initialization: identity convs, the scaled last layer)
    and each parameter's config: name -> the update rule's settings."""
    args = train.parse_args([*train.RECIPE_90, "--spec", spec])
    model = train.build_model(args)
    scale = lr_scale_of_each_parameter(list(model.params), train.lr_scales(args, model))
    return model, per_parameter_configs(train.optim_config(args), scale), scale


# ----------------------------------------------------------------------------- the same net twice

def torch_net(model, with_names=False):
    """``model``'s layers (a kit ConvNet) as a torch.nn.Sequential holding the same weights
    (and, with_names, also name -> its torch parameter: W1 -> the first conv's weight, ...).

    CONV -> Conv2d (bias only when the ConvNet has one: not before BN), POOL -> MaxPool2d /
    AvgPool2d, RELU -> ReLU, BN -> BatchNorm2d after a CONV, BatchNorm1d after an FC (eps and
    momentum as CS231n's batchnorm_forward defaults), FC -> Flatten (the first) + Linear
    (our W is (D, units), torch's weight its transpose).
    """
    nn = torch.nn
    modules, shape, flat, names = [], model.input_dim, False, {}
    for position, (layer, out_shape) in enumerate(zip(model.layers, volume_shapes(model.layers, model.input_dim))):
        number = model.param_index.get(position)
        W = model.params.get(f"W{number}")
        b = model.params.get(f"b{number}")
        if isinstance(layer, layer_spec.Conv):
            conv = nn.Conv2d(shape[0], layer.filters, layer.size, stride=layer.stride, padding=layer.pad,
                             dilation=layer.dilation, bias=b is not None)
            _copy(conv, W, b)
            modules.append(conv)
            names.update({f"W{number}": conv.weight, f"b{number}": conv.bias})
        elif isinstance(layer, layer_spec.Pool):
            if layer.kind not in ("max", "avg"):
                raise ValueError(f"{layer.name}: PyTorch has no {layer.kind} pool module")
            pool = nn.MaxPool2d if layer.kind == "max" else nn.AvgPool2d
            modules.append(pool(layer.size, stride=layer.stride))
        elif isinstance(layer, layer_spec.Relu):
            modules.append(nn.ReLU())
        elif isinstance(layer, layer_spec.BatchNorm):
            number = model.bn_index[position]
            norm = (nn.BatchNorm1d if flat else nn.BatchNorm2d)(shape[0], eps=1e-5, momentum=0.1)
            _copy(norm, model.params[f"gamma{number}"], model.params[f"beta{number}"])
            modules.append(norm)
            names.update({f"gamma{number}": norm.weight, f"beta{number}": norm.bias})
        elif isinstance(layer, layer_spec.FC):
            if not flat:
                modules.append(nn.Flatten())
                flat = True
            linear = nn.Linear(math.prod(shape), layer.units, bias=b is not None)
            _copy(linear, W.T, b)
            modules.append(linear)
            names.update({f"W{number}": linear.weight, f"b{number}": linear.bias})
        else:
            raise ValueError(f"layer {position + 1} ({layer.name}) has no PyTorch mapping here")
        shape = out_shape
    net = nn.Sequential(*modules)
    return (net, {name: names[name] for name in model.params}) if with_names else net


def _copy(module, W, b):
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
        if b is not None:
            module.bias.copy_(torch.from_numpy(b))


# ----------------------------------------------------------------------------- one training step each

class Recipe:
    """The batches, augmentation and schedule both contenders share."""

    def __init__(self, batch, steps, seed=0):
        rng = np.random.default_rng(seed)
        self.batches = [(rng.standard_normal((batch, 3, 32, 32), dtype=np.float32), rng.integers(10, size=batch))
                        for _ in range(steps)]
        self.steps_per_epoch = max(TRAIN_IMAGES // batch, 1)  # as the Solver counts an epoch
        self.total = RECIPE.epochs * self.steps_per_epoch  # the learning rate of step t of a whole run
        self.warmup = round(RECIPE.warmup_epochs * self.steps_per_epoch)

    def learning_rate(self, t):
        return RECIPE.learning_rate * schedule_factor(RECIPE.schedule, t % self.total, self.total, self.warmup)

    def augment(self, X, rng):
        return flip_and_crop(X, rng, pad=RECIPE.crop_pad)


def engine_steps(spec, recipe, threads):
    model, configs, scale = recipe_model(spec)
    engine = TrainingEngine(model, threads=threads)
    rng, counter = np.random.default_rng(1), [0]

    def run():
        for X, y in recipe.batches:
            rate = recipe.learning_rate(counter[0])
            for name, config in configs.items():
                config["learning_rate"] = rate * scale[name]
            engine.loss(recipe.augment(X, rng), y)
            engine.update_in_place(optim.sgd_nesterov, configs)
            counter[0] += 1
    return run, engine


def torch_steps(spec, recipe):
    model, configs, scale = recipe_model(spec)
    net, torch_params = torch_net(model, with_names=True)
    groups = [{"params": [torch_params[name]], "name": name} for name in model.params]
    optimizer = torch.optim.SGD(groups, lr=RECIPE.learning_rate, momentum=RECIPE.momentum, nesterov=True)
    rng, counter = np.random.default_rng(1), [0]

    def run():
        for X, y in recipe.batches:
            rate = recipe.learning_rate(counter[0])
            for group in optimizer.param_groups:
                group["lr"] = rate * scale[group["name"]]
            optimizer.zero_grad(set_to_none=True)
            scores = net(torch.from_numpy(recipe.augment(X, rng)))
            loss = torch.nn.functional.cross_entropy(scores, torch.from_numpy(y),
                                                     label_smoothing=RECIPE.label_smoothing)
            loss.backward()
            with torch.no_grad():  # decoupled weight decay, as optim.sgd_nesterov: lr * weight_decay per step
                for group in optimizer.param_groups:
                    config = configs[group["name"]]
                    group["params"][0].mul_(1 - group["lr"] * config.get("weight_decay", 0.0))
            optimizer.step()
            counter[0] += 1
    return run, net


def check_same_net(spec):
    """Our scores and PyTorch's on one batch, before any step: the mapping is right or this stops."""
    model, _, _ = recipe_model(spec)
    X = np.random.default_rng(2).standard_normal((4, 3, 32, 32), dtype=np.float32)
    ours = TrainingEngine(model).loss(X)
    with torch.no_grad():
        theirs = torch_net(model).eval()(torch.from_numpy(X)).numpy()
    error = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    if not error < 1e-4:
        raise SystemExit(f"the PyTorch net built from the spec differs from ours: relative error {error:.3g}")
    return error


# ----------------------------------------------------------------------------- profiles

def stage_name(stage):
    """The layers one engine stage fuses, e.g. ``CONV3-64 +BN +RELU +POOL2`` (BN stages subclass the others)."""
    bn = " +BN" * type(stage).__name__.startswith("BatchNorm")
    if isinstance(stage, ConvStage):
        conv = stage.conv
        return f"CONV{conv.size}-{conv.filters}" + bn + " +RELU" * stage.relu + " +POOL2" * stage.pool
    return f"FC {stage.D}->{stage.M}" + bn + " +RELU" * stage.relu


def engine_profile(spec, recipe):
    """Seconds per step in each stage's forward and backward and in the update, at 1 thread."""
    run, engine = engine_steps(spec, recipe, threads=1)
    run()  # warm-up: buffers allocated
    spent = {}

    def timed(label, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start
        return wrapper
    for index, stage in enumerate(engine.stages):
        name = f"{index + 1}. {stage_name(stage)}"
        stage.forward = timed(f"{name} forward", stage.forward)
        stage.backward = timed(f"{name} backward", stage.backward)
    engine.update_in_place = timed("update (Nesterov + weight decay, in place)", engine.update_in_place)
    start = time.perf_counter()
    run()
    total = time.perf_counter() - start
    steps = len(recipe.batches)
    spent["rest (augmentation, softmax loss, gradient sums)"] = total - sum(spent.values())
    return [(label, seconds / steps) for label, seconds in spent.items()], total / steps


def torch_profile(spec, recipe, rows):
    """torch.profiler's operators by input shape, self CPU seconds per step, at 1 thread."""
    from torch.profiler import ProfilerActivity, profile
    run, _ = torch_steps(spec, recipe)
    run()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        start = time.perf_counter()
        run()
        total = time.perf_counter() - start
    steps = len(recipe.batches)
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    table = []
    for event in events[:rows]:
        shapes = [s for s in event.input_shapes if s][:2]
        table.append((f"{event.key} {shapes}", event.self_cpu_time_total / 1e6 / steps))
    return table, total / steps


def markdown_profile(title, rows, step_seconds):
    lines = [f"{title} (one step {step_seconds * 1e3:.0f} ms; profiled times include the timers' overhead)", "",
             "| part | ms per step | share |", "|---|---|---|"]
    lines += [f"| {label} | {seconds * 1e3:.1f} | {seconds / step_seconds:.0%} |" for label, seconds in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=RECIPE.spec)
    parser.add_argument("--batch", type=int, default=RECIPE.batch_size)
    parser.add_argument("--steps", type=int, default=3, help="training steps per timed call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="thread counts, timed in this order")
    parser.add_argument("--profile-rows", type=int, default=14)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    error = check_same_net(args.spec)
    recipe = Recipe(args.batch, args.steps)
    model, _, _ = recipe_model(args.spec)
    # A training step's work: forward, input gradient and weight gradient, about 3x the forward's.
    step_gflop = 3 * summarize(model.spec).flops * args.batch / 1e9
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        with limit_threads(threads):
            ours, _ = engine_steps(args.spec, recipe, threads)
            theirs, _ = torch_steps(args.spec, recipe)
            seconds = paired_median_seconds({"engine": ours, "torch": theirs}, repeats=args.repeats, warmup=1,
                                            settle=0.2 if threads > 1 else 0.0)
        peak = gemm_peak_gflops(threads)  # under the same load, just after
        per_step = {name: value / args.steps for name, value in seconds.items()}
        epoch = {name: value * recipe.steps_per_epoch for name, value in per_step.items()}
        rows.append((threads, args.batch, f"{epoch['engine']:.0f}", f"{epoch['torch']:.0f}",
                     f"{epoch['torch'] / epoch['engine']:.2f}",
                     f"{args.batch / per_step['engine']:.0f}", f"{args.batch / per_step['torch']:.0f}",
                     f"{step_gflop / per_step['engine']:.0f}", f"{step_gflop / per_step['engine'] / peak:.0%}",
                     f"{peak:.0f}"))
        print(f"{threads} thread(s): engine {epoch['engine']:.0f} s/epoch, PyTorch {epoch['torch']:.0f} s/epoch",
              flush=True)
    with limit_threads(1):
        ours_profile, ours_step = engine_profile(args.spec, recipe)
        torch_rows, torch_step = torch_profile(args.spec, recipe, args.profile_rows)
    load_after = os.getloadavg()
    notes = (f"Spec: `{model.spec}` (parameters: {sum(v.size for v in model.params.values()):,}). "
             f"Same net in PyTorch built from the spec by `torch_net` (scores agree to {error:.1e} relative). "
             f"The recipe's settings (`train.RECIPE_90`): batch {args.batch}, flip + {RECIPE.crop_pad}-pixel crop "
             f"on the host, SGD Nesterov (momentum {RECIPE.momentum}, decoupled weight decay {RECIPE.weight_decay}, "
             f"per-parameter rates {dict(RECIPE.lr_scale)} and the last layer's {RECIPE.score_scale ** 2:.4f}), "
             f"label smoothing {RECIPE.label_smoothing}, linear warm-up and decay set every step. "
             f"Epoch = {recipe.steps_per_epoch} steps of {TRAIN_IMAGES:,} images "
             f"(training steps only: no evaluation); a step is about {step_gflop:.0f} GFLOP (3x the forward's "
             f"multiply-adds x 2); GEMM peak: NumPy's float32 2048x2048 matmul at the same threads, measured right "
             f"after. Medians of {args.repeats} rounds of {args.steps} steps each, "
             f"the two contenders in turns. Ratio above 1: the engine is faster. Load average (1, 5, 15 min) "
             f"before {tuple(round(x, 1) for x in load_before)}, after {tuple(round(x, 1) for x in load_after)} "
             f"(2 cores, shared).\n\n"
             + markdown_profile("Engine, 1 thread, per stage", ours_profile, ours_step) + "\n\n"
             + markdown_profile(f"PyTorch, 1 thread, torch.profiler self CPU time, top {args.profile_rows} "
                                "operators by input shape (layers of the same shapes share a row)", torch_rows, torch_step))
    report("Recipe training step, engine vs PyTorch eager (CPU, float32, SGD Nesterov)", args.threads,
           ["threads", "batch", "engine s/epoch", "PyTorch s/epoch", "PyTorch / engine time",
            "engine images/s", "PyTorch images/s", "engine GFLOP/s", "of GEMM peak", "GEMM peak GFLOP/s"],
           rows, notes=notes)
    return rows


if __name__ == "__main__":
    main()
