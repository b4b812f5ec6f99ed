"""The learner host's op execution, handles, file writing, tracebacks and output pump (in-process)."""

from __future__ import annotations

import errno
import io
import os
import resource
import sys
import threading
import time
import uuid

import pytest

from grading.engine import learner_host
from grading.engine.learner_host import Host, OutputPump, disk_cap_note, learner_traceback, serve
from grading.engine.protocol import Channel, Frame, ProtocolError, decode_value, encode_frame, read_frame


class Recorder:
    """A channel stand-in that keeps sent frames."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict, list[bytes]]] = []

    def send(self, header, buffers=None):
        self.sent.append((header, buffers or []))


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    h = Host(Recorder(), str(tmp_path))  # type: ignore[arg-type]
    source = (
        "import os\n"
        "class Box:\n"
        "    def __init__(self, v):\n"
        "        self.v = v\n"
        "        self.items = [1, 2, 3]\n"
        "    def double(self):\n"
        "        return self.v * 2\n"
        "def boom():\n"
        "    return helper()\n"
        "def helper():\n"
        "    raise KeyError('nope')\n"
        "def leave():\n"
        "    raise SystemExit(3)\n"
        "def say(x):\n"
        "    print('said', x)\n"
        "    return x\n"
        "def garbled():\n"
        "    return 'half a pair: \\ud800'\n"
        "def bad_text():\n"
        "    raise ValueError('half a pair: \\ud800, a NUL: \\x00')\n"
    )
    name = f"hostmod_{uuid.uuid4().hex}"  # unique: id() is reused once an object dies, and sys.modules caches
    h.write_files(
        Frame({"kind": "files", "files": [{"path": f"pkg_{name}/{name}.py", "b": 0}]}, [source.encode()])
    )
    (tmp_path / f"pkg_{name}" / "__init__.py").write_text("")
    h.modname = f"pkg_{name}.{name}"  # type: ignore[attr-defined]
    return h


def op(host, **header):
    tree, buffers = host.execute(header, [])
    return decode_value(tree, buffers, lambda n: n)


def test_import_returns_a_handle_and_calls_return_data(host):
    mod = op(host, op="import", name=host.modname)
    assert mod["$t"] == "handle" and mod["type"] == "builtins.module"
    box = op(host, op="call", target={"id": mod["id"], "path": ["Box"]}, args=[21], kwargs={})
    assert box["$t"] == "handle" and box["type"].endswith(".Box")
    assert op(host, op="call", target={"id": box["id"], "path": ["double"]}, args=[], kwargs={}) == 42
    assert op(host, op="value", target={"id": box["id"], "path": ["v"]}) == 21


def test_attribute_ops_work_on_handles(host):
    mod = op(host, op="import", name=host.modname)
    box = op(host, op="call", target={"id": mod["id"], "path": ["Box"]}, args=[1], kwargs={})
    ref = {"id": box["id"], "path": []}
    op(host, op="setattr", target=ref, name="v", value=5)
    assert op(host, op="value", target={"id": box["id"], "path": ["v"]}) == 5
    items = {"id": box["id"], "path": ["items"]}
    assert op(host, op="getitem", target=items, key=1) == 2
    assert op(host, op="len", target=items) == 3
    assert op(host, op="iter", target=items) == [1, 2, 3]
    assert op(host, op="repr", target=items) == "[1, 2, 3]"
    assert op(host, op="str", target=ref).startswith("<")
    assert op(host, op="release", ids=[box["id"]]) is None
    with pytest.raises(LookupError):
        op(host, op="value", target=ref)


def test_handles_can_be_passed_back_as_arguments(host):
    mod = op(host, op="import", name=host.modname)
    box = op(host, op="call", target={"id": mod["id"], "path": ["Box"]}, args=[4], kwargs={})
    args = [{"$t": "handle", "id": box["id"], "path": ["v"]}]
    assert op(host, op="call", target={"id": mod["id"], "path": ["say"]}, args=args, kwargs={}) == 4


@pytest.mark.parametrize(
    "header",
    [
        {"op": "import", "name": "os; import sys"},
        {"op": "call", "target": {"id": "nope"}},
        {"op": "teleport", "target": None},
    ],
)
def test_bad_ops_raise(host, header):
    if header["op"] == "teleport":
        mod = op(host, op="import", name=host.modname)
        header = {**header, "target": {"id": mod["id"]}}
    with pytest.raises((ValueError, LookupError, ProtocolError)):
        host.execute(header, [])


def test_call_arguments_must_be_a_list_and_a_dict(host):
    mod = op(host, op="import", name=host.modname)
    with pytest.raises(ProtocolError):
        host.execute({"op": "call", "target": {"id": mod["id"]}, "args": {}, "kwargs": {}}, [])


def test_value_of_a_non_data_object_is_a_not_data_error(host):
    mod = op(host, op="import", name=host.modname)
    with pytest.raises(ProtocolError) as info:
        host.execute({"op": "value", "target": {"id": mod["id"]}}, [])
    assert host.error(info.value)["kind"] == "not_data"


def test_errors_carry_a_learner_facing_traceback(host, tmp_path):
    mod = op(host, op="import", name=host.modname)
    try:
        host.execute(
            {"op": "call", "target": {"id": mod["id"], "path": ["boom"]}, "args": [], "kwargs": {}}, []
        )
    except KeyError as exc:
        err = host.error(exc)
    assert err["type"] == "KeyError" and err["kind"] == "exception"
    tb = err["traceback"]
    assert "in boom" in tb and "in helper" in tb and "learner_host" not in tb and str(tmp_path) not in tb
    assert tb.splitlines()[-1] == "KeyError: 'nope'"


def test_syntax_errors_are_tagged_and_show_the_relative_file(tmp_path):
    host = Host(Recorder(), str(tmp_path))  # type: ignore[arg-type]
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n")
    try:
        compile(path.read_text(), str(path), "exec")
    except SyntaxError as exc:
        err = host.error(exc)
    assert err["kind"] == "syntax" and 'File "broken.py", line 1' in err["traceback"]
    assert str(tmp_path) not in err["traceback"]


def statvfs(free_bytes: int, free_inodes: int, *, size: int = 256 * 2**20, inodes: int = 16384):
    """An ``os.statvfs`` result of a file system of ``size`` bytes and ``inodes`` inodes (4 KiB blocks)."""
    blocks, free = size // 4096, free_bytes // 4096
    return os.statvfs_result((4096, 4096, blocks, free, free, inodes, free_inodes, free_inodes, 0, 255))


def test_a_full_workspace_names_its_caps(monkeypatch):
    sizes = {"/work": statvfs(0, 10), "/tmp": statvfs(60 * 2**20, 900, size=64 * 2**20)}

    def fake(path):
        if path not in sizes:
            raise FileNotFoundError(path)
        return sizes[path]

    monkeypatch.setattr(learner_host.os, "statvfs", fake)
    err = Host(Recorder(), "/work").error(OSError(errno.ENOSPC, "No space left on device"))  # type: ignore[arg-type]
    assert err["message"] == (
        "[Errno 28] No space left on device (/work is full: the sandbox caps it at 256 MiB and 16384 files)"
    )


def test_a_workspace_out_of_inodes_is_full_too(monkeypatch):
    monkeypatch.setattr(
        learner_host.os, "statvfs", lambda path: statvfs(200 * 2**20, 0 if path == "/work" else 9)
    )
    note = disk_cap_note(OSError(errno.ENOSPC, "No space left on device"), "/work")
    assert note == "/work is full: the sandbox caps it at 256 MiB and 16384 files"


def test_no_space_with_no_full_file_system_names_every_cap(tmp_path):
    note = disk_cap_note(OSError(errno.ENOSPC, "No space left on device"), str(tmp_path / "missing"))
    assert note.startswith("the sandbox caps /tmp at ") and ", /dev/shm at " in note


def test_a_file_too_large_names_the_file_size_cap():
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (5 * 2**20, hard))
    try:
        note = disk_cap_note(OSError(errno.EFBIG, "File too large"), "/work")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert note == "the sandbox caps each file at 5 MiB"


@pytest.mark.parametrize(
    "exc",
    [OSError(errno.EFBIG, "File too large"), OSError(errno.ENOENT, "gone"), ValueError("no")],
    ids=["efbig-without-a-cap", "another-errno", "not-an-os-error"],
)
def test_other_errors_get_no_cap_note(exc):
    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
        pytest.skip("this process has a file size limit")
    assert disk_cap_note(exc, "/work") == ""


def test_traceback_without_learner_frames_has_only_the_exception_line():
    try:
        raise ValueError("x")
    except ValueError as exc:
        assert learner_traceback(exc, "/nonexistent") == "ValueError: x"


@pytest.mark.parametrize(
    "entries",
    [
        [{"path": "../escape.py", "b": 0}],
        [{"path": "/etc/passwd", "b": 0}],
        [{"path": "", "b": 0}],
        [{"path": "ok.py", "b": 7}],
    ],
)
def test_workspace_writes_refuse_unsafe_entries(tmp_path, entries):
    host = Host(Recorder(), str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        host.write_files(Frame({"kind": "files", "files": entries}, [b"x"]))
    with pytest.raises(ProtocolError):
        host.write_files(Frame({"kind": "files"}, []))


def _pipe_channel():
    a_r, b_w = os.pipe()
    b_r, a_w = os.pipe()
    return Channel(os.fdopen(a_r, "rb"), os.fdopen(a_w, "wb")), Channel(
        os.fdopen(b_r, "rb"), os.fdopen(b_w, "wb")
    )


def test_serve_answers_ops_in_order_and_turns_exceptions_into_error_replies(host):
    ours, theirs = _pipe_channel()
    host.channel = theirs
    thread = threading.Thread(target=serve, args=(theirs, host, None), daemon=True)
    thread.start()
    ours.send({"kind": "op", "id": 1, "op": "import", "name": host.modname})
    reply = ours.recv()
    assert reply.header["ok"] is True
    hid = reply.header["value"]["id"]
    ours.send(
        {
            "kind": "op",
            "id": 2,
            "op": "call",
            "target": {"id": hid, "path": ["leave"]},
            "args": [],
            "kwargs": {},
        }
    )
    reply = ours.recv()
    assert (
        reply.header["id"] == 2
        and reply.header["ok"] is False
        and reply.header["error"]["type"] == "SystemExit"
    )
    ours.send({"kind": "exit"})
    thread.join(5)
    assert not thread.is_alive()


def test_serve_survives_a_broken_stdout_and_drains_output_before_replying(host, monkeypatch):
    class Broken:
        def flush(self):
            raise ValueError("closed")

    ours, theirs = _pipe_channel()
    r, w = os.pipe()
    pump = OutputPump(theirs, {"stdout": r})
    os.write(w, b"printed first\n")
    monkeypatch.setattr(sys, "stdout", Broken())
    ours.send({"kind": "op", "id": 1, "op": "import", "name": host.modname})
    ours.send({"kind": "exit"})
    serve(theirs, host, pump)
    monkeypatch.undo()
    first, second = ours.recv(), ours.recv()
    assert first.header == {"kind": "output", "stream": "stdout", "data": "printed first\n"}
    assert second.header["kind"] == "reply" and second.header["ok"] is True
    os.close(w)


def test_the_output_pump_thread_forwards_without_being_asked():
    rec = Recorder()
    r, w = os.pipe()
    OutputPump(rec, {"stderr": r}).start()  # type: ignore[arg-type]
    os.write(w, b"live\n")
    for _ in range(100):
        if rec.sent:
            break
        time.sleep(0.02)
    assert rec.sent[0][0] == {"kind": "output", "stream": "stderr", "data": "live\n"}


def test_serve_refuses_frames_that_are_not_ops(host):
    ours, theirs = _pipe_channel()
    ours.send({"kind": "event"})
    with pytest.raises(ProtocolError):
        serve(theirs, host, None)


def test_output_pump_turns_pipe_bytes_into_output_frames():
    rec = Recorder()
    r, w = os.pipe()
    pump = OutputPump(rec, {"stdout": r})  # type: ignore[arg-type]
    os.write(w, "héllo ".encode()[:2])
    pump.drain()
    os.write(w, "héllo ".encode()[2:] + b"world\n")
    pump.drain()
    pump.drain()
    os.close(w)
    assert "".join(h["data"] for h, _ in rec.sent) == "héllo world\n"
    assert all(h == {"kind": "output", "stream": "stdout", "data": h["data"]} for h, _ in rec.sent)


def test_a_frame_written_by_the_host_reads_back():
    buf = io.BytesIO()
    Channel(io.BytesIO(), buf).send({"kind": "reply", "id": 1, "ok": True, "value": [1, 2]})
    frame = read_frame(io.BytesIO(buf.getvalue()))
    assert frame is not None and frame.header["value"] == [1, 2]
    assert encode_frame({"kind": "x"}) == encode_frame({"kind": "x"}, [])


def _serve_one_call(host, name):
    ours, theirs = _pipe_channel()
    thread = threading.Thread(target=serve, args=(theirs, host, None), daemon=True)
    thread.start()
    ours.send({"kind": "op", "id": 1, "op": "import", "name": host.modname})
    hid = ours.recv().header["value"]["id"]
    call = {
        "kind": "op",
        "id": 2,
        "op": "call",
        "target": {"id": hid, "path": [name]},
        "args": [],
        "kwargs": {},
    }
    ours.send(call)
    thread.join(1.0)  # the exit below ends it, unless sending the reply killed the loop
    assert thread.is_alive(), "the host stopped serving"
    reply = ours.recv()
    ours.send({"kind": "exit"})
    thread.join(5)
    return reply.header


def test_a_result_the_pipe_cannot_carry_becomes_an_error_reply(host):
    reply = _serve_one_call(host, "garbled")
    assert reply["ok"] is False and reply["error"]["kind"] == "not_data"
    assert "cannot be sent to the grader" in reply["error"]["message"]


def test_error_text_reaches_the_runner_as_valid_unicode_without_nul(host):
    reply = _serve_one_call(host, "bad_text")
    assert reply["error"]["message"] == "half a pair: \ufffd, a NUL: \ufffd"
    assert "\x00" not in reply["error"]["traceback"] and "\ud800" not in reply["error"]["traceback"]
