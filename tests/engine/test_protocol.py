"""The pipe format: round trips (hypothesis), strict decoding, caps, and no code execution on decode."""

from __future__ import annotations

import io
import json
import math
import struct
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grading.engine.protocol import (
    MAGIC,
    MAX_DEPTH,
    Caps,
    Channel,
    Frame,
    FrameTooLarge,
    NotData,
    ProtocolError,
    decode_header,
    decode_value,
    encode_frame,
    encode_value,
    read_frame,
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
keys = st.text() | st.integers() | st.tuples(st.integers(), st.text())
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=4)
        | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)


def round_trip(value, handle_enc=None, handle_dec=None):
    buffers: list[bytes] = []
    tree = encode_value(value, buffers, handle_enc)
    frame = read_frame(io.BytesIO(encode_frame({"kind": "t", "v": tree}, buffers)))
    assert frame is not None
    return decode_value(frame.header["v"], frame.buffers, handle_dec)


@given(values)
@settings(max_examples=50, deadline=None)
def test_any_builtin_value_survives_a_round_trip(value):
    assert round_trip(value) == value


@given(st.sampled_from(["nan", "inf", "-inf"]))
def test_non_finite_floats_survive_a_round_trip(name):
    out = round_trip(float(name))
    assert (math.isnan(out) and name == "nan") or out == float(name)


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int32,
        torch.int8,
        torch.uint8,
        torch.bool,
        torch.complex64,
    ],
)
def test_tensors_of_every_supported_dtype_survive_a_round_trip(dtype):
    t = (torch.arange(12, dtype=torch.float32).reshape(3, 4) - 5).to(dtype)
    out = round_trip({"t": t, "empty": torch.empty(0, 3, dtype=dtype), "scalar": t[0, 0].clone()})
    for key in ("t", "empty", "scalar"):
        ref = {"t": t, "empty": torch.empty(0, 3, dtype=dtype), "scalar": t[0, 0]}[key]
        assert out[key].dtype == dtype and out[key].shape == ref.shape
        assert torch.equal(out[key], ref)


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=0, max_size=16))
def test_bfloat16_tensors_keep_their_bits(xs):
    t = torch.tensor(xs, dtype=torch.float32).to(torch.bfloat16)
    assert torch.equal(round_trip(t).view(torch.int16), t.view(torch.int16))


def test_non_contiguous_and_grad_tensors_arrive_as_plain_tensors():
    base = torch.randn(4, 6, requires_grad=True)
    view = (base * 2).t()[1:3]
    out = round_trip(view)
    assert not out.requires_grad and out.is_contiguous()
    assert torch.equal(out, view.detach())


def test_sparse_tensors_arrive_dense():
    dense = torch.eye(3)
    assert torch.equal(round_trip(dense.to_sparse()), dense)


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<i8", "|u1", "|b1", "<c8", ">i4"])
def test_numpy_arrays_survive_a_round_trip(dtype):
    arr = np.arange(6).reshape(2, 3).astype(dtype)
    out = round_trip(arr)
    assert out.dtype == arr.dtype and np.array_equal(out, arr)


def test_object_arrays_and_odd_tensor_dtypes_are_not_data():
    with pytest.raises(NotData):
        encode_value(np.array([object()]), [])
    with pytest.raises(NotData):
        encode_value(torch.zeros(2, dtype=torch.float8_e4m3fn), [])


def test_builtin_subclasses_lose_their_custom_behaviour():
    class Yes(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Loud(str):
        pass

    class MyList(list):
        pass

    out = round_trip([Yes(3), Loud("x"), MyList([1]), True, 2.5])
    assert out == [3, "x", [1], True, 2.5]
    assert [type(x) for x in out] == [int, str, list, bool, float]
    assert out[0] != 4


def test_non_data_needs_a_handle_encoder():
    with pytest.raises(NotData):
        encode_value(object(), [])
    seen = []
    out = round_trip(
        [object()], lambda o: seen.append(o) or {"$t": "handle", "id": "h1"}, lambda n: ("handle", n["id"])
    )
    assert out == [("handle", "h1")] and len(seen) == 1


def test_a_dict_with_a_tag_key_is_escaped():
    assert round_trip({"$t": "tensor", "b": 0}) == {"$t": "tensor", "b": 0}


def test_frames_carry_header_and_buffers():
    data = encode_frame({"kind": "x", "n": 1}, [b"abc", b"", bytearray(b"de")])
    frame = read_frame(io.BytesIO(data))
    assert frame == Frame({"kind": "x", "n": 1}, [b"abc", b"", b"de"]) and frame.kind == "x"


def test_a_clean_end_of_stream_reads_as_none():
    assert read_frame(io.BytesIO(b"")) is None


def _prefix(header_len: int, n: int = 0, total: int = 0, magic: bytes = MAGIC) -> bytes:
    return struct.pack(">4sIIQ", magic, header_len, n, total)


@pytest.mark.parametrize(
    "data",
    [
        _prefix(2, magic=b"EVIL") + b"{}",
        _prefix(10) + b'{"kind"',
        encode_frame({"kind": "x"})[:-1],
        _prefix(2) + b"[]",
        _prefix(12) + b'{"kind": 3 }',
        _prefix(8) + b"\xff\xfe{}{}{}",
        _prefix(20) + b'{"kind":"x","v":NaN}',
        _prefix(23) + b'{"kind":"x","kind":"y"}',
        _prefix(12, 1, 5) + b'{"kind":"x"}' + struct.pack(">Q", 4) + b"abcd",
        b"NCL",
    ],
    ids=[
        "magic",
        "truncated-header",
        "truncated-buffer",
        "not-object",
        "kind-not-str",
        "not-utf8",
        "nan",
        "duplicate",
        "lengths",
        "short-prefix",
    ],
)
def test_malformed_frames_raise_a_protocol_error(data):
    with pytest.raises(ProtocolError):
        read_frame(io.BytesIO(data))


@pytest.mark.parametrize(
    "header",
    [
        b'{"kind":"reply","value":1e400}',
        b'{"kind":"reply","value":[-1E999]}',
        b'{"kind":"output","data":"bad \\ud800 text"}',
        b'{"kind":"output","data":"\\udfff"}',
        b'{"kind":"reply","\\udc00":1}',
        b'{"kind":"reply","value":{"deep":["\\ud83d"]}}',
        b'{"kind":"reply","value":' + b"[" * 300 + b"]" * 300 + b"}",
        b'{"kind":"reply","value":' + b'{"a":' * 300 + b"1" + b"}" * 300 + b"}",
    ],
    ids=[
        "huge-number",
        "huge-negative",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "in-a-key",
        "nested",
        "deep-lists",
        "deep-objects",
    ],
)
def test_a_header_that_could_not_be_encoded_again_is_refused(header):
    with pytest.raises(ProtocolError):
        read_frame(io.BytesIO(_prefix(len(header)) + header))


def test_escaped_surrogate_pairs_and_escaped_backslashes_are_ordinary_text():
    header = b'{"kind":"x","v":"\\ud83d\\ude00 \\\\ud800"}'
    frame = read_frame(io.BytesIO(_prefix(len(header)) + header))
    assert frame is not None and frame.header["v"] == "\U0001f600 \\ud800"
    assert encode_frame(frame.header)


def test_many_brackets_side_by_side_are_not_depth():
    header = b'{"kind":"reply","value":[' + b",".join([b"[]"] * 1000) + b"]}"
    frame = read_frame(io.BytesIO(_prefix(len(header)) + header))
    assert frame is not None and len(frame.header["value"]) == 1000


def test_the_deepest_value_the_encoder_allows_fits_a_header():
    deep: object = 1
    for _ in range(MAX_DEPTH):
        deep = {1: deep}  # a dict with a non-string key: three JSON levels per level
    buffers: list[bytes] = []
    header = {"kind": "reply", "value": encode_value(deep, buffers)}
    data = encode_frame(header, buffers)
    frame = read_frame(io.BytesIO(data))
    assert frame is not None and decode_value(frame.header["value"], frame.buffers) == deep


def test_a_frame_knows_its_size_on_the_wire():
    data = encode_frame({"kind": "output", "data": ""}, [b"abc", b"de"])
    frame = read_frame(io.BytesIO(data))
    assert frame is not None and frame.size == len(data)


@pytest.mark.parametrize(
    ("caps", "prefix"),
    [
        (Caps(header_bytes=10), _prefix(11)),
        (Caps(buffers=2), _prefix(2, 3, 0)),
        (Caps(buffer_bytes=100), _prefix(2, 1, 101)),
    ],
)
def test_oversized_frames_are_refused_before_allocation(caps, prefix):
    with pytest.raises(FrameTooLarge):
        read_frame(io.BytesIO(prefix), caps)


def test_a_header_without_kind_is_refused_on_both_ends():
    with pytest.raises(ProtocolError):
        encode_frame({"no": "kind"})
    with pytest.raises(ProtocolError):
        decode_header(b"{}")
    with pytest.raises(ProtocolError):
        decode_header(b"[" * 100000 + b"]" * 100000)


@pytest.mark.parametrize(
    "tree",
    [
        {"$t": "pickle", "data": "gASVAAAA"},
        {"$t": "tuple"},
        {"$t": "float", "v": "1e400"},
        {"$t": "bytes", "b": 5},
        {"$t": "bytes", "b": True},
        {"$t": "dict", "items": [[1]]},
        {"$t": "dict", "items": [[[1], 2]]},
        {"$t": "tensor", "b": 0, "dtype": "object", "shape": [1]},
        {"$t": "tensor", "b": 0, "dtype": "float32", "shape": [3]},
        {"$t": "tensor", "b": 0, "dtype": "float32", "shape": [-1]},
        {"$t": "tensor", "b": 0, "dtype": "float32", "shape": "4"},
        {"$t": "ndarray", "b": 0, "dtype": "O", "shape": [1]},
        {"$t": "ndarray", "b": 0, "dtype": "not a dtype", "shape": [1]},
        {"$t": "ndarray", "b": 0, "dtype": "<f8", "shape": [1]},
        {"$t": "handle", "id": "x"},
        3.0 + 0j,
        float("inf"),
    ],
)
def test_malformed_values_raise_a_protocol_error(tree):
    with pytest.raises(ProtocolError):
        decode_value(tree, [b"\x00\x00\x00\x00"])


def test_deeply_nested_values_are_refused():
    deep: list = []
    cur = deep
    for _ in range(100):
        cur.append([])
        cur = cur[0]
    with pytest.raises(ProtocolError):
        encode_value(deep, [])
    tree = json.loads("[" * 100 + "]" * 100)
    with pytest.raises(ProtocolError):
        decode_value(tree, [])


def test_channel_sends_whole_frames_from_many_threads():
    r, w = io.BytesIO(), io.BytesIO()
    chan = Channel(r, w)
    threads = [
        threading.Thread(
            target=lambda i=i: [chan.send({"kind": "n", "i": i}, [bytes(1000)]) for _ in range(20)]
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = Channel(io.BytesIO(w.getvalue()), io.BytesIO())
    frames = [reader.recv() for _ in range(80)]
    assert all(f is not None and f.kind == "n" and f.buffers == [bytes(1000)] for f in frames)
    assert reader.recv() is None


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_raise_anything_but_a_protocol_error(data):
    try:
        read_frame(io.BytesIO(MAGIC + data if data[:1] == b"\x00" else data))
    except ProtocolError:
        pass


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats(),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["$t", "b", "v", "dtype", "shape", "items", "id"]), c, max_size=4
            )
        ),
        max_leaves=12,
    )
)
@settings(max_examples=200, deadline=None)
def test_random_value_trees_never_raise_anything_but_a_protocol_error(tree):
    try:
        decode_value(tree, [b"\x00" * 8])
    except ProtocolError:
        pass
