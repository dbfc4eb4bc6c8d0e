"""The Solver trains a classification model with minibatch gradient descent (CS231n's API).

A model is anything with ``params`` (a dict name -> array) and
``loss(X, y=None)``: scores (N, C) when y is None, else ``(loss, grads)`` with
one gradient per parameter. The Solver draws minibatches from NumPy arrays on
the host and moves each to the model's device once per step, so the same
training loop runs on NumPy and on CuPy; losses and accuracies are kept as
Python floats.

Training engine: by default (``engine="auto"``) the Solver computes each step's loss and
gradients with ``engine.TrainingEngine`` when it supports the model (ThreeLayerConvNet and
ConvNet spec nets of the notes' pattern), and updates Adam's parameters in place, several
times faster on a CPU. It first checks, on the first minibatch, that the engine agrees with
``model.loss``; if it does not (or the model is another kind), every step uses
``model.loss``, so the Solver never trains anything other than the model's own loss.
``engine="off"`` always uses ``model.loss``; ``threads=k`` splits each minibatch across
k threads of the engine.

Example (``data`` holds X_train, y_train, X_val, y_val)::

    solver = Solver(model, data, update_rule="adam",
                    optim_config={"learning_rate": 1e-3},
                    num_epochs=1, batch_size=50, print_every=20)
    solver.train()
    solver.best_val_acc, solver.loss_history[-1]
"""

import fnmatch
import math
import os
import pickle
import tempfile

from tqdm.auto import tqdm

from . import optim
from .augment import shifted
from .backend import get_array_module, np, to_device, to_numpy
from .engine import EngineUnsupported, TrainingEngine

_DEFAULTS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "seed": None,  # an addition to CS231n: a seed makes minibatch sampling repeatable
    "augment": None,  # an addition: augment(X_batch, rng) -> X_batch, on the host, each step
    "engine": "auto",  # an addition: "auto", "on" or "off", the training engine (module docstring)
    "threads": None,  # an addition: the engine's threads per minibatch (None: one)
    "lr_schedule": "step",  # an addition: "step" (lr_decay each epoch, CS231n's), "linear" or "cosine"
    "warmup_epochs": 0,  # an addition: linear warm-up before a "linear" or "cosine" decay
    "sampling": "replacement",  # an addition: "replacement" (CS231n's) or "permutation" (each epoch)
    "lookahead": False,  # an addition: airbench's weight averaging every LOOKAHEAD_EVERY steps
    "lr_scales": None,  # an addition: {name pattern: factor}, a learning rate per parameter
}
ENGINE_CHOICES = ("auto", "on", "off")
SAMPLINGS = ("replacement", "permutation")
# lookahead (airbench's, Jordan 2024): every LOOKAHEAD_EVERY steps the weights are pulled back to
# a moving average of themselves, average = decay * average + (1 - decay) * weights, with a decay
# of LOOKAHEAD_DECAY * progress ** 3 (progress: the fraction of training done), so that early
# steps move freely and the last ones are averaged; the final weights are the average.
LOOKAHEAD_EVERY = 5
LOOKAHEAD_DECAY = 0.95 ** 5
SCHEDULES = ("step", "linear", "cosine")
_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


def schedule_factor(schedule, iteration, num_iterations, warmup_iterations=0):
    """The learning rate of ``iteration`` (0-based) as a fraction of the peak, for a schedule
    "linear" or "cosine": a linear warm-up over the first ``warmup_iterations`` (from
    1 / warmup_iterations up to 1), then a linear or half-cosine decay that would reach 0 at
    ``num_iterations`` (the last iteration still takes a small step).

    >>> [round(schedule_factor("linear", t, 6, warmup_iterations=2), 3) for t in range(6)]
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    """
    if iteration < warmup_iterations:
        return (iteration + 1) / warmup_iterations
    progress = (iteration - warmup_iterations) / (num_iterations - warmup_iterations)
    if schedule == "linear":
        return 1.0 - progress
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"schedule must be 'linear' or 'cosine', got {schedule!r}")


def lr_scale_of_each_parameter(names, lr_scales):
    """name -> the factor of its learning rate under ``lr_scales`` (the Solver's: fnmatch
    patterns -> factors), 1.0 for the names no pattern matches. Raises ValueError for a pattern
    that matches no name, a name two patterns match, or a factor that is not a number >= 0."""
    scale = dict.fromkeys(names, 1.0)
    if not lr_scales:
        return scale
    if not isinstance(lr_scales, dict):
        raise TypeError(f"lr_scales must be a dict of name patterns to factors, got {lr_scales!r}")
    matched_by = {}
    for pattern, factor in lr_scales.items():
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 0:
            raise ValueError(f"lr_scales[{pattern!r}] must be a number >= 0, got {factor!r}")
        matches = fnmatch.filter(names, pattern)
        if not matches:
            raise ValueError(f"lr_scales pattern {pattern!r} matches no parameter; the model's are {names}")
        for name in matches:
            if name in matched_by:
                raise ValueError(f"parameter {name!r} matches two lr_scales patterns, "
                                 f"{matched_by[name]!r} and {pattern!r}")
            matched_by[name] = pattern
            scale[name] = float(factor)
    return scale


def per_parameter_configs(optim_config, lr_scale):
    """name -> a copy of ``optim_config`` whose learning rate is times ``lr_scale[name]``
    (the Solver's ``lr_scales``) and whose ``weight_decay`` is divided by it, so that
    sgd_nesterov's decay per step, learning_rate * weight_decay, stays the same; a factor of 0
    freezes the parameter, decay included."""
    configs = {}
    for name, factor in lr_scale.items():
        config = configs[name] = dict(optim_config)
        if factor != 1.0:
            config["learning_rate"] *= factor
            if factor and config.get("weight_decay"):
                config["weight_decay"] /= factor
    return configs


class Solver:
    """Trains ``model`` on ``data``; see the module docstring.

    Keyword arguments (CS231n's names and defaults): update_rule ('sgd', or any
    name in ``optim.UPDATE_RULES``, or a function), optim_config, lr_decay,
    batch_size, num_epochs, num_train_samples (subsample for the train accuracy
    check), num_val_samples (None: all), checkpoint_name (save a checkpoint every
    epoch when set), print_every, verbose (print progress; when False, a progress
    bar), seed, augment (a function ``(X_batch, rng) -> X_batch`` applied to each
    training minibatch on the host, e.g. ``augment.flip_and_crop``), engine ("auto": the
    training engine where it applies and agrees with model.loss; "on": the engine or an
    error saying why not; "off": model.loss) and threads (the engine splits each minibatch
    across this many threads, one BLAS thread each), lr_schedule ("step": multiply the learning
    rate by lr_decay after each epoch, CS231n's; "linear" or "cosine": set it at every iteration
    to optim_config's learning_rate times :func:`schedule_factor`, a warm-up of warmup_epochs
    then a decay to zero at the end of training) and warmup_epochs (a number of epochs, may be
    fractional), lr_scales (a dict of fnmatch patterns of parameter names to factors, e.g.
    ``{"beta*": 64, "gamma*": 0}``: each matching parameter's learning rate is the schedule's
    times its factor, a factor of 0 freezing it; the step, not sgd_nesterov's decoupled weight
    decay, which stays ``learning_rate * weight_decay`` of the parameter per step; each pattern
    must match a parameter and no parameter two patterns). Unknown keyword arguments raise TypeError.

    After ``train()``: loss_history, train_acc_history, val_acc_history,
    best_val_acc, best_params; the model holds the best validation parameters.
    ``engine`` is the TrainingEngine in use (None before the first step or when off) and
    ``engine_note`` says which path the steps take and why.
    """

    def __init__(self, model, data, **kwargs):
        unknown = sorted(set(kwargs) - set(_DEFAULTS))
        if unknown:
            raise TypeError(f"Solver got unknown arguments {unknown}; allowed: {sorted(_DEFAULTS)}")
        missing = [k for k in _DATA_KEYS if k not in data]
        if missing:
            raise ValueError(f"data must hold {list(_DATA_KEYS)}; missing {missing}")
        if not getattr(model, "params", None):
            raise TypeError("model must have a non-empty params dict and a loss(X, y=None) method")
        options = {**_DEFAULTS, **kwargs}
        self.model = model
        self.X_train, self.y_train = np.asarray(to_numpy(data["X_train"])), np.asarray(to_numpy(data["y_train"]))
        self.X_val, self.y_val = np.asarray(to_numpy(data["X_val"])), np.asarray(to_numpy(data["y_val"]))
        for split, X, y in (("train", self.X_train, self.y_train), ("val", self.X_val, self.y_val)):
            if len(X) != len(y) or len(X) == 0:
                raise ValueError(f"X_{split} and y_{split} must be non-empty and of one length, "
                                 f"got {len(X)} and {len(y)}")
        self.update_rule = self._find_update_rule(options["update_rule"])
        self.optim_config = dict(options["optim_config"] or {})
        self.lr_decay = options["lr_decay"]
        self.batch_size = options["batch_size"]
        self.num_epochs = options["num_epochs"]
        self.num_train_samples = options["num_train_samples"]
        self.num_val_samples = options["num_val_samples"]
        self.checkpoint_name = options["checkpoint_name"]
        self.print_every = options["print_every"]
        self.verbose = options["verbose"]
        self.augment = options["augment"]
        if self.augment is not None and not callable(self.augment):
            raise TypeError(f"augment must be a function (X_batch, rng) -> X_batch, got {self.augment!r}")
        # Augmentation draws from its own generator, so adding it leaves minibatch sampling unchanged.
        self._augment_rng = np.random.default_rng(options["seed"])
        if options["seed"] is None:
            self._rng = np.random  # the global generator, so np.random.seed() works as in CS231n
        else:
            self._rng = np.random.default_rng(options["seed"])
        for name in ("batch_size", "num_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if options["engine"] not in ENGINE_CHOICES:
            raise ValueError(f"engine must be one of {ENGINE_CHOICES}, got {options['engine']!r}")
        threads = options["threads"]
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        self.engine_choice, self.threads = options["engine"], threads
        self.lr_schedule, self.warmup_epochs = options["lr_schedule"], options["warmup_epochs"]
        self._check_schedule()
        self.lr_scale = self._lr_scale_of_each_parameter(options["lr_scales"])
        if options["sampling"] not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {options['sampling']!r}")
        self.sampling = options["sampling"]
        if not isinstance(options["lookahead"], bool):
            raise ValueError(f"lookahead must be True or False, got {options['lookahead']!r}")
        self.lookahead = options["lookahead"]
        self._shuffled = np.empty(0, dtype=np.intp)  # with "permutation": the images still to come
        self.engine = None
        self.engine_note = "not chosen yet (the first training step chooses)"
        self._engine_checked = options["engine"] == "off"
        if self._engine_checked:
            self.engine_note = "off (engine='off'): every step uses model.loss"
        self._reset()

    def _check_schedule(self):
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}")
        warmup = self.warmup_epochs
        if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not 0 <= warmup < self.num_epochs:
            raise ValueError(f"warmup_epochs must be a number with 0 <= warmup_epochs < num_epochs "
                             f"({self.num_epochs}), got {warmup!r}")
        if self.lr_schedule == "step":
            if warmup:
                raise ValueError("warmup_epochs goes with lr_schedule 'linear' or 'cosine', not 'step'")
            return
        if self.lr_decay != 1.0:
            raise ValueError(f"lr_decay ({self.lr_decay}) is the 'step' schedule's; lr_schedule "
                             f"{self.lr_schedule!r} sets the learning rate itself")
        if "learning_rate" not in self.optim_config:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} scales optim_config['learning_rate']: give one")

    def _lr_scale_of_each_parameter(self, lr_scales):
        if lr_scales and "learning_rate" not in self.optim_config:
            raise ValueError("lr_scales scales optim_config['learning_rate']: give one")
        return lr_scale_of_each_parameter(list(self.model.params), lr_scales)

    @staticmethod
    def _find_update_rule(rule):
        if callable(rule):
            return rule
        if rule not in optim.UPDATE_RULES:
            raise ValueError(f"unknown update_rule {rule!r}; choose one of {sorted(optim.UPDATE_RULES)}")
        return optim.UPDATE_RULES[rule]

    def _reset(self):
        """Set up the book-keeping; also called by the constructor."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.best_bn_state = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.lookahead_average = None  # with lookahead: the weights' moving average, once training starts
        self.optim_configs = per_parameter_configs(self.optim_config, self.lr_scale)

    @property
    def xp(self):
        """The array module of the model's parameters (numpy or cupy)."""
        return get_array_module(next(iter(self.model.params.values())))

    def _step(self):
        """One gradient update on a random minibatch. Called by train(); not for outside use."""
        batch = self._next_minibatch()
        X_host = self.X_train[batch]
        if self.augment is not None:
            X_host = self.augment(X_host, self._augment_rng)
        X_batch = to_device(X_host, self.xp)  # one host-to-device copy per step
        y_batch = to_device(self.y_train[batch], self.xp)
        engine = self._choose_engine(X_batch, y_batch)
        if engine is None:
            loss, grads = self.model.loss(X_batch, y_batch)
        else:
            loss, grads = engine.loss(X_batch, y_batch)
        self.loss_history.append(float(loss))
        if engine is not None and engine.update_in_place(self.update_rule, self.optim_configs):
            return  # every parameter updated at once, in place (Adam or SGD with Nesterov momentum)
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w

    def _next_minibatch(self):
        """The training indices of the next step's minibatch."""
        num_train = self.X_train.shape[0]
        if self.sampling == "replacement":
            return self._rng.choice(num_train, self.batch_size)
        if len(self._shuffled) < self.batch_size:  # the rest of a shuffle is dropped: a fresh one
            self._shuffled = self._rng.permutation(num_train)
        batch, self._shuffled = self._shuffled[:self.batch_size], self._shuffled[self.batch_size:]
        return batch

    def _choose_engine(self, X_batch, y_batch):
        """The engine for the steps, or None for model.loss; decided once, on the first minibatch."""
        if self._engine_checked:
            return self.engine
        self._engine_checked = True
        try:
            engine = TrainingEngine(self.model, threads=self.threads or 1)
        except EngineUnsupported as why:
            if self.engine_choice == "on":
                raise
            self.engine_note = f"off: {why}; every step uses model.loss"
        else:
            agrees, difference = engine.agrees_with_model(X_batch, y_batch)
            if agrees:
                self.engine = engine
                self.engine_note = f"on ({engine.threads} thread{'s' * (engine.threads > 1)})"
            elif self.engine_choice == "on":
                raise ValueError(f"the training engine disagrees with model.loss on the first minibatch: {difference}")
            else:
                engine.close()
                self.engine_note = (f"off: the engine disagrees with model.loss on the first minibatch "
                                    f"({difference}); every step uses model.loss")
        self._log(f"(training engine: {self.engine_note})")
        return self.engine

    def check_accuracy(self, X, y, num_samples=None, batch_size=100, flip=False, translate=0):
        """Fraction of ``X`` (host arrays) the model classifies correctly, as a float.

        num_samples: evaluate on a random subsample of this size (None: all of X).
        flip: test-time augmentation: classify by the average of the scores of each image
        and of its mirror image (left-right), the flip that augmentation trains on.
        translate: with flip, also average in the images shifted by this many pixels up-left
        and down-right (each with its mirror; airbench's second level): the scores are half
        the plain pair's and half the shifted pairs' mean.
        """
        if translate and not flip:
            raise ValueError("translate is a second level of test-time augmentation: it goes with flip=True")
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            keep = self._rng.choice(N, num_samples)
            N, X, y = num_samples, X[keep], y[keep]
        score = self.model.loss if self.engine is None else self.engine.loss

        def scores_with_mirror(X_batch):
            scores = score(to_device(X_batch, self.xp))
            if flip:
                # Made contiguous on the host, so that moving it to a GPU is one plain copy.
                mirrored = score(to_device(np.ascontiguousarray(X_batch[..., ::-1]), self.xp))
                scores = (scores + mirrored) / 2
            return scores
        predictions = []
        for start in range(0, N, batch_size):
            X_batch = X[start:start + batch_size]
            scores = scores_with_mirror(X_batch)
            if translate:
                moved = [scores_with_mirror(shifted(X_batch, d, d)) for d in (-translate, translate)]
                scores = scores / 2 + (moved[0] + moved[1]) / 4
            predictions.append(to_numpy(scores.argmax(axis=1)))
        return float(np.mean(np.concatenate(predictions) == y))

    def _record_accuracies(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
            self.best_bn_state = bn_state(self.model)  # the running statistics that go with them
        return train_acc, val_acc

    def train(self):
        """Run the optimization for num_epochs, then swap in the best validation parameters."""
        iterations_per_epoch = max(self.X_train.shape[0] // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        first = self.epoch * iterations_per_epoch  # > 0 after load_checkpoint
        bar = tqdm(total=num_iterations, initial=first, disable=self.verbose, unit="batch",
                   desc="training")
        if first == 0:
            train_acc, val_acc = self._record_accuracies()
            self._log(f"(Epoch 0 / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        warmup_iterations = min(round(self.warmup_epochs * iterations_per_epoch), num_iterations - 1)
        if self.lookahead and self.lookahead_average is None:  # from the initial weights
            self.lookahead_average = {name: w.copy() for name, w in self.model.params.items()}
        for t in range(first, num_iterations):
            if self.lr_schedule != "step":
                rate = self.optim_config["learning_rate"] * schedule_factor(
                    self.lr_schedule, t, num_iterations, warmup_iterations)
                for name, config in self.optim_configs.items():
                    config["learning_rate"] = rate * self.lr_scale[name]
            self._step()
            if self.lookahead:
                self._lookahead(t + 1, num_iterations)
            bar.update(1)
            bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", refresh=False)
            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
            if (t + 1) % iterations_per_epoch == 0:
                self.epoch += 1
                if self.lr_schedule == "step":
                    for config in self.optim_configs.values():
                        config["learning_rate"] = config.get("learning_rate", 1e-2) * self.lr_decay
                train_acc, val_acc = self._record_accuracies()
                bar.set_postfix(loss=f"{self.loss_history[-1]:.3f}", val_acc=f"{val_acc:.3f}")
                self._log(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                          f"val_acc: {val_acc:f}")
                self._save_checkpoint()
        bar.close()
        self.model.params = self.best_params
        restore_bn_state(self.model, self.best_bn_state)

    def _lookahead(self, steps_done, num_iterations):
        """After step ``steps_done`` (1-based): every LOOKAHEAD_EVERY steps and after the last,
        average and pull the weights back to the average, in place (the engine's views stay)."""
        params = self.model.params
        if steps_done % LOOKAHEAD_EVERY and steps_done < num_iterations:
            return
        decay = LOOKAHEAD_DECAY * (steps_done / num_iterations) ** 3 if steps_done < num_iterations else 1.0
        for name, w in params.items():
            average = self.lookahead_average[name]
            average += (1 - decay) * (w - average)
            w[...] = average

    def _log(self, message):
        if self.verbose:
            print(message)

    # ------------------------------------------------------------------ checkpoints

    def _save_checkpoint(self):
        """Write ``{checkpoint_name}_epoch_{epoch}.pkl`` atomically, with arrays as NumPy arrays."""
        if self.checkpoint_name is None:
            return None
        checkpoint = {
            "params": {k: to_numpy(v) for k, v in self.model.params.items()},
            "best_params": {k: to_numpy(v) for k, v in self.best_params.items()},
            "bn_state": _host_bn_state(bn_state(self.model)),
            "best_bn_state": _host_bn_state(self.best_bn_state),
            "optim_configs": {name: {k: to_numpy(v) if hasattr(v, "shape") else v
                                     for k, v in config.items()}
                              for name, config in self.optim_configs.items()},
            "update_rule": getattr(self.update_rule, "__name__", str(self.update_rule)),
            "lr_decay": self.lr_decay,
            "lr_schedule": self.lr_schedule,
            "warmup_epochs": self.warmup_epochs,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "best_val_acc": self.best_val_acc,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "lookahead_average": None if self.lookahead_average is None else
            {k: to_numpy(v) for k, v in self.lookahead_average.items()},
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        folder = os.path.dirname(os.path.abspath(filename))
        os.makedirs(folder, exist_ok=True)
        # Write beside the target and rename: a crash never leaves half a checkpoint.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(checkpoint, f)
            os.replace(tmp, filename)
        except BaseException:
            os.unlink(tmp)
            raise
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        return filename

    def load_checkpoint(self, filename):
        """Resume from a checkpoint written by this Solver, on this Solver's backend.

        Restores the parameters, the optimizer state, the epoch and the histories;
        ``train()`` then continues with the next epoch.
        """
        with open(filename, "rb") as f:
            checkpoint = pickle.load(f)
        xp = self.xp
        if set(checkpoint["params"]) != set(self.model.params):
            raise ValueError(f"checkpoint {filename} holds parameters {sorted(checkpoint['params'])}, "
                             f"the model has {sorted(self.model.params)}")
        self.model.params = {k: to_device(v, xp) for k, v in checkpoint["params"].items()}
        self.best_params = {k: to_device(v, xp) for k, v in checkpoint["best_params"].items()}
        restore_bn_state(self.model, checkpoint.get("bn_state", {}))
        self.best_bn_state = checkpoint.get("best_bn_state", {})
        self.optim_configs = {name: {k: to_device(v, xp) if hasattr(v, "shape") else v
                                     for k, v in config.items()}
                              for name, config in checkpoint["optim_configs"].items()}
        for key in ("epoch", "best_val_acc", "loss_history", "train_acc_history", "val_acc_history"):
            setattr(self, key, checkpoint[key])
        average = checkpoint.get("lookahead_average")
        self.lookahead_average = None if average is None else {k: to_device(v, xp) for k, v in average.items()}


def bn_state(model):
    """Copies of the running statistics of a model's batch normalizations: {K: {"running_mean",
    "running_var"}}, {} for a model without any (they are state, not parameters: no update rule
    touches them, so the best parameters need their own snapshot)."""
    from .classifiers import ConvNet  # the models import the layers; avoid a cycle
    if not isinstance(model, ConvNet):  # not a probe of any model's attributes: a grader's Remote
        return {}                       # proxy of a student's model answers with the student's error
    return {number: {key: bn_param[key].copy() for key in ("running_mean", "running_var")}
            for number, bn_param in model.bn_params.items()}


def restore_bn_state(model, state):
    """Put a ``bn_state`` back into the model, on the model's backend."""
    xp = get_array_module(next(iter(model.params.values())))
    for number, stats in state.items():
        model.bn_params[number].update({key: to_device(value.copy(), xp) for key, value in stats.items()})


def _host_bn_state(state):
    return {number: {key: to_numpy(value) for key, value in stats.items()} for number, stats in state.items()}

