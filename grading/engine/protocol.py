"""The pipe format between the runner, the judge and the learner host.

Design choices:
- A frame is ``MAGIC | u32 header_len | u32 n_buffers | u64 buffers_len | header | n_buffers * u64 | buffers``.
  The header is a UTF-8 JSON object; array payloads travel as raw bytes after it, so a tensor costs one copy
  and no base64.  Sizes live in the fixed binary prefix, so a reader checks every cap *before* it allocates.
- Never pickle.  A value is a JSON tree in which a few tagged objects (``{"$t": ...}``) stand for what JSON
  cannot say: tuples, bytes, non-finite floats, dicts with non-string keys, torch tensors, numpy arrays and
  remote handles.  Anything else is not data: the sending side turns it into a handle (learner host) or refuses.
- Decoding is strict: unknown tags, bad dtypes, shape/byte-count mismatches, NaN literals, numbers too large
  for a float (``1e400``), lone surrogates (``"\\ud800"``), duplicate keys, values nested deeper than
  ``MAX_DEPTH`` (headers deeper than ``MAX_HEADER_DEPTH``: one read on a shallow stack could overflow a deeper
  one that writes it again) and frames over the caps raise :class:`ProtocolError` (or its subclass :class:`FrameTooLarge`).  So every
  header that decodes can be encoded again (a relayed reply cannot fail on its way on) and holds only valid
  Unicode.  A peer that sends one malformed frame is treated as broken, never trusted again.
- torch and numpy are optional: they are imported only when a frame carries a tensor or an array, so the
  runner (which relays frames without decoding values) and a pure-Python learner host stay light.
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

MAGIC = b"NCL1"
_PREFIX = struct.Struct(">4sIIQ")
_LEN = struct.Struct(">Q")
MAX_DEPTH = 64
#: JSON nesting of a header: a value nests at most MAX_DEPTH containers, each at most three JSON levels deep.
MAX_HEADER_DEPTH = 3 * MAX_DEPTH + 8
#: A JSON escape of a UTF-16 surrogate; a pair of them is one valid character, one alone is not.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class ProtocolError(Exception):
    """A frame or value that breaks the pipe format."""


class FrameTooLarge(ProtocolError):
    """A frame whose declared size exceeds the reader's caps."""


@dataclass(frozen=True)
class Caps:
    """Upper bounds a reader enforces before allocating anything."""

    header_bytes: int = 8 * 1024 * 1024
    buffers: int = 4096
    buffer_bytes: int = 1024 * 1024 * 1024


DEFAULT_CAPS = Caps()


@dataclass
class Frame:
    """One decoded frame: a JSON header (always with a string ``kind``) and raw buffers.

    ``size`` is what the frame cost on the wire (prefix, header and buffers), as read.
    """

    header: dict[str, Any]
    buffers: list[bytes] = field(default_factory=list)
    size: int = field(default=0, compare=False)

    @property
    def kind(self) -> str:
        return str(self.header["kind"])


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError(f"number {text[:40]} does not fit a float")
    return value


def _has_lone_surrogate(tree: Any) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _deeper_than(tree: Any, limit: int) -> bool:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError(f"duplicate key {key!r}")
        out[key] = value
    return out


def encode_frame(header: dict[str, Any], buffers: list[bytes] | None = None) -> bytes:
    """Serialise one frame to bytes (header must be JSON-safe, with a string ``kind``)."""
    buffers = buffers or []
    if not isinstance(header.get("kind"), str):
        raise ProtocolError("frame header needs a string 'kind'")
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode("utf-8")
    total = sum(len(b) for b in buffers)
    parts = [_PREFIX.pack(MAGIC, len(raw), len(buffers), total), raw]
    parts.extend(_LEN.pack(len(b)) for b in buffers)
    parts.extend(bytes(b) if not isinstance(b, bytes) else b for b in buffers)
    return b"".join(parts)


def _read_exact(stream: BinaryIO, n: int, *, at_start: bool = False) -> bytes | None:
    chunks: list[bytes] = []
    got = 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            if at_start and got == 0:
                return None
            raise ProtocolError(f"stream ended inside a frame ({got}/{n} bytes)")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, caps: Caps = DEFAULT_CAPS) -> Frame | None:
    """Read one frame; ``None`` on a clean end of stream (between frames)."""
    prefix = _read_exact(stream, _PREFIX.size, at_start=True)
    if prefix is None:
        return None
    magic, header_len, n_buffers, total = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError("bad frame magic")
    if header_len > caps.header_bytes:
        raise FrameTooLarge(f"header of {header_len} bytes exceeds {caps.header_bytes}")
    if n_buffers > caps.buffers:
        raise FrameTooLarge(f"{n_buffers} buffers exceed {caps.buffers}")
    if total > caps.buffer_bytes:
        raise FrameTooLarge(f"buffers of {total} bytes exceed {caps.buffer_bytes}")
    raw = _read_exact(stream, header_len)
    assert raw is not None
    lengths = [_LEN.unpack(_read_exact(stream, _LEN.size) or b"")[0] for _ in range(n_buffers)]
    if sum(lengths) != total:
        raise ProtocolError("buffer lengths do not add up")
    buffers = [_read_exact(stream, n) or b"" for n in lengths]
    size = _PREFIX.size + header_len + n_buffers * _LEN.size + total
    return Frame(decode_header(raw), buffers, size)


def decode_header(raw: bytes) -> dict[str, Any]:
    """Strictly parse a frame header: UTF-8 JSON object with a string ``kind``."""
    try:
        text = raw.decode("utf-8")
        header = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_no_duplicates,
        )
    except ProtocolError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed frame header: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise ProtocolError("frame header must be an object with a string 'kind'")
    # Walk the tree only when the text allows a problem: a deep one needs that many brackets, and raw UTF-8
    # cannot hold a surrogate, only an escape can.
    if raw.count(b"[") + raw.count(b"{") > MAX_HEADER_DEPTH and _deeper_than(header, MAX_HEADER_DEPTH):
        raise ProtocolError(f"frame header nested deeper than {MAX_HEADER_DEPTH}")
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(header):
        raise ProtocolError("frame header holds a lone surrogate (not valid Unicode)")
    return header


class Channel:
    """A duplex frame channel over two binary streams; ``send`` is thread-safe."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO, caps: Caps = DEFAULT_CAPS) -> None:
        self.rfile = rfile
        self.wfile = wfile
        self.caps = caps
        self._lock = threading.Lock()

    def send(self, header: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        data = encode_frame(header, buffers)
        with self._lock:
            self.wfile.write(data)
            self.wfile.flush()

    def recv(self) -> Frame | None:
        return read_frame(self.rfile, self.caps)


# ---------------------------------------------------------------- values

TORCH_DTYPES = (
    "bool uint8 int8 int16 int32 int64 float16 bfloat16 float32 float64 complex64 complex128".split()
)
NUMPY_KINDS = "biufc"

HandleEncoder = Callable[[object], dict[str, Any]]
HandleDecoder = Callable[[dict[str, Any]], object]


def _torch() -> Any:
    mod = sys.modules.get("torch")
    if mod is None:  # pragma: no cover - the test process always has torch imported already
        import torch as mod  # optional, imported only for frames that carry tensors
    return mod


def _is_tensor(obj: object) -> bool:
    mod = sys.modules.get("torch")
    return mod is not None and isinstance(obj, mod.Tensor)


def _is_ndarray(obj: object) -> bool:
    mod = sys.modules.get("numpy")
    return mod is not None and isinstance(obj, mod.ndarray)


class NotData(ProtocolError):
    """A value that is not data and no handle encoder was given."""


def encode_value(obj: object, buffers: list[bytes], handle: HandleEncoder | None = None) -> Any:
    """Turn ``obj`` into a JSON tree, appending raw payloads to ``buffers``.

    Builtin subclasses are normalised to their base type, so a peer can never smuggle custom behaviour
    (an ``__eq__`` that always says yes) inside something that looks like data.
    """
    return _encode(obj, buffers, handle, 0)


def _encode(obj: object, buffers: list[bytes], handle: HandleEncoder | None, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if obj is None or obj is True or obj is False:  # bool cannot be subclassed: these are all its values
        return obj
    if isinstance(obj, int):
        return int.__index__(obj)
    if isinstance(obj, float):
        f = float.__float__(obj)
        if math.isfinite(f):
            return f
        return {"$t": "float", "v": "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")}
    if isinstance(obj, str):
        return str.__str__(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        buffers.append(bytes(obj))
        return {"$t": "bytes", "b": len(buffers) - 1}
    if isinstance(obj, list):
        return [_encode(x, buffers, handle, depth + 1) for x in list.__iter__(obj)]
    if isinstance(obj, tuple):
        return {"$t": "tuple", "v": [_encode(x, buffers, handle, depth + 1) for x in tuple.__iter__(obj)]}
    if isinstance(obj, dict):
        items = list(dict.items(obj))
        if all(type(k) is str for k, _ in items) and "$t" not in dict.keys(obj):
            return {k: _encode(v, buffers, handle, depth + 1) for k, v in items}
        return {
            "$t": "dict",
            "items": [
                [_encode(k, buffers, handle, depth + 1), _encode(v, buffers, handle, depth + 1)]
                for k, v in items
            ],
        }
    if _is_tensor(obj):
        return _encode_tensor(obj, buffers)
    if _is_ndarray(obj):
        return _encode_ndarray(obj, buffers)
    if handle is None:
        raise NotData(f"a {type(obj).__name__} is not data")
    return handle(obj)


def _encode_tensor(obj: Any, buffers: list[bytes]) -> dict[str, Any]:
    torch = _torch()
    t = torch.Tensor.detach(obj)
    dtype = str(t.dtype).removeprefix("torch.")
    if dtype not in TORCH_DTYPES:
        raise NotData(f"tensor dtype {dtype} is not supported")
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.to("cpu").contiguous()
    shape = list(t.shape)
    flat = t.reshape(-1)
    if dtype == "bool":
        flat = flat.to(torch.uint8)
    raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    buffers.append(raw)
    return {"$t": "tensor", "b": len(buffers) - 1, "dtype": dtype, "shape": shape}


def _encode_ndarray(obj: Any, buffers: list[bytes]) -> dict[str, Any]:
    import numpy as np

    arr = np.ascontiguousarray(obj)
    if arr.dtype.kind not in NUMPY_KINDS:
        raise NotData(f"array dtype {arr.dtype} is not supported")
    buffers.append(arr.tobytes())
    return {"$t": "ndarray", "b": len(buffers) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape)}


def decode_value(tree: Any, buffers: list[bytes], handle: HandleDecoder | None = None) -> Any:
    """Inverse of :func:`encode_value`; raises :class:`ProtocolError` on anything unexpected."""
    return _decode(tree, buffers, handle, 0)


def _buffer(node: dict[str, Any], buffers: list[bytes]) -> bytes:
    idx = node.get("b")
    if type(idx) is not int or not 0 <= idx < len(buffers):
        raise ProtocolError("bad buffer index")
    return buffers[idx]


def _shape(node: dict[str, Any]) -> list[int]:
    shape = node.get("shape")
    if not isinstance(shape, list) or len(shape) > 32 or any(type(d) is not int or d < 0 for d in shape):
        raise ProtocolError("bad shape")
    return shape


def _decode(tree: Any, buffers: list[bytes], handle: HandleDecoder | None, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if tree is None or isinstance(tree, bool | int | str):
        return tree
    if isinstance(tree, float):
        if not math.isfinite(tree):
            raise ProtocolError("non-finite float literal")
        return tree
    if isinstance(tree, list):
        return [_decode(x, buffers, handle, depth + 1) for x in tree]
    if not isinstance(tree, dict):
        raise ProtocolError(f"unexpected JSON node {type(tree).__name__}")
    if "$t" not in tree:
        return {k: _decode(v, buffers, handle, depth + 1) for k, v in tree.items()}
    tag = tree["$t"]
    if tag == "tuple" and isinstance(tree.get("v"), list):
        return tuple(_decode(x, buffers, handle, depth + 1) for x in tree["v"])
    if tag == "float" and tree.get("v") in ("nan", "inf", "-inf"):
        return float(tree["v"])
    if tag == "bytes":
        return _buffer(tree, buffers)
    if tag == "dict" and isinstance(tree.get("items"), list):
        out: dict[Any, Any] = {}
        for pair in tree["items"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ProtocolError("bad dict item")
            key = _decode(pair[0], buffers, handle, depth + 1)
            try:
                out[key] = _decode(pair[1], buffers, handle, depth + 1)
            except TypeError:
                raise ProtocolError("unhashable dict key") from None
        return out
    if tag == "tensor":
        return _decode_tensor(tree, buffers)
    if tag == "ndarray":
        return _decode_ndarray(tree, buffers)
    if tag == "handle" and handle is not None:
        return handle(tree)
    raise ProtocolError(f"unknown or malformed tagged value {str(tag)[:40]!r}")


def _decode_tensor(node: dict[str, Any], buffers: list[bytes]) -> Any:
    dtype = node.get("dtype")
    if dtype not in TORCH_DTYPES:
        raise ProtocolError(f"bad tensor dtype {str(dtype)[:40]!r}")
    shape = _shape(node)
    raw = _buffer(node, buffers)
    torch = _torch()
    tdtype = torch.uint8 if dtype == "bool" else getattr(torch, dtype)
    count = math.prod(shape)
    if len(raw) != count * tdtype.itemsize:
        raise ProtocolError("tensor byte count does not match its shape")
    if count == 0:
        t = torch.empty(shape, dtype=tdtype)
    else:
        t = torch.frombuffer(bytearray(raw), dtype=tdtype).reshape(shape)
    return t.to(torch.bool) if dtype == "bool" else t


def _decode_ndarray(node: dict[str, Any], buffers: list[bytes]) -> Any:
    import numpy as np

    try:
        dtype = np.dtype(str(node.get("dtype")))
    except TypeError:
        raise ProtocolError("bad array dtype") from None
    if dtype.kind not in NUMPY_KINDS or dtype.hasobject:
        raise ProtocolError(f"array dtype {dtype} is not allowed")
    shape = _shape(node)
    raw = _buffer(node, buffers)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise ProtocolError("array byte count does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
