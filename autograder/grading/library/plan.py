"""The calls the student's library gets, as the parent plans them: in order, with their arguments.

Checks write calls in plain Python (``plan.call(key, "layers.relu_forward", x)``). Two kinds
of argument are made only when the call is sent: :class:`Perturbed` (an input with one
entry nudged, for numerical gradients) and :class:`Instance` (an object of a library class
made without ``__init__``, so a wrong ``__init__`` costs only its own checks).
"""

import dataclasses

import numpy as np

from ...course import LIBRARY, REPO_ROOT
from ..remote import ByValue

REFERENCE_ROOT = REPO_ROOT / LIBRARY


@dataclasses.dataclass(frozen=True)
class Perturbed:
    """``base`` with ``base.flat[index] += delta`` for each (index, delta)."""
    base: np.ndarray
    changes: tuple[tuple[int, float], ...]


@dataclasses.dataclass(frozen=True)
class Instance:
    """An object of a library class with these attributes, made without calling ``__init__``."""
    task_class: str          # "classifiers.cnn.ThreeLayerConvNet"
    attrs: dict


@dataclasses.dataclass(frozen=True)
class PlannedCall:
    key: str
    function: str            # task-style name: "layers.conv_forward_naive"
    args: tuple
    kwargs: dict
    timeout: float
    numpy_seed: int | None   # the student's np.random is seeded with it first
    result_attribute: str | None   # what to keep of the returned object ("params" of a new model)


def split_function_name(name: str) -> tuple[str, str]:
    """("classifiers.cnn", "ThreeLayerConvNet.loss") for "classifiers.cnn.ThreeLayerConvNet.loss".

    The longest dotted prefix that is a module file of the library is the module (as tasks.toml).
    """
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        if REFERENCE_ROOT.joinpath(*parts[:split - 1], parts[split - 1] + ".py").is_file():
            return ".".join(parts[:split]), ".".join(parts[split:])
    raise ValueError(f"{name!r} names no module of the library")


class Plan:
    """Every call of one student's run, in order."""

    def __init__(self):
        self.calls: list[PlannedCall] = []
        self._keys: set[str] = set()

    def call(self, key: str, function: str, *args, kwargs: dict | None = None, timeout: float = 2.0,
             numpy_seed: int | None = None, result_attribute: str | None = None) -> str:
        if key in self._keys:
            raise ValueError(f"call key {key!r} planned twice")
        split_function_name(function)   # fail now, not when the call is sent
        self._keys.add(key)
        self.calls.append(PlannedCall(key, function, args, dict(kwargs or {}), float(timeout), numpy_seed,
                                      result_attribute))
        return key

    def index_of(self) -> dict[str, int]:
        return {call.key: index for index, call in enumerate(self.calls)}


def as_sent(value):
    """``value`` as the call sends it: nudged inputs made, planned instances as library objects."""
    if isinstance(value, Perturbed):
        array = np.array(value.base, dtype=np.float64 if value.base.dtype.kind != "f" else value.base.dtype)
        flat = array.reshape(-1)
        for index, delta in value.changes:
            flat[index] += delta
        return array
    if isinstance(value, Instance):
        module, qualname = split_function_name(value.task_class + ".__init__")
        return ByValue(f"{LIBRARY}.{module}:{qualname.rsplit('.', 1)[0]}",
                       {name: as_sent(attr) for name, attr in value.attrs.items()})
    if isinstance(value, tuple):
        return tuple(as_sent(v) for v in value)
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    if isinstance(value, dict):
        return {k: as_sent(v) for k, v in value.items()}
    return value
