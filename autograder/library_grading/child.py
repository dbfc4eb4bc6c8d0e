"""The program that runs INSIDE the sandbox: call the student's functions, write what they return.

Usage (the grader runs it; nothing here is meant for people)::

    python -I -S child.py EXCHANGE_IN EXCHANGE_OUT LIBRARY_ROOT PACKAGES

It reads ``EXCHANGE_IN/plan.json`` (the calls) and ``EXCHANGE_IN/inputs.npz`` (their arrays,
``allow_pickle=False``), imports ``cs231n_lib`` from ``LIBRARY_ROOT`` only, and for each call
appends one JSON line to ``EXCHANGE_OUT/status.jsonl`` and writes the returned arrays to
``EXCHANGE_OUT/call-NNNN.npz``. Results are written call by call, so a run killed halfway
keeps what it finished. This program never sees a reference result: it has nothing to
compare with, and everything it writes is checked by the trusted parent, which treats it as
untrusted (the student's code shares this process and may have changed anything in it).

Stand-alone on purpose: standard library and NumPy only, no import of the autograder.

Plan format: ``{"calls": [call, ...]}``, each call ``{"module": "layers", "qualname":
"conv_forward_naive", "args": [...], "kwargs": {...}, "timeout": seconds, "numpy_seed": int
or null, "result_attribute": name or null}``. Arguments are JSON scalars or tagged objects:
``{"array": key}`` (a fresh copy of an input array, optionally with ``"perturb": [[flat
index, delta], ...]``), ``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": {...}}``,
``{"dtype": "float64"}``, ``{"object": {"module": m, "qualname": q, "attrs": {...}}}``
(an instance made without calling ``__init__``).
"""

import importlib
import json
import os
import signal
import sys
import time
import traceback

MAX_LEAVES = 64        # a return value is a few arrays; more is garbage
MAX_DEPTH = 4
MAX_MESSAGE = 600      # characters kept of an exception message
MAX_ARRAY_BYTES = 8 * 2**20   # graded arrays are tiny: a bigger one is garbage, not worth the file-size limit


class CallTimedOut(BaseException):
    """Raised by the alarm in the student's code; a BaseException so ``except Exception`` misses it."""


class LibraryOutsideRoot(Exception):
    pass


def main(argv):
    exchange_in, exchange_out, library_root, packages = argv[1:5]
    sys.path[:] = [p for p in sys.path if p.startswith(sys.base_prefix)] + [packages]
    import numpy as np  # before the student's code, from the environment's packages only

    status = open(os.path.join(exchange_out, "status.jsonl"), "a", encoding="utf-8")

    def record(entry):
        status.write(json.dumps(entry) + "\n")
        status.flush()

    with open(os.path.join(exchange_in, "plan.json"), encoding="utf-8") as handle:
        plan = json.load(handle)
    inputs = dict(np.load(os.path.join(exchange_in, "inputs.npz"), allow_pickle=False))

    record({"event": "import", "status": "started"})
    root = os.path.realpath(library_root)
    sys.path.append(root)
    try:
        library = importlib.import_module("cs231n_lib")
        _require_inside(library, root)
    except BaseException as error:  # SystemExit and KeyboardInterrupt included: report, do not die
        record({"event": "import", "status": "error", **_describe(error)})
        return 0
    record({"event": "import", "status": "ok"})

    signal.signal(signal.SIGALRM, _on_alarm)
    # A function that timed out once (an infinite loop, most often) is not called again: its
    # other calls would each burn the per-call limit until the run's wall clock killed the
    # child, and the functions planned after it would lose their checks too.
    timed_out = set()
    for index, call in enumerate(plan["calls"]):
        started = time.monotonic()
        entry = {"event": "call", "index": index}
        function_key = (call["module"], call["qualname"])
        if function_key in timed_out:
            entry.update(status="timeout", error_type="TimeoutError", seconds=0.0,
                         message="not called again: an earlier call of it took longer than "
                                 f"{call.get('timeout')} s")
            record(entry)
            continue
        try:
            function = _resolve(call["module"], call["qualname"], root)
            args = _decode(call.get("args", []), inputs, root, np)
            kwargs = _decode({"dict": call.get("kwargs", {})}, inputs, root, np)
            if call.get("numpy_seed") is not None:
                np.random.seed(call["numpy_seed"])
            signal.setitimer(signal.ITIMER_REAL, float(call.get("timeout", 5.0)))
            try:
                value = function(*args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if call.get("result_attribute"):
                value = getattr(value, call["result_attribute"])
            arrays, leaves = {}, {}
            _flatten(value, "r", arrays, leaves, 0, np)
            np.savez(os.path.join(exchange_out, f"call-{index:04d}.npz"), **arrays)
            entry.update(status="ok", leaves=leaves)
        except CallTimedOut:
            timed_out.add(function_key)
            entry.update(status="timeout", error_type="TimeoutError",
                         message=f"the call took longer than {call.get('timeout')} s")
        except BaseException as error:  # the student's exception, whatever it is
            entry.update(status="error", **_describe(error))
        entry["seconds"] = round(time.monotonic() - started, 4)
        record(entry)
    record({"event": "done"})
    status.close()
    return 0


def _on_alarm(signum, frame):
    raise CallTimedOut()


def _require_inside(module, root):
    location = os.path.realpath(getattr(module, "__file__", None) or "")
    if not location.startswith(root + os.sep):
        raise LibraryOutsideRoot(f"{module.__name__} was imported from {location or 'nowhere'}, "
                                 f"not from the submitted library")


def _resolve(module_name, qualname, root):
    module = importlib.import_module(f"cs231n_lib.{module_name}")
    _require_inside(module, root)
    target = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _decode(value, inputs, root, np):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, inputs, root, np) for v in value]
    if "array" in value:
        return _array(value, inputs, np)
    (tag, body), = value.items()
    if tag == "tuple":
        return tuple(_decode(v, inputs, root, np) for v in body)
    if tag == "list":
        return [_decode(v, inputs, root, np) for v in body]
    if tag == "dict":
        return {k: _decode(v, inputs, root, np) for k, v in body.items()}
    if tag == "dtype":
        return np.dtype(body)
    if tag == "object":
        cls = _resolve(body["module"], body["qualname"], root)
        instance = object.__new__(cls)
        for name, attr in body["attrs"].items():
            setattr(instance, name, _decode(attr, inputs, root, np))
        return instance
    raise ValueError(f"unknown argument tag {tag!r}")


def _array(spec, inputs, np):
    # A fresh copy for every call: a function that writes into its input cannot spoil the next call.
    array = np.array(inputs[spec["array"]], copy=True)
    flat = array.reshape(-1)
    for flat_index, delta in spec.get("perturb", []):
        flat[flat_index] += delta
    return array


def _flatten(value, path, arrays, leaves, depth, np):
    if len(leaves) >= MAX_LEAVES or depth > MAX_DEPTH:
        raise ValueError("the return value is nested too deeply or holds too many parts")
    if isinstance(value, (tuple, list)):
        leaves[path] = type(value).__name__
        for i, item in enumerate(value):
            _flatten(item, f"{path}.{i}", arrays, leaves, depth + 1, np)
    elif isinstance(value, dict):
        leaves[path] = "dict"
        for key, item in value.items():
            _flatten(item, f"{path}.{key}", arrays, leaves, depth + 1, np)
    elif isinstance(value, (np.ndarray, np.generic, int, float)) and not isinstance(value, bool):
        array = np.array(value)  # a plain ndarray, whatever subclass came in
        if array.nbytes > MAX_ARRAY_BYTES:
            leaves[path] = f"array of {array.nbytes} bytes (too large)"
        elif array.dtype.kind in "biuf":
            arrays[path] = array
            leaves[path] = "array"
        else:
            leaves[path] = f"array of {array.dtype}"
    else:
        leaves[path] = type(value).__name__


def _describe(error):
    message = str(error)
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + " [...]"
    frames = traceback.extract_tb(error.__traceback__)
    # The innermost frame in the student's library says where to look; paths inside are theirs.
    where = next((f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames)
                  if "cs231n_lib" in f.filename), None)
    return {"error_type": type(error).__name__, "message": message, "where": where}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
