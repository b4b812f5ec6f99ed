"""The UNTRUSTED side: runs inside the learner sandbox, imports learner modules and answers probes.

Started as ``python -s -m grading.engine.learner_host --runtime python|torch`` with the frame channel on its
own stdin/stdout.  Design choices:
- At start the host moves the channel to private descriptors and points fd 0 at /dev/null and fds 1/2 at pipes
  drained by a thread, so whatever learner code prints (Python, C extensions, subprocesses) becomes ``output``
  frames and can never be mistaken for protocol bytes by the runner.
- It can start warm: with the runtime's heavy imports done, it waits for a ``files`` frame, writes the
  workspace under its cwd (``/work``) and only then puts that folder on ``sys.path``.
- It executes one op at a time (``import``, ``call``, ``value`` ...).  Results that are data travel as values;
  anything else stays here and travels as a handle (``{"$t": "handle", "id": ...}``).
- Nothing here is trusted: learner code can patch this module, write to the channel or exit.  The runner and
  the judge treat every reply as untrusted data, so such tricks can at most make the learner's own tests fail.
- Learner exceptions become ``error`` replies with a traceback limited to frames in the workspace, paths
  relative to it; their text is made valid Unicode without NUL (:mod:`.redact`).  A result the pipe format
  cannot carry (a string with a lone surrogate) becomes an error reply too, not a crashed host. A write
  refused by a sandbox cap (``ENOSPC``: the workspace, ``/tmp`` or ``/dev/shm`` is full; ``EFBIG``: one file
  too large) says which cap, read from the file systems and rlimits in force.
- A Rust crate among the files (the ``files`` frame's ``builds``) is compiled here, in this sandbox, on the first
  import of its module name, and that name is only ever the learner's build (:mod:`.rustbuild`).
- The output pump batches: after a first chunk it waits ``OUTPUT_BATCH_SECONDS`` for more, so a loop that prints
  line by line sends a few frames a second, well inside the runner's per-job frame cap.
"""

from __future__ import annotations

import argparse
import codecs
import errno
import importlib
import os
import re
import resource
import secrets
import select
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .protocol import Channel, Frame, NotData, ProtocolError, decode_value, encode_value
from .redact import clean_text
from .rustbuild import CrateBuild

MAX_MESSAGE = 4000
MAX_TRACEBACK = 8000
OUTPUT_BATCH_SECONDS = 0.02
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
#: The sandbox's size-capped scratch file systems besides the workspace.
SCRATCH_DIRS = ("/tmp", "/dev/shm")
MIB = 1024 * 1024


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n >= MIB else f"{n} bytes"


def disk_cap_note(exc: BaseException, root: str) -> str:
    """Which sandbox disk cap an ``OSError`` ran into, in words; "" for any other error.

    ``ENOSPC`` names the file system that is full (under 1 MiB or no inode left), or every cap when none is;
    ``EFBIG`` names the per-file cap (``RLIMIT_FSIZE``).
    """
    if not isinstance(exc, OSError):
        return ""
    if exc.errno == errno.EFBIG:
        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return "" if soft == resource.RLIM_INFINITY else f"the sandbox caps each file at {_size(soft)}"
    if exc.errno != errno.ENOSPC:
        return ""
    caps: list[tuple[str, str]] = []
    full: list[str] = []
    for path in (root, *SCRATCH_DIRS):
        try:
            st = os.statvfs(path)
        except OSError:
            continue
        cap = _size(st.f_blocks * st.f_frsize) + (f" and {st.f_files} files" if path == root else "")
        caps.append((path, cap))
        if st.f_bavail * st.f_frsize < MIB or st.f_favail == 0:
            full.append(f"{path} is full: the sandbox caps it at {cap}")
    if full:
        return "; ".join(full)
    return "the sandbox caps " + ", ".join(f"{path} at {cap}" for path, cap in caps)


def learner_traceback(exc: BaseException, root: str) -> str:
    """Traceback text with only the frames under ``root``, their paths relative to it."""
    prefix = root.rstrip("/") + "/"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(prefix)]
    lines: list[str] = []
    if frames:
        lines.append("Traceback (most recent call last):")
        for f in frames:
            lines.append(f'  File "{f.filename[len(prefix) :]}", line {f.lineno}, in {f.name}')
            if f.line:
                lines.append(f"    {f.line.strip()}")
    for line in traceback.format_exception_only(type(exc), exc):
        lines.append(line.rstrip("\n").replace(prefix, ""))
    return "\n".join(lines)[:MAX_TRACEBACK]


class OutputPump:
    """Moves bytes from the learner's stdout/stderr pipes to ``output`` frames."""

    def __init__(self, channel: Channel, fds: dict[str, int]) -> None:
        self.channel = channel
        self.fds = fds
        self.decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in fds}
        self.lock = threading.Lock()
        for fd in fds.values():
            os.set_blocking(fd, False)

    def start(self) -> None:
        threading.Thread(target=self._run, name="output-pump", daemon=True).start()

    def _run(self) -> None:  # pragma: no cover - exercised in subprocess tests, not measurable in-process
        while True:
            ready, _, _ = select.select(list(self.fds.values()), [], [], 0.05)
            if ready:
                time.sleep(OUTPUT_BATCH_SECONDS)
                self.drain()

    def drain(self) -> None:
        """Send everything already written to the pipes (called after each op, before the reply)."""
        with self.lock:
            for name, fd in self.fds.items():
                chunks: list[bytes] = []
                while True:
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    if not chunk:  # pragma: no cover - only if every writer closed fd 1/2
                        break
                    chunks.append(chunk)
                if chunks:
                    text = self.decoders[name].decode(b"".join(chunks))
                    if text:
                        self.channel.send({"kind": "output", "stream": name, "data": text})


class Host:
    """Executes ops against learner objects; one instance per learner process."""

    def __init__(self, channel: Channel, root: str) -> None:
        self.channel = channel
        self.root = root
        self.token = secrets.token_hex(4)
        self.objects: dict[str, object] = {}
        self._next = 0
        self.builds: dict[str, CrateBuild] = {}

    # -- handles
    def _handle(self, obj: object) -> dict[str, Any]:
        self._next += 1
        hid = f"{self.token}:{self._next}"
        self.objects[hid] = obj
        tp = type(obj)
        return {
            "$t": "handle",
            "id": hid,
            "type": f"{tp.__module__}.{tp.__qualname__}",
            "callable": callable(obj),
        }

    def _resolve(self, node: dict[str, Any]) -> object:
        hid = node.get("id")
        if not isinstance(hid, str) or hid not in self.objects:
            raise LookupError("stale or unknown handle (the learner process may have been restarted)")
        obj = self.objects[hid]
        for name in node.get("path") or []:
            obj = getattr(obj, str(name))
        return obj

    def decode(self, tree: Any, buffers: list[bytes]) -> Any:
        return decode_value(tree, buffers, self._resolve)

    # -- files
    def write_files(self, frame: Frame) -> None:
        entries = frame.header.get("files")
        if not isinstance(entries, list):
            raise ProtocolError("files frame without a file list")
        root = Path(self.root)
        for entry in entries:
            rel = str(entry.get("path", ""))
            parts = Path(rel).parts
            if not rel or rel.startswith("/") or ".." in parts:
                raise ProtocolError(f"refusing workspace path {rel!r}")
            idx = entry.get("b")
            if type(idx) is not int or not 0 <= idx < len(frame.buffers):
                raise ProtocolError("bad buffer index in files frame")
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(frame.buffers[idx])
        for info in frame.header.get("builds") or []:  # pragma: no cover - a Rust step (module 2's runs)
            if not isinstance(info, dict):
                raise ProtocolError("bad build entry in files frame")
            build = CrateBuild(root, info)
            self.builds[build.module_name] = build
        sys.path.insert(0, self.root)
        importlib.invalidate_caches()

    # -- ops
    def execute(self, header: dict[str, Any], buffers: list[bytes]) -> tuple[Any, list[bytes]]:
        op = header.get("op")
        out: list[bytes] = []
        if op == "import":
            name = str(header.get("name", ""))
            if not _MODULE_NAME.match(name):
                raise ValueError(f"not a module name: {name!r}")
            build = self.builds.get(name.partition(".")[0])
            if build is not None:  # pragma: no cover - a Rust step (module 2's runs)
                build.load()
            return self._handle(importlib.import_module(name)), out
        if op == "release":
            for hid in header.get("ids") or []:
                self.objects.pop(str(hid), None)
            return None, out
        target = self._resolve(header.get("target") or {})
        if op == "call":
            args = self.decode(header.get("args", []), buffers)
            kwargs = self.decode(header.get("kwargs", {}), buffers)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ProtocolError("call needs a list of args and a dict of kwargs")
            result: Any = target(*args, **kwargs)  # type: ignore[operator]
        elif op == "value":
            return encode_value(target, out), out
        elif op == "setattr":
            setattr(target, str(header.get("name")), self.decode(header.get("value"), buffers))
            result = None
        elif op == "getitem":
            result = target[self.decode(header.get("key"), buffers)]  # type: ignore[index]
        elif op == "len":
            result = len(target)  # type: ignore[arg-type]
        elif op == "iter":
            result = list(target)  # type: ignore[call-overload]
        elif op == "repr":
            result = clean_text(repr(target)[:MAX_MESSAGE])
        elif op == "str":
            result = clean_text(str(target)[:MAX_MESSAGE])
        else:
            raise ProtocolError(f"unknown op {str(op)[:40]!r}")
        return encode_value(result, out, self._handle), out

    def error(self, exc: BaseException) -> dict[str, Any]:
        kind = "not_data" if isinstance(exc, NotData) else "exception"
        note = disk_cap_note(exc, self.root)
        return {
            "type": clean_text(type(exc).__name__),
            "message": clean_text((f"{exc} ({note})" if note else str(exc))[:MAX_MESSAGE]),
            "traceback": clean_text(learner_traceback(exc, self.root)),
            "kind": "syntax" if type(exc).__name__ in _SYNTAX_ERRORS else kind,
        }


def serve(channel: Channel, host: Host, pump: OutputPump | None) -> None:
    """Answer ops until the channel closes or an ``exit`` frame arrives.

    Only this process speaks on the channel: a process the learner's code forked that returns into the host (an
    ``os.fork()`` with no exit of its own) leaves at once, before it could answer the call a second time, read
    the grader's next frames or drain the host's output pipes (golden ``fork_returns_twice``)."""
    owner = os.getpid()
    while True:
        frame = channel.recv()
        if frame is None or frame.kind == "exit":
            return
        if frame.kind != "op":
            raise ProtocolError(f"unexpected frame {frame.kind!r}")
        reply: dict[str, Any] = {"kind": "reply", "id": frame.header.get("id")}
        buffers: list[bytes] = []
        try:
            value, buffers = host.execute(frame.header, frame.buffers)
            reply.update(ok=True, value=value)
        except BaseException as exc:  # learner code may raise anything, SystemExit included
            reply.update(ok=False, error=host.error(exc))
            buffers = []
        finally:
            if os.getpid() != owner:
                os._exit(0)  # pragma: no cover - runs in the forked child, whose coverage is never saved
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # learner may have replaced or closed it
                    pass
            if pump is not None:
                pump.drain()
        try:
            channel.send(reply, buffers)
        except (ValueError, RecursionError) as exc:  # encoding failed before anything was written
            error = NotData(f"the result cannot be sent to the grader: {exc}")
            channel.send({"kind": "reply", "id": reply["id"], "ok": False, "error": host.error(error)})


def _redirect() -> tuple[Channel, dict[str, int]]:  # pragma: no cover - runs only as the sandboxed process
    chan_in, chan_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    fds: dict[str, int] = {}
    for name, fd in (("stdout", 1), ("stderr", 2)):
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        fds[name] = r
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    channel = Channel(os.fdopen(chan_in, "rb"), os.fdopen(chan_out, "wb"))
    return channel, fds


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - runs only as the sandboxed process
    parser = argparse.ArgumentParser(
        description="nanochat Lab learner host (runs inside the learner sandbox)"
    )
    parser.add_argument("--runtime", choices=["python", "torch"], default="python", help="warm-up imports")
    args = parser.parse_args(argv)
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    channel, fds = _redirect()
    if args.runtime == "torch":
        # the point of the torch runtime is to pay these imports before the submission; torch.optim imports
        # dynamo on the first optimizer a learner builds: seconds that would count against a call's deadline
        # (modules 5-7) if they were not paid here
        import numpy  # noqa: F401
        import torch._dynamo  # noqa: F401
    channel.send({"kind": "ready", "runtime": args.runtime, "pid": os.getpid()})
    host = Host(channel, os.getcwd())
    frame = channel.recv()
    if frame is None:
        return 0
    if frame.kind != "files":
        raise ProtocolError(f"expected a files frame, got {frame.kind!r}")
    host.write_files(frame)
    pump = OutputPump(channel, fds)
    pump.start()
    channel.send({"kind": "setup_done"})
    serve(channel, host, pump)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
