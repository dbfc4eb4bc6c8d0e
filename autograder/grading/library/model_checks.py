"""Checks of the train_cifar10 assignment: ThreeLayerConvNet's parameters, loss and gradients.

The model is tiny (2x6x6 inputs, 3 filters, 5 hidden units, 4 classes) and in float64, so
that its numerical gradient is exact enough to judge the student's. ``loss`` is called on an
instance made without ``__init__`` (the attributes the given code sets), so a wrong
``__init__`` costs only its own checks. The model runs on the student's own layers.
"""

import numpy as np

from cs231n_lib.classifiers import cnn

from .answers import Lost
from .checks import NUMERICAL, Checks, expect, task_checks
from .diagnosis import Layout, Verdict
from .numerical import compare_with_numerical, plan_probe
from .plan import Instance

MODEL = "classifiers.cnn.ThreeLayerConvNet"
INPUT_DIM, FILTERS, FILTER_SIZE, HIDDEN, CLASSES = (2, 6, 6), 3, 3, 5, 4
PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def _reference_model(params: dict, reg: float):
    model = object.__new__(cnn.ThreeLayerConvNet)
    model.reg, model.dtype, model.filter_size, model.input_dim = reg, np.dtype(np.float64), FILTER_SIZE, INPUT_DIM
    model.params = {name: value.copy() for name, value in params.items()}
    return model


def _student_model(params: dict, reg: float) -> Instance:
    return Instance(MODEL, {"reg": reg, "dtype": np.dtype(np.float64), "filter_size": FILTER_SIZE,
                            "input_dim": INPUT_DIM, "params": dict(params)})


def _expected_shapes() -> dict:
    model = cnn.ThreeLayerConvNet(input_dim=INPUT_DIM, num_filters=FILTERS, filter_size=FILTER_SIZE,
                                  hidden_dim=HIDDEN, num_classes=CLASSES, dtype=np.float64, backend="numpy")
    return {name: tuple(value.shape) for name, value in model.params.items()}


@task_checks("classifiers.cnn.ThreeLayerConvNet.__init__")
def init_checks(c: Checks):
    weight_scale = float(c.rng.uniform(0.2, 0.5))
    key = c.call("construct", function=MODEL, numpy_seed=int(c.rng.integers(2**31)), result_attribute="params",
                 kwargs={"input_dim": INPUT_DIM, "num_filters": FILTERS, "filter_size": FILTER_SIZE,
                         "hidden_dim": HIDDEN, "num_classes": CLASSES, "weight_scale": weight_scale,
                         "dtype": np.dtype(np.float64), "backend": "numpy"})
    shapes = _expected_shapes()

    def params(answers) -> dict:
        returned = answers.returned(key)
        missing = [name for name in shapes if not returned.has(f"r.{name}")]
        if missing:
            raise Lost(f"self.params has no {', '.join(missing)}; expected {', '.join(shapes)}")
        return {name: returned.array(f"r.{name}", shape, f"params['{name}']") for name, shape in shapes.items()}

    c.add("parameter names and shapes", 2, lambda a: (params(a), Verdict(True))[1])

    def biases(answers):
        nonzero = [name for name, value in params(answers).items() if name.startswith("b") and value.any()]
        if nonzero:
            return Verdict(False, f"{', '.join(nonzero)} should start as zeros")
        return Verdict(True)
    c.add("biases start at zero", 1, biases)

    def weights(answers):
        values = np.concatenate([v.ravel() for n, v in params(answers).items() if n.startswith("W")])
        std, mean = float(values.std()), float(values.mean())
        if 0.75 * weight_scale <= std <= 1.3 * weight_scale and abs(mean) <= 0.3 * weight_scale:
            return Verdict(True)
        return Verdict(False, f"the weights have mean {mean / weight_scale:.2g} and standard deviation "
                              f"{std / weight_scale:.2g} in units of weight_scale; expected about 0 and 1 "
                              f"(weight_scale times standard normal draws, np.random.randn)")
    c.add("weights are weight_scale times standard normal draws", 1, weights)


@task_checks("classifiers.cnn.ThreeLayerConvNet.loss")
def loss_checks(c: Checks):
    shapes = _expected_shapes()
    params = {name: c.normal(*shape, scale=0.5 if name.startswith("W") else 0.1) for name, shape in shapes.items()}
    X = c.normal(3, *INPUT_DIM)
    y = c.rng.integers(0, CLASSES, size=3)
    loss_method = MODEL + ".loss"

    scores_key = c.call("scores", _student_model(params, 0.0), X, function=loss_method)
    scores = _reference_model(params, 0.0).loss(X.copy())
    layout = Layout(axis_names=("example", "class"), channel_axis=1, channel_word="class", bias=params["b3"])
    c.add("scores when y is None", 2, lambda a: expect(a, scores_key, "r", scores, "scores", layout))

    key = c.call("loss and gradients", _student_model(params, 0.0), X, y, function=loss_method)
    loss, grads = _reference_model(params, 0.0).loss(X.copy(), y.copy())
    c.add("loss", 2, lambda a: expect(a, key, "r.0", np.array(loss), "loss"))
    for pair in (("W1", "b1"), ("W2", "b2"), ("W3", "b3")):
        c.add(f"gradients of {' and '.join(pair)}", 1, lambda a, p=pair: _all(
            expect(a, key, f"r.1.{n}", grads[n], f"grads['{n}']") for n in p))

    reg = float(c.rng.uniform(0.05, 0.2))
    reg_key = c.call("with regularization", _student_model(params, reg), X, y, function=loss_method)
    reg_loss, reg_grads = _reference_model(params, reg).loss(X.copy(), y.copy())
    c.add("loss and gradients with regularization", 1, lambda a: _all(
        [expect(a, reg_key, "r.0", np.array(reg_loss), "loss")] +
        [expect(a, reg_key, f"r.1.{n}", reg_grads[n], f"grads['{n}']") for n in PARAM_NAMES]))

    probe = plan_probe(c.plan, f"{c.task}/numerical", loss_method,
                       lambda nudged: (_student_model({**params, **nudged}, 0.0), X, y),
                       params, c.rng, samples=3, output_path="r.0", output_shape=(), timeout=c.call_timeout,
                       expected=grads)

    def numerical(answers):
        returned = answers.returned(key)
        analytic = {n: returned.array(f"r.1.{n}", params[n].shape, f"grads['{n}']") for n in PARAM_NAMES}
        # relu and max pooling have kinks: one sampled entry per parameter may sit on one.
        return compare_with_numerical(probe, answers, None, analytic, "loss", grads, allowed_misses=1)
    c.add("gradients agree with the numerical gradient of your loss", 1, numerical, kind=NUMERICAL)


def _all(verdicts) -> Verdict:
    verdicts = list(verdicts)
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return Verdict(True, None, max((v.max_error or 0.0) for v in verdicts))
    return Verdict(False, "; ".join(v.diagnosis for v in failed if v.diagnosis),
                   max((v.max_error or 0.0) for v in failed))
