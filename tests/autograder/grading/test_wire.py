"""The wire: every value crosses as plain data, and whatever a hostile process writes is refused, never trusted."""

import json
import os
import struct

import numpy as np
import pytest

from autograder.grading import wire


def frame_through_a_pipe(data: bytes, limits: wire.Limits = wire.Limits()):
    read, write = os.pipe()
    try:
        os.write(write, data)
        os.close(write)
        return wire.FrameReader(read, limits).read(deadline=None)
    finally:
        os.close(read)


def raw_frame(message_text: bytes, payload: bytes = b"") -> bytes:
    return wire.HEADER.pack(wire.MAGIC, len(message_text), len(payload)) + message_text + payload


def round_trip(value, **decoder):
    encoder = wire.Encoder()
    node = encoder.node(value)
    message, payload = frame_through_a_pipe(wire.encode_frame({"value": node}, encoder.payload))
    return wire.Decoder(payload, **decoder).value(message["value"])


def test_plain_values_cross_whole():
    value = {"x": np.arange(6.0).reshape(2, 3), "t": (1, 2.5, None, "s", True), "n": float("nan"),
             "big-endian": np.arange(3, dtype=">f4"), "empty": np.zeros((0, 4)), "i": np.int64(7),
             "dtype": np.dtype("float32"), "type": np.float64, 3: [1, 2]}
    back = round_trip(value)
    assert np.array_equal(back["x"], value["x"]) and back["t"] == value["t"] and np.isnan(back["n"])
    assert back["big-endian"].dtype == np.float32 and back["empty"].shape == (0, 4)
    assert back["i"] == 7 and isinstance(back["i"], np.int64)
    assert back["dtype"] == np.dtype("float32") and back["type"] is np.float64 and back[3] == [1, 2]


def test_arrays_from_the_other_side_are_read_only_copies_in_the_grader():
    array = round_trip(np.ones(3))
    with pytest.raises(ValueError, match="read-only"):
        array[0] = 5.0
    assert round_trip(np.ones(3), writable=True).flags.writeable


def test_objects_and_functions_do_not_cross_without_a_handle():
    with pytest.raises(wire.WireError, match="cannot send a function"):
        wire.Encoder().node(lambda x: x)
    with pytest.raises(wire.WireError, match="cannot send"):
        wire.Encoder().node(np.array([object()], dtype=object))


@pytest.mark.parametrize("text", [
    b"[" * 10_000 + b"]" * 10_000,                      # nested beyond any recursive parser
    b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}",
])
def test_deep_nesting_is_refused_before_the_parser_sees_it(text):
    with pytest.raises(wire.WireError, match="nests .* levels deep"):
        frame_through_a_pipe(raw_frame(text))


@pytest.mark.parametrize("data, reason", [
    (b"XXXX" + struct.pack(">IQ", 2, 0) + b"{}", "expected a frame"),
    (wire.HEADER.pack(wire.MAGIC, 2**30, 0), "larger than the limits"),
    (wire.HEADER.pack(wire.MAGIC, 0, 2**40), "larger than the limits"),
    (raw_frame(b"[1, 2]"), "must be a JSON object"),
    (raw_frame(b"\xff\xfe"), "not UTF-8"),
    (raw_frame(b"{not json"), "not valid JSON"),
])
def test_malformed_frames_are_refused(data, reason):
    with pytest.raises(wire.WireError, match=reason):
        frame_through_a_pipe(data)


def test_a_closed_or_silent_pipe_ends_the_read():
    with pytest.raises(EOFError):
        frame_through_a_pipe(wire.HEADER.pack(wire.MAGIC, 10, 0) + b"{}")
    read, write = os.pipe()
    try:
        with pytest.raises(TimeoutError):
            wire.FrameReader(read).read(deadline=__import__("time").monotonic() + 0.2)
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.parametrize("node, payload, reason", [
    ({"a": [0, 8], "dt": "|O", "sh": [1]}, bytes(8), "not accepted"),            # object arrays: pickles
    ({"a": [0, 80], "dt": "<f8", "sh": [10]}, bytes(8), "does not match"),        # beyond the payload
    ({"a": [0, 8], "dt": "<f8", "sh": [2]}, bytes(16), "does not match"),         # shape and bytes disagree
    ({"a": [-8, 8], "dt": "<f8", "sh": [1]}, bytes(8), "offset, nbytes"),
    ({"a": [0, 8], "dt": "<f8", "sh": [-1]}, bytes(8), "non-negative"),
    ({"h": 1, "ty": "x", "c": True}, b"", "unknown or malformed"),                # a handle, to the grader's decoder
    ({"r": 1}, b"", "unknown or malformed"),                                      # a reference nobody made
    ({"o": ["os:system", {"d": []}]}, b"", "unknown or malformed"),               # an object by value
    ({"d": [[{"l": []}, 1]]}, b"", "not hashable"),
    ({"x": 1}, b"", "unknown or malformed"),
    ("s" * (2**20 + 1), b"", "longer than the limit"),
])
def test_malformed_or_forbidden_values_are_refused(node, payload, reason):
    with pytest.raises(wire.WireError, match=reason):
        wire.Decoder(payload).value(node)


def test_too_many_values_in_one_message_are_refused():
    node = {"l": [1] * 50}
    with pytest.raises(wire.WireError, match="more than 10 values"):
        wire.Decoder(b"", wire.Limits(nodes=10)).value(node)


def test_a_frame_is_json_an_instructor_can_read():
    encoder = wire.Encoder()
    node = encoder.node({"scores": np.zeros(2)})
    frame = wire.encode_frame({"id": 3, "value": node}, encoder.payload)
    text = frame[wire.HEADER.size:wire.HEADER.size + wire.HEADER.unpack(frame[:wire.HEADER.size])[1]]
    assert json.loads(text) == {"id": 3, "value": {"d": [["scores", {"a": [0, 16], "dt": "<f8", "sh": [2]}]]}}
