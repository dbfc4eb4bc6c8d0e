"""The wire between the grader and a student's process: frames of JSON plus raw array bytes.

This file stands alone (standard library and NumPy only): the program in the sandbox loads
the same file, so both sides speak one format from one source.

A frame is ``MAGIC``, the JSON length (4 bytes) and the payload length (8 bytes), both big
endian, then the JSON text (UTF-8), then the payload (the bytes of every array the message
carries, back to back). A message is a JSON object; values inside it are *nodes*:

==============================  ===========================================================
node                            value
==============================  ===========================================================
JSON null, true, number, string None, bool, int, float, str
``{"f": "nan"}``                a float that JSON cannot write (``nan``, ``inf``, ``-inf``)
``{"t": [node, ...]}``          tuple
``{"l": [node, ...]}``          list
``{"d": [[key, value], ...]}``  dict (keys are nodes of hashable values)
``{"a": [offset, nbytes],       NumPy array: ``dt`` a little-endian dtype string, ``sh`` its
``"dt": "<f8", "sh": [2, 3]}``  shape, the bytes at ``offset`` in the payload
``{"s": ["<f8", value]}``       NumPy scalar (``value`` a number, or a ``{"f": ...}`` node)
``{"y": ["<f8", is_type]}``     a NumPy dtype, or with ``is_type`` its scalar type (``np.float64``)
``{"h": id, "ty": name,         an object that stays in the student's process, named by a
``"c": callable}``              handle (sent by the student's process only)
``{"r": id}``                   a handle sent back to the process that made it
``{"o": [class, node]}``        an object sent by value: ``class`` is ``module:qualname`` and
                                the node its ``__dict__`` (sent by the grader only)
==============================  ===========================================================

The reader trusts nothing: it checks the magic, the lengths against :class:`Limits`, the
nesting depth of the JSON *before* parsing it, each node's form, each array's dtype, shape
and byte range. Whatever does not fit raises :class:`WireError`.
"""

import dataclasses
import json
import math
import os
import re
import select
import struct
import time

import numpy as np

MAGIC = b"CSW1"
HEADER = struct.Struct(">4sIQ")
# Numeric dtypes an array may have on the wire (little-endian, as every machine here is).
DTYPES = frozenset({"|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8",
                    "<c8", "<c16"})
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class WireError(Exception):
    """The other side broke the protocol (or a value cannot be sent); the message says how."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """How much one frame may carry: what the grader accepts from a student's process."""
    json_bytes: int = 8 * 2**20
    payload_bytes: int = 512 * 2**20
    depth: int = 24           # nesting of JSON containers (each node is 1 or 2 levels)
    nodes: int = 200_000
    string_chars: int = 2**20


# ----------------------------------------------------------------------------- frames

def encode_frame(message: dict, payload: list) -> bytes:
    """One frame: ``message`` as JSON and the array buffers it refers to, in order."""
    text = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    body = b"".join(buffer if buffer.size else b"" for buffer in payload)   # C-contiguous arrays
    return HEADER.pack(MAGIC, len(text), len(body)) + text + body


class PayloadRefused(Exception):
    """A frame's payload was read and dropped, not kept: the reader's budget had no room for it.
    The protocol is intact; ``message`` is the frame's (parsed) message."""

    def __init__(self, reason: str, message: dict):
        super().__init__(reason)
        self.message = message


class FrameReader:
    """Reads frames from a file descriptor, each within a deadline and within :class:`Limits`.

    ``budget`` (optional) bounds the payload bytes held at once: ``budget.admit(nbytes)`` returns
    None or why there is no room (then the payload is read and dropped: :class:`PayloadRefused`),
    and ``budget.hold(buffer)`` is told of each payload kept (a NumPy array of bytes).
    """

    def __init__(self, fd: int, limits: Limits = Limits(), budget=None):
        self.fd = fd
        self.limits = limits
        self.budget = budget

    def read(self, deadline: float | None = None) -> tuple[dict, np.ndarray]:
        """The next (message, payload: uint8 array); raises TimeoutError past ``deadline`` (time.monotonic)."""
        magic, json_length, payload_length = HEADER.unpack(bytes(self._exactly(HEADER.size, deadline)))
        if magic != MAGIC:
            raise WireError(f"expected a frame starting with {MAGIC!r}, got {magic!r}")
        if json_length > self.limits.json_bytes or payload_length > self.limits.payload_bytes:
            raise WireError(f"a frame of {json_length} + {payload_length} bytes is larger than the limits "
                            f"({self.limits.json_bytes} + {self.limits.payload_bytes})")
        message = parse_json(bytes(self._exactly(json_length, deadline)), self.limits)
        refused = None if self.budget is None else self.budget.admit(payload_length)
        if refused is not None:
            self._discard(payload_length, deadline)
            raise PayloadRefused(refused, message)
        payload = self._exactly(payload_length, deadline)
        if self.budget is not None:
            self.budget.hold(payload)
        return message, payload

    def _exactly(self, count: int, deadline: float | None) -> np.ndarray:
        """``count`` bytes, read straight into one buffer (no second copy of a large payload)."""
        buffer = np.empty(count, dtype=np.uint8)
        view, filled = memoryview(buffer), 0
        while filled < count:
            self._wait(deadline)
            got = os.readv(self.fd, [view[filled:filled + 2**20]])
            if not got:
                raise EOFError("the other side closed the connection")
            filled += got
        return buffer

    def _discard(self, count: int, deadline: float | None) -> None:
        remaining = count
        while remaining:
            self._wait(deadline)
            chunk = os.read(self.fd, min(remaining, 2**20))
            if not chunk:
                raise EOFError("the other side closed the connection")
            remaining -= len(chunk)

    def _wait(self, deadline: float | None) -> None:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise TimeoutError("no answer before the deadline")


def write_all(fd: int, data: bytes, deadline: float | None = None) -> None:
    """Write all of ``data``; with a ``deadline`` (time.monotonic), raise TimeoutError past it.

    A deadline needs ``fd`` non-blocking (``os.set_blocking(fd, False)``): a blocking write of
    more than a pipe's buffer waits, however long, for a reader that may have stopped reading.
    """
    view = memoryview(data)
    while view:
        if deadline is not None:
            _, ready, _ = select.select([], [fd], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("the other side stopped reading before the deadline")
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue   # the buffer filled between select and write: wait again
        view = view[written:]


def parse_json(text: bytes, limits: Limits) -> dict:
    """The JSON object in ``text``, its nesting checked before the (recursive) parser sees it."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("the message is not UTF-8") from None
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(decoded):
        symbol = token.group()
        if symbol in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif symbol in "]}":
            depth -= 1
    if deepest > limits.depth:
        raise WireError(f"the message nests {deepest} levels deep; at most {limits.depth} are accepted")
    try:
        message = json.loads(decoded)
    except (ValueError, RecursionError) as error:
        raise WireError(f"the message is not valid JSON ({type(error).__name__})") from None
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


# ----------------------------------------------------------------------------- values

class Encoder:
    """Turns a value into a node, collecting array bytes for the payload.

    ``handle_of(obj)`` gives the handle node of an object that is not plain data; without it,
    such objects cannot be sent. ``object_by_value(obj)`` may return ``(class, state)`` for
    objects to send whole (the grader sends library objects this way).
    """

    def __init__(self, handle_of=None, object_by_value=None, max_depth: int = 10):
        self.payload: list = []
        self.offset = 0
        self.handle_of = handle_of
        self.object_by_value = object_by_value
        self.max_depth = max_depth

    def node(self, value, containers_as_handles: bool = False, depth: int = 0):
        """``containers_as_handles``: a top-level dict or list stays behind (a live view)."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"f": repr(value)}
        if isinstance(value, np.generic) and value.dtype.str in DTYPES:
            item = value.item()
            if isinstance(item, complex):
                return self._array(np.asarray(value))
            return {"s": [value.dtype.str, item if not isinstance(item, float) or math.isfinite(item)
                          else {"f": repr(item)}]}
        if isinstance(value, np.ndarray) and _wire_dtype(value.dtype) is not None:
            return self._array(value)
        if isinstance(value, np.dtype) and _wire_dtype(value) is not None:
            return {"y": [_wire_dtype(value), False]}
        if isinstance(value, type) and issubclass(value, np.generic) and _wire_dtype(np.dtype(value)) is not None:
            return {"y": [_wire_dtype(np.dtype(value)), True]}
        if depth < self.max_depth and not (containers_as_handles and isinstance(value, (dict, list))):
            if isinstance(value, tuple):
                return {"t": [self.node(v, depth=depth + 1) for v in value]}
            if isinstance(value, (list, type({}.keys()), type({}.values()), type({}.items()), range)):
                return {"l": [self.node(v, depth=depth + 1) for v in value]}
            if isinstance(value, dict):
                return {"d": [[self.node(k, depth=depth + 1), self.node(v, depth=depth + 1)]
                              for k, v in value.items()]}
        if self.object_by_value is not None:
            whole = self.object_by_value(value)
            if whole is not None:
                cls, state = whole
                return {"o": [cls, self.node(state, depth=depth + 1)]}
        if self.handle_of is not None:
            return self.handle_of(value)
        raise WireError(f"cannot send a {type(value).__name__}: only numbers, strings, NumPy arrays, "
                        f"tuples, lists and dicts of them cross to the student's code")

    def _array(self, array: np.ndarray):
        array = np.ascontiguousarray(array)
        dtype = _wire_dtype(array.dtype)
        if array.dtype.str != dtype:
            array = array.astype(dtype)
        self.payload.append(array)
        node = {"a": [self.offset, array.nbytes], "dt": dtype, "sh": list(array.shape)}
        self.offset += array.nbytes
        return node


def _wire_dtype(dtype: np.dtype) -> str | None:
    """The wire's spelling of ``dtype`` (native byte order made explicit), None when not numeric."""
    if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        return None
    name = np.dtype(dtype).newbyteorder("<").str if dtype.itemsize > 1 else dtype.str
    return name if name in DTYPES else None


class Decoder:
    """Turns nodes back into values, checking every one; ``payload`` is the frame's bytes.

    ``handle(node)`` builds the value of a handle node, ``ref(id)`` the value of a ref node,
    ``instance(class, state)`` an object sent by value; a kind of node without its builder is
    refused. ``writable`` copies arrays (the student's code may write into its inputs); the
    grader keeps them as read-only views of the payload.
    """

    def __init__(self, payload: bytes, limits: Limits = Limits(), handle=None, ref=None, instance=None,
                 writable: bool = False):
        self.payload = payload
        self.limits = limits
        self.handle, self.ref, self.instance = handle, ref, instance
        self.writable = writable
        self.count = 0

    def value(self, node, depth: int = 0):
        self.count += 1
        if self.count > self.limits.nodes:
            raise WireError(f"more than {self.limits.nodes} values in one message")
        if depth > self.limits.depth:
            raise WireError("values nested too deeply")
        if node is None or isinstance(node, (bool, int, float)):
            return node
        if isinstance(node, str):
            if len(node) > self.limits.string_chars:
                raise WireError(f"a string of {len(node)} characters is longer than the limit")
            return node
        if not isinstance(node, dict) or len(node) not in (1, 3):
            raise WireError(f"expected a value node, got {type(node).__name__}")
        if "a" in node:
            return self._array(node)
        if len(node) == 3 and "h" in node and self.handle is not None:
            return self.handle(node)
        (tag, body), = node.items() if len(node) == 1 else ((None, None),)
        if tag == "f" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("t", "l") and isinstance(body, list):
            items = [self.value(item, depth + 1) for item in body]
            return tuple(items) if tag == "t" else items
        if tag == "d" and isinstance(body, list):
            result = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("a dict entry must be a [key, value] pair")
                key = self.value(pair[0], depth + 1)
                try:
                    result[key] = self.value(pair[1], depth + 1)
                except TypeError:
                    raise WireError(f"a dict key of type {type(key).__name__} is not hashable") from None
            return result
        if tag == "s" and isinstance(body, list) and len(body) == 2 and body[0] in DTYPES:
            number = self.value(body[1], depth + 1)
            if not isinstance(number, (bool, int, float)):
                raise WireError("a NumPy scalar must hold a number")
            return np.dtype(body[0]).type(number)
        if (tag == "y" and isinstance(body, list) and len(body) == 2 and body[0] in DTYPES
                and isinstance(body[1], bool)):
            return np.dtype(body[0]).type if body[1] else np.dtype(body[0])
        if tag == "r" and isinstance(body, int) and self.ref is not None:
            return self.ref(body)
        if (tag == "o" and isinstance(body, list) and len(body) == 2 and isinstance(body[0], str)
                and self.instance is not None):
            return self.instance(body[0], self.value(body[1], depth + 1))
        raise WireError(f"unknown or malformed value node {str(node)[:80]!r}")

    def _array(self, node: dict):
        where, dtype, shape = node.get("a"), node.get("dt"), node.get("sh")
        if (len(node) != 3 or not isinstance(where, list) or len(where) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in where)):
            raise WireError("an array node needs [offset, nbytes]")
        if dtype not in DTYPES:
            raise WireError(f"arrays of dtype {dtype!r} are not accepted")
        if (not isinstance(shape, list) or len(shape) > 32
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
            raise WireError("an array's shape must be a list of non-negative integers")
        offset, nbytes = where
        itemsize = np.dtype(dtype).itemsize
        if math.prod(shape) * itemsize != nbytes or offset + nbytes > len(self.payload):
            raise WireError(f"an array of shape {shape} and dtype {dtype} does not match its {nbytes} "
                            f"bytes at {offset} of a {len(self.payload)}-byte payload")
        if nbytes == 0:
            array = np.zeros(shape, dtype=dtype)
        else:
            array = np.frombuffer(self.payload, dtype=dtype, count=nbytes // itemsize, offset=offset).reshape(shape)
        if self.writable:
            return array.copy()
        array.flags.writeable = False
        return array
