"""The calls the child makes, as the parent plans them: JSON for the calls, one .npz for arrays.

Checks write calls in plain Python (``plan.call(key, "layers.relu_forward", x)``); arrays are
stored once however many calls use them (a numerical gradient reuses one input in dozens of
calls, each with one entry nudged: :class:`Perturbed`). See ``child.py`` for the format.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

REFERENCE_ROOT = Path(__file__).resolve().parents[2] / "cs231n_lib"


@dataclasses.dataclass(frozen=True)
class Perturbed:
    """``base`` with ``base.flat[index] += delta`` for each (index, delta), made by the child."""
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
    encoded: dict            # what the child reads


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
    """Every call of one student's run, in order, with the arrays they use."""

    def __init__(self):
        self.calls: list[PlannedCall] = []
        self._arrays: dict[str, np.ndarray] = {}
        self._key_of_array: dict[int, str] = {}
        self._keep_alive: list[np.ndarray] = []   # id() is only unique while the object lives

    def call(self, key: str, function: str, *args, kwargs: dict | None = None, timeout: float = 2.0,
             numpy_seed: int | None = None, result_attribute: str | None = None) -> str:
        if any(c.key == key for c in self.calls):
            raise ValueError(f"call key {key!r} planned twice")
        module, qualname = split_function_name(function)
        encoded = {"module": module, "qualname": qualname,
                   "args": [self._encode(a) for a in args],
                   "kwargs": {k: self._encode(v) for k, v in (kwargs or {}).items()},
                   "timeout": float(timeout), "numpy_seed": numpy_seed,
                   "result_attribute": result_attribute}
        self.calls.append(PlannedCall(key=key, function=function, encoded=encoded))
        return key

    def index_of(self) -> dict[str, int]:
        return {call.key: index for index, call in enumerate(self.calls)}

    def write(self, folder: Path) -> None:
        """plan.json and inputs.npz in ``folder`` (the sandbox's read-only exchange folder)."""
        folder = Path(folder)
        (folder / "plan.json").write_text(json.dumps({"calls": [c.encoded for c in self.calls]}),
                                          encoding="utf-8")
        np.savez(folder / "inputs.npz", **self._arrays)

    def _array_key(self, array: np.ndarray) -> str:
        key = self._key_of_array.get(id(array))
        if key is None:
            key = f"a{len(self._arrays)}"
            self._arrays[key] = np.ascontiguousarray(array)
            self._key_of_array[id(array)] = key
            self._keep_alive.append(array)
        return key

    def _encode(self, value):
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise TypeError(f"plan arrays must be numeric, got {value.dtype}")
            return {"array": self._array_key(value)}
        if isinstance(value, Perturbed):
            return {"array": self._array_key(value.base),
                    "perturb": [[int(i), float(d)] for i, d in value.changes]}
        if isinstance(value, Instance):
            module, qualname = split_function_name(value.task_class + ".__init__")
            return {"object": {"module": module, "qualname": qualname.rsplit(".", 1)[0],
                               "attrs": {k: self._encode(v) for k, v in value.attrs.items()}}}
        if isinstance(value, np.dtype):
            return {"dtype": value.name}
        if isinstance(value, tuple):
            return {"tuple": [self._encode(v) for v in value]}
        if isinstance(value, list):
            return {"list": [self._encode(v) for v in value]}
        if isinstance(value, dict):
            return {"dict": {str(k): self._encode(v) for k, v in value.items()}}
        if isinstance(value, (np.integer, np.floating)):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot send {type(value).__name__} to the child")
