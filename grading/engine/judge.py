"""The TRUSTED side: runs a module's pytest tests in the judge sandbox and reports them as events.

Started as ``python -s -m grading.engine.judge --runtime python|torch``; the frame channel is its own
stdin/stdout (moved to private descriptors at start; pytest's own output goes to stderr).  Design choices:
- The judge can start warm: it imports pytest (and torch) first, then waits for a ``start`` frame naming the
  module's folder inside the sandbox and carrying the submitted files (for static checks via ``learner.files``).
- Learner code never runs here.  The ``learner`` fixture is a proxy: every remote operation is an ``op``
  frame to the runner, which relays it to the learner host and returns the reply.  Replies decode to plain
  data (builtins, tensors, arrays) or :class:`RemoteProxy` handles whose ``==`` and ``bool`` are local, so a
  learner object cannot answer "yes" to an assertion.
- Visibility comes from the folder (``tests/visible`` or ``tests/hidden``), the task section from the
  ``step(id)`` marker, the suggested hint from ``hint(id)``.  The judge reports everything; the runner strips
  hidden tests down to name, status and a neutral message.
- A test whose failure comes from learner code (an exception, a timeout, a crash) has status ``error``;
  a failed assertion has status ``fail``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from .errors import LearnerCrashed, LearnerError, LearnerTimeout
from .protocol import Channel, ProtocolError, decode_value, encode_value

MAX_MESSAGE = 4000

#: A module's graded training run (minutes of CPU): the bug catalogue's CI checks leave it out and catch the
#: step's bugs with its cheap tests (DECISIONS.md, "CI budget"); graders run it like any other test.
GRADED_RUN_MARKER = "graded_run: the module's graded training run; the bug catalogue's CI checks leave it out"


class LearnerClient:
    """Sends ``op`` frames and waits for the matching ``reply``."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        # the last call into learner code that was stopped (timeout) or lost its process, during this test
        self.stopped: LearnerError | None = None
        self._ids = itertools.count(1)

    def request(self, op: str, **fields: Any) -> Any:
        buffers: list[bytes] = []
        header: dict[str, Any] = {"kind": "op", "op": op, "id": next(self._ids)}
        for key, value in fields.items():
            header[key] = (
                encode_value(value, buffers, _encode_proxy)
                if key in ("args", "kwargs", "key", "value")
                else value
            )
        self.channel.send(header, buffers)
        frame = self.channel.recv()
        if frame is None:
            raise LearnerCrashed("GraderError", "the runner closed the channel")
        if frame.kind != "reply" or frame.header.get("id") != header["id"]:
            raise ProtocolError(f"unexpected frame {frame.kind!r} while waiting for a reply")
        if frame.header.get("ok") is True:
            return decode_value(frame.header.get("value"), frame.buffers, self._proxy)
        err = frame.header.get("error")
        if not isinstance(err, dict):
            raise ProtocolError("error reply without an error object")
        cls = {"timeout": LearnerTimeout, "crashed": LearnerCrashed}.get(str(err.get("kind")), LearnerError)
        exc = cls(
            str(err.get("type", "Error"))[:200],
            str(err.get("message", ""))[:MAX_MESSAGE],
            str(err.get("traceback", ""))[:8000],
        )
        if cls is not LearnerError:
            self.stopped = exc
        raise exc

    def _proxy(self, node: dict[str, Any]) -> RemoteProxy:
        hid = node.get("id")
        if not isinstance(hid, str):
            raise ProtocolError("handle without an id")
        return RemoteProxy(self, hid, (), str(node.get("type", "object"))[:200])


def _encode_proxy(obj: object) -> dict[str, Any]:
    if isinstance(obj, RemoteProxy):
        return obj._ref()
    raise ProtocolError(f"cannot send a {type(obj).__name__} to learner code (only data and learner handles)")


class RemoteProxy:
    """A learner-side object (or an attribute path from one).  Attribute access is local and lazy."""

    __slots__ = ("_client", "_id", "_path", "_type")
    _client: LearnerClient
    _id: str
    _path: tuple[str, ...]
    _type: str

    def __init__(self, client: LearnerClient, hid: str, path: tuple[str, ...], type_name: str) -> None:
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_type", type_name)

    def _ref(self) -> dict[str, Any]:
        return {"$t": "handle", "id": self._id, "path": list(self._path)}

    def __getattr__(self, name: str) -> RemoteProxy:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return RemoteProxy(self._client, self._id, (*self._path, name), self._type)

    def __setattr__(self, name: str, value: object) -> None:
        self._client.request("setattr", target=self._ref(), name=name, value=value)

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return self._client.request("call", target=self._ref(), args=list(args), kwargs=kwargs)

    def __getitem__(self, key: object) -> Any:
        return self._client.request("getitem", target=self._ref(), key=key)

    def __len__(self) -> int:
        try:
            n = self._client.request("len", target=self._ref())
        except LearnerError as exc:
            if exc.type_name == "TypeError":  # list(proxy) probes len() first; keep Python's protocol
                raise TypeError(exc.message) from None
            raise
        if type(n) is not int:
            raise ProtocolError("len() did not return an int")
        return n

    def __iter__(self) -> Any:
        return iter(self._client.request("iter", target=self._ref()))

    def __repr__(self) -> str:
        where = ".".join(self._path)
        return f"<learner {self._type}{' .' + where if where else ''}>"


class Learner:
    """The ``learner`` fixture: imports learner modules and reads learner values."""

    def __init__(self, client: LearnerClient, files: dict[str, str]) -> None:
        self._client = client
        self.files = dict(files)

    def module(self, name: str) -> RemoteProxy:
        """Import ``name`` in the learner process; return a proxy for it."""
        proxy = self._client.request("import", name=name)
        if not isinstance(proxy, RemoteProxy):
            raise ProtocolError("import did not return a handle")
        return proxy

    def value(self, proxy: object) -> Any:
        """Fetch the data behind a proxy (attribute path); raises ``LearnerError`` if it is not data."""
        if not isinstance(proxy, RemoteProxy):
            return proxy
        return self._client.request("value", target=proxy._ref())

    def repr(self, proxy: RemoteProxy) -> str:
        """``repr()`` computed in the learner process."""
        return str(self._client.request("repr", target=proxy._ref()))

    def str(self, proxy: RemoteProxy) -> str:
        """``str()`` computed in the learner process."""
        return str(self._client.request("str", target=proxy._ref()))


class Metrics:
    """The ``metrics`` fixture: numbers a test wants charted, sent as ``metric`` events."""

    def __init__(self, plugin: JudgePlugin, nodeid: str) -> None:
        self._plugin = plugin
        self._nodeid = nodeid

    def record(self, name: str, value: float) -> None:
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"metric {name} is not finite")
        self._plugin.metric(self._nodeid, str(name), v)

    def series(
        self,
        name: str,
        values: list[float],
        *,
        x: list[float] | None = None,
        title: dict[str, str] | None = None,
        x_label: dict[str, str] | None = None,
    ) -> None:
        """A series to chart. ``x``: its x values (steps, merges, tokens ...; default: the index); ``title`` and
        ``x_label``: the chart's title and x-axis label, ``{"en": ..., "zh": ...}`` (default: the metric's name and
        "step"). Without any of them the series travels as a plain list."""
        vals = [float(v) for v in values]
        if not all(math.isfinite(v) for v in vals):
            raise ValueError(f"metric series {name} has non-finite values")
        if x is None and title is None and x_label is None:
            self._plugin.metric(self._nodeid, str(name), vals)
            return
        series: dict[str, Any] = {"y": vals}
        if x is not None:
            xs = [float(v) for v in x]
            if len(xs) != len(vals) or not all(math.isfinite(v) for v in xs):
                raise ValueError(f"metric series {name}: x must be {len(vals)} finite numbers")
            series["x"] = xs
        for key, text in (("title", title), ("x_label", x_label)):
            if text is not None:
                if set(text) != {"en", "zh"} or not all(isinstance(v, str) for v in text.values()):
                    raise ValueError(f"metric series {name}: {key} must be {{'en': str, 'zh': str}}")
                series[key] = dict(text)
        self._plugin.metric(self._nodeid, str(name), series)


def _assertion_message(text: str) -> str:
    """A failed assertion as the learner reads it: the test's own sentence when it has one, without pytest's
    ``assert a == b`` introspection that repeats it; a bare ``assert`` keeps the introspection (its only text)."""
    head, sep, _ = text.partition("\nassert ")
    if sep and head.startswith("AssertionError: ") and head[len("AssertionError: ") :].strip():
        return head[len("AssertionError: ") :].strip()
    return text


def _visibility(nodeid: str) -> str:
    return "hidden" if nodeid.startswith("hidden/") else "visible"


def _marker_arg(item: pytest.Item, name: str) -> str | None:
    marker = item.get_closest_marker(name)
    if marker is None or not marker.args:
        return None
    return str(marker.args[0])


class JudgePlugin:
    """pytest plugin object: fixtures, markers, and one event per collected/started/finished test."""

    def __init__(self, channel: Channel, files: dict[str, str]) -> None:
        self.channel = channel
        self.client = LearnerClient(channel)
        self.files = files
        self.tests: dict[str, dict[str, Any]] = {}
        self.metrics_of: dict[str, dict[str, Any]] = {}
        self.done_sent = False

    def event(self, event: dict[str, Any]) -> None:
        self.channel.send({"kind": "event", "event": event})

    def metric(self, nodeid: str, name: str, value: float | list[float] | dict[str, Any]) -> None:
        self.metrics_of.setdefault(nodeid, {})[name] = value
        key = "series" if isinstance(value, list | dict) else "value"
        self.event({"type": "metric", "test_id": nodeid, "name": name, key: value})

    # -- hooks
    @pytest.hookimpl
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "step(id): the module.yaml step this test belongs to")
        config.addinivalue_line("markers", "hint(id): the hint to suggest when this test fails")
        config.addinivalue_line(
            "markers",
            "lab_addition(deviation): the test checks something nanochat 48abd7d does not do or name; the "
            "argument is the id of the module.yaml deviation that explains it",
        )
        config.addinivalue_line("markers", GRADED_RUN_MARKER)

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        tests = []
        for item in session.items:
            info = {
                "id": item.nodeid,
                "name": item.name,
                "step": _marker_arg(item, "step"),
                "hint": _marker_arg(item, "hint"),
                "visibility": _visibility(item.nodeid),
            }
            self.tests[item.nodeid] = {**info, "status": None, "message": "", "duration_seconds": 0.0}
            tests.append(info)
        self.event({"type": "collected", "tests": tests})

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.client.stopped = None
        info = self.tests.get(nodeid, {})
        self.event(
            {
                "type": "test_started",
                "id": nodeid,
                "name": info.get("name", nodeid),
                "step": info.get("step"),
                "visibility": _visibility(nodeid),
            }
        )

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        test = self.tests.setdefault(
            item.nodeid, {"id": item.nodeid, "name": item.name, "status": None, "message": ""}
        )
        test["duration_seconds"] = test.get("duration_seconds", 0.0) + float(report.duration)
        if report.passed:
            if call.when == "call" and test["status"] is None:
                test["status"] = "pass"
            return
        if report.skipped:
            if test["status"] is None:
                test["status"] = "skip"
                longrepr = report.longrepr
                test["message"] = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)[:MAX_MESSAGE]
            return
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, LearnerError):
            status, message = "error", exc.describe()
        elif self.client.stopped is not None:
            # the test caught the stop and failed on what it saw (e.g. the error's type name): the stop is the news
            status, message = "error", self.client.stopped.describe()
        elif call.when != "call":
            status, message = "error", f"{call.when} failed: {report.longreprtext[-MAX_MESSAGE:]}"
        else:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = _assertion_message(crash.message if crash is not None else report.longreprtext)
            status = "fail"
        if test["status"] in (None, "pass"):
            test["status"], test["message"] = status, message[:MAX_MESSAGE]

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        test = self.tests.get(nodeid)
        if test is None:  # pragma: no cover - pytest always collects before it runs
            return
        result = {
            "id": nodeid,
            "name": test["name"],
            "step": test.get("step"),
            "status": test["status"] or "error",
            "message": test["message"],
            "output": "",
            "duration_seconds": round(float(test.get("duration_seconds", 0.0)), 6),
            "visibility": _visibility(nodeid),
            "hint": test.get("hint"),
            "metrics": self.metrics_of.get(nodeid, {}),
        }
        self.event({"type": "test_finished", "test": result})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # Every test has been reported: tell the runner now, not after pytest's own cleanup (seconds of
        # garbage collection with torch loaded); the runner stops the judge once it has the verdict.
        self.done(int(exitstatus))

    def done(self, exit_code: int) -> None:
        if not self.done_sent:
            self.done_sent = True
            self.channel.send({"kind": "done", "exit_code": exit_code})

    # -- fixtures
    @pytest.fixture
    def learner(self) -> Learner:
        return Learner(self.client, self.files)

    @pytest.fixture
    def metrics(self, request: pytest.FixtureRequest) -> Metrics:
        return Metrics(self, request.node.nodeid)


def run_tests(channel: Channel, module_dir: Path, files: dict[str, str]) -> int:
    """Run the module's visible and hidden tests; return pytest's exit code."""
    tests_dir = module_dir / "tests"
    paths = [str(tests_dir / sub) for sub in ("visible", "hidden") if (tests_dir / sub).is_dir()]
    plugin = JudgePlugin(channel, files)
    ini = Path(os.environ.get("TMPDIR", "/tmp")) / f"judge-{os.getpid()}.ini"
    ini.write_text("[pytest]\n")
    args = [
        *(paths or [str(tests_dir)]),
        f"--rootdir={tests_dir}",
        "-c",
        str(ini),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:unraisableexception",
        "-p",
        "no:threadexception",
        "-p",
        "no:faulthandler",
        "-q",
        "--tb=short",
        "-o",
        "python_files=test_*.py",
    ]
    code = int(pytest.main(args, plugins=[plugin]))
    plugin.done(code)
    return code


def warm_torch() -> None:
    """Pay torch's one-off costs before a submission arrives (the first ``assert_close`` imports a lot)."""
    import numpy  # noqa: F401
    import torch

    torch.testing.assert_close(torch.softmax(torch.zeros(2, 2), -1), torch.full((2, 2), 0.5))


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - runs only as the sandboxed process
    parser = argparse.ArgumentParser(description="nanochat Lab judge (runs a module's tests in a sandbox)")
    parser.add_argument("--runtime", choices=["python", "torch"], default="python", help="warm-up imports")
    args = parser.parse_args(argv)
    chan_in, chan_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    channel = Channel(os.fdopen(chan_in, "rb"), os.fdopen(chan_out, "wb"))
    if args.runtime == "torch":
        warm_torch()
    channel.send({"kind": "ready", "runtime": args.runtime, "pid": os.getpid()})
    frame = channel.recv()
    if frame is None:
        return 0
    if frame.kind != "start":
        raise ProtocolError(f"expected a start frame, got {frame.kind!r}")
    files = frame.header.get("files") or {}
    run_tests(channel, Path(str(frame.header["module_dir"])), {str(k): str(v) for k, v in files.items()})
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
