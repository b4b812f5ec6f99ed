"""One grading job: learner host in sandbox B, judge in sandbox A, the runner relaying between them.

Design choices:
- The runner is the only party that talks to both sides.  It relays the judge's ``op`` frames to the learner
  host and the replies back *without decoding values* (no torch here: the web worker never imports it),
  enforcing one pending call at a time, a per-call deadline and the learner's output cap.  Frame headers are
  decoded strictly (:mod:`.protocol`), so a reply that decoded can always be relayed; one that cannot be is
  the learner's fault, never a hung judge.
- The verdict is built here from the judge's test events and what the runner itself saw (deadlines, crashes,
  caps).  Nothing the learner process sends can become a test result: its frames are only replies to the
  call in flight and output text, checked for shape and size.  A frame that breaks the protocol ends the
  learner process; the tests that needed it fail.
- Learner problems (syntax error, exception, timeout, memory, output flood, exit) give ``status "fail"`` with
  the matching ``outcome`` and ``fault "learner"``; only what stops us from grading (judge crash, sandbox
  failure, broken module) gives ``status "error"`` with ``fault "platform"``.  A crash or kill still yields a
  full verdict: every collected test gets a status.
- Hidden tests reach the result and the events as name + status + a neutral message only.  Nothing a learner
  reads is derived from what happened during a hidden test: once the first hidden test has started, learner
  output is counted against the caps but never shown (whichever test, if any, it arrives in: a thread can
  print a hidden input later), a failing import's traceback is quoted only from a visible test, and times are
  whole seconds (durations of hidden tests, and every event's ``t``; :mod:`.redact`).  The judge runs the
  visible tests first, so this withholds nothing of theirs.
- A function of a learner module that ran past the per-call deadline is not called again in this job: each later
  call of it fails at once, saying so (``runaway``), so one endless loop costs one deadline, not one per test, and
  the tests of the other functions still get the job's time.  Functions are known by module and attribute path:
  the runner notes the handle each ``import`` reply gave (a forged one could only fail the learner's own calls).
- Two clocks: the per-call deadline (kills the learner host) and an overall wall-clock watchdog (kills both),
  both read on every pass of the loop, whatever arrives.  A call's clock starts once its learner host is set up
  (``setup_done``; the call waits for it): starting a sandbox is our time, not the learner's, however loaded
  the machine is.  Frames wait in a queue of ``SINK_FRAMES``, so a
  flooding process is slowed by its own full pipe, and a pooled learner is killed at the job's wall clock.
- A flood is bounded per job: output frames (``OUTPUT_FRAMES_MAX``) and output bytes counted on the wire
  (headers included, so empty or tiny frames are not free; an empty one is a protocol fault), live output
  events (``OUTPUT_EVENTS_MAX`` / ``OUTPUT_EVENT_CHARS``, then one summary event), metric events
  (``METRIC_EVENTS_MAX``; series downsampled to ``METRIC_POINTS``, never cut by the output caps).
- Every string in events and the result is valid Unicode without NUL (:func:`.redact.clean_tree`).
- A Rust learner file that the learner attempted (``modules.spec.crate_attempted``) is compiled by the learner
  host, in its sandbox, on the first import of the crate's module (:mod:`.rustbuild`): that one call gets the
  crate's ``build_seconds`` on top of the call deadline, and the job's wall clock and CPU seconds grow by as much.
- Tests of an ``optional`` step are shown and scored, but the run passes without them: their failures, and a
  learner process stopped during one of them, do not fail the verdict.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .messages import say
from .procs import (
    CONTENT_TARGET,
    MODULE_TARGET,
    SINK_FRAMES,
    FrameSink,
    Layout,
    Proc,
    start_judge,
    start_learner,
)
from .protocol import Frame, ProtocolError
from .redact import clean_text, clean_tree, coarse_duration, coarse_time
from .schema import SCHEMA_VERSION, validate_result
from .workspace import (
    ENGINE_KEYS,
    ModuleSpec,
    SpecError,
    SubmissionError,
    build_workspace,
    crate_attempted,
    load_module,
    validate_files,
)

log = logging.getLogger("grading.engine")
OPS = frozenset({"import", "call", "value", "setattr", "getitem", "len", "iter", "repr", "str", "release"})
DEFAULT_CALL_SECONDS = 10.0
#: Fresh learner processes started after one died, so one runaway function fails only its own tests (each
#: restart is a pooled host, and none starts past the job's wall clock; the cap bounds a crash loop's cost).
MAX_RESTARTS = 16
#: How long a learner host may take to start (pooled or fresh) before a call's own clock starts; past it, the
#: sandbox is the platform's fault (an overloaded machine), never a timeout of the learner's code.
LEARNER_BOOT_SECONDS = 60.0
#: Room in the learner's work dir for a crate's compile (its target dir and the dependency cache's copy).
BUILD_WORK_BYTES = 1024 * 1024 * 1024
JUDGE_SLACK_SECONDS = 20.0
#: A judge left behind by a stalled consumer is killed this long after the job's watchdog deadline.
JUDGE_GRACE_SECONDS = 5.0
TEST_OUTPUT_CHARS = 4000
#: Learner output shown live, per job: characters and events (each event is a database row on the platform).
OUTPUT_EVENT_CHARS = 64 * 1024
OUTPUT_EVENTS_MAX = 200
#: Output frames per job: each costs the worker some work; the learner host batches, so honest code sends few.
OUTPUT_FRAMES_MAX = 50_000
#: Points kept per metric series (evenly spaced, first and last included) and live metric events per job.
METRIC_POINTS = 500
METRIC_EVENTS_MAX = 500
OUTPUT_CUT_NOTE = "\n[more output is not shown live; each visible test's result keeps the start of its own]\n"
_HIDDEN_MESSAGES = {status: say(f"hidden.{status}") for status in ("pass", "fail", "error", "skip")}
_PRECEDENCE = [
    "platform_error",
    "sandbox_crash",
    "timeout",
    "memory_limit",
    "output_limit",
    "compile_error",
    "import_error",
    "runtime_error",
    "tests_failed",
    "ok",
]


def resolve_limits(requested: Mapping[str, Any]) -> tuple[Any, float]:
    """A module's ``limits`` (with any per-job overrides) as the sandbox's ``Limits`` and the per-call deadline:
    the engine's own keys (``call_seconds``) are taken out before the sandbox reads the rest, and a call never gets
    longer than the sandbox's wall time. Raises ``ValueError`` for a limit the sandbox does not know."""
    from sandbox.limits import resolve

    requested = dict(requested)
    engine = {k: requested.pop(k) for k in ENGINE_KEYS if k in requested}
    limits = resolve(requested)
    return limits, min(float(engine.get("call_seconds", DEFAULT_CALL_SECONDS)), limits.wall_seconds)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ended(result: Any) -> str:
    sig = getattr(result, "signal", None)
    return f"killed by signal {sig}" if sig is not None else f"exit code {getattr(result, 'exit_code', None)}"


class _Job:
    """State of one grading run; :meth:`events` is the generator behind :func:`grade`."""

    def __init__(
        self,
        module_dir: Path,
        files: dict[str, bytes],
        limits: dict[str, Any] | None,
        pool: Any,
        submission_id: str | None,
        sandbox: Any,
        queued: str | None,
        done: set[str] | None = None,
        provided: dict[str, bytes] | None = None,
    ) -> None:
        self.module_dir = Path(module_dir).resolve()
        self.files = files
        self.done_modules = done
        self.provided = provided
        self.requested = dict(limits or {})
        self.pool = pool
        self.submission_id = submission_id
        self.sandbox = sandbox
        self.t0 = time.monotonic()
        self.timestamps: dict[str, str | None] = {"queued": queued, "started": _now_iso(), "finished": None}
        self.seq = 0
        self.module: ModuleSpec | None = None
        self.learner: Proc | None = None
        self.judge: Proc | None = None
        self.sink = FrameSink(SINK_FRAMES)
        self.tests: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.current: str | None = None
        self.metrics: dict[str, Any] = {}
        self.outcomes: set[str] = set()
        self.learner_errors: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.pending: dict[str, Any] | None = None
        self.learner_dead: str | None = None
        self.restarts = 0
        self.cpu_seconds = 0.0
        self.max_rss: int | None = None
        self._seen_results: set[str] = set()
        self.workspace: dict[str, bytes] = {}
        self.limits: Any = None
        self.deadline = float("inf")
        self.output_total = 0
        self.output_frames = 0
        self.output_chars = 0
        self.output_events = 0
        self.output_cut = False
        self.metric_events = 0
        self.hidden_seen = False
        self.learner_said: set[str] = set()
        self.output_cap = 1024 * 1024
        self.call_seconds = DEFAULT_CALL_SECONDS
        self.done = False
        self.ready = {"learner": False, "judge": False}
        self.builds: list[dict[str, Any]] = []
        self.built: set[str] = set()
        self.optional: frozenset[str] = frozenset()
        self.optional_outcomes: set[str] = set()
        #: handle id of each learner module the judge imported -> its module name
        self.module_handles: dict[str, str] = {}
        #: learner functions (``module:path``) that ran past the per-call deadline -> their name as shown
        self.runaway: dict[str, str] = {}

    # ------------------------------------------------------------------ events
    def emit(self, event: dict[str, Any]) -> dict[str, Any]:
        t = time.monotonic() - self.t0
        t = coarse_time(t) if self.hidden_seen else round(t, 4)
        out = {"type": event.pop("type"), "seq": self.seq, "t": t, **event}
        self.seq += 1
        return clean_tree(out)

    def events(self) -> Iterator[dict[str, Any]]:
        yield self.emit({"type": "phase", "phase": "started"})
        try:
            yield from self._run()
        finally:
            self._cleanup()
        yield self.emit({"type": "phase", "phase": "finished"})
        yield self.emit({"type": "verdict", "result": self.result()})

    # ------------------------------------------------------------------ setup
    def _run(self) -> Iterator[dict[str, Any]]:
        try:
            self.module = load_module(self.module_dir)
        except Exception as exc:  # any failure to read content is a platform fault
            self._platform(say("setup.module", error=exc))
            return
        try:
            submitted = validate_files(self.module, self.files)
        except SubmissionError as exc:
            self.outcomes.add("compile_error")
            self.notes.append(say("setup.rejected", error=exc))
            return
        self.optional = self.module.optional_steps
        self.builds = [
            {
                "crate": entry.crate.root,
                "module": entry.crate.module,
                "path": entry.path,
                "seconds": entry.crate.build_seconds,
                "attempted": entry.path in submitted
                and crate_attempted(entry, submitted[entry.path].decode("utf-8")),
            }
            for entry in self.module.files
            if entry.crate is not None
        ]
        requested = {**self.module.limits, **self.requested}
        extra = sum(b["seconds"] for b in self.builds if b["attempted"])
        if extra:  # pragma: no cover - a Rust step (module 2's runs)
            # A compile runs inside the learner's sandbox: it gets its own time and room on top of the tests'.
            requested["wall_seconds"] = float(requested.get("wall_seconds", 30.0)) + extra
            requested["cpu_seconds"] = int(requested.get("cpu_seconds", 60)) + 2 * extra
            requested["work_bytes"] = max(int(requested.get("work_bytes", 0)), BUILD_WORK_BYTES)
        try:
            limits, self.call_seconds = resolve_limits(requested)
        except Exception as exc:  # a bad limit in module.yaml or the env is a platform fault
            self._platform(say("setup.limits", error=exc))
            return
        self.limits = limits
        self.output_cap = limits.output_bytes
        self.deadline = self.t0 + limits.wall_seconds + JUDGE_SLACK_SECONDS
        try:
            self.workspace = build_workspace(
                self.module, submitted, done=self.done_modules, provided=self.provided
            )
        except SpecError as exc:  # a starter or needed file that cannot be cut is content's fault, not theirs
            self._platform(say("setup.starter", error=exc))
            return
        try:
            self._acquire(limits)
        except Exception as exc:  # the sandbox could not start: not the learner's fault
            self.outcomes.add("sandbox_crash")
            self.notes.append(say("setup.sandbox", error=exc))
            return
        assert self.learner is not None and self.judge is not None
        # A pooled process's sandbox outlives any one job (it waited in the pool): hold both to this job's clock.
        self.learner.expire_in(limits.wall_seconds)
        self.judge.expire_in(limits.wall_seconds + JUDGE_SLACK_SECONDS + JUDGE_GRACE_SECONDS)
        if not self._send_files(self.learner):
            self.learner.kill("killed")
            self._platform(say("sandbox.boot"))
            return
        module_path = self._judge_module_path()
        text = {p: d.decode("utf-8") for p, d in submitted.items()}
        self.judge.send({"kind": "start", "module_dir": module_path, "files": text})
        yield from self._loop()

    def _acquire(self, limits: Any) -> None:
        assert self.module is not None
        runtime = self.module.runtime
        if self.sandbox is None:
            from sandbox.base import get_backend

            self.sandbox = get_backend()
        learner = self.pool.take_learner(runtime, limits) if self.pool is not None else None
        self.learner = learner or start_learner(self.sandbox, runtime, limits)
        self.learner.attach(self.sink)
        judge = (
            self.pool.take_judge(runtime, limits, self.module_dir.parent) if self.pool is not None else None
        )
        if judge is not None:
            self._judge_target = f"{CONTENT_TARGET}/{self.module_dir.name}"
        else:
            judge = start_judge(
                self.sandbox,
                runtime,
                limits,
                self.module_dir,
                Layout.detect(self.sandbox),
                target=MODULE_TARGET,
            )
            self._judge_target = MODULE_TARGET
        self.judge = judge
        self.judge.attach(self.sink)

    def _judge_module_path(self) -> str:
        return self._judge_target

    # ------------------------------------------------------------------ main loop
    def _wake(self) -> float:
        return self.deadline if self.pending is None else min(self.deadline, self.pending["deadline"])

    def _loop(self) -> Iterator[dict[str, Any]]:
        while not self.done:
            try:
                role, item = self.sink.get(timeout=max(0.0, self._wake() - time.monotonic()))
            except queue.Empty:
                pass
            else:
                if self.judge is not None and role == self.judge.tag:
                    yield from self._on_judge(item)
                elif self.learner is not None and role == self.learner.tag:
                    yield from self._on_learner(item)
            # Every pass, whatever arrived: a stream of frames must never keep the clocks from being read.
            if not self.done and time.monotonic() >= self._wake():
                yield from self._on_deadline()

    def _on_deadline(self) -> Iterator[dict[str, Any]]:
        now = time.monotonic()
        if self.pending is not None and now >= self.pending["deadline"]:
            self._on_call_deadline()
            return
        if now >= self.deadline:
            if self.pending is not None or self.learner_dead in ("timeout", "cpu_limit"):
                self.outcomes.add("timeout")
                self.notes.append(say("wall.learner", seconds=self.limits.wall_seconds))
            else:
                self._platform(say("wall.platform"))
            self.done = True
        yield from ()

    def _platform(self, message: str) -> None:
        self.outcomes.add("platform_error")
        self.notes.append(message)
        self.done = True

    # ------------------------------------------------------------------ judge side
    def _on_judge(self, item: Frame | None | Exception) -> Iterator[dict[str, Any]]:
        if not isinstance(item, Frame):
            # The judge's own output can quote hidden tests: it goes to the operator's log, never the result.
            assert self.judge is not None
            self.judge.stderr_closed.wait(1.0)
            tail = bytes(self.judge.stderr[-4000:]).decode("utf-8", "replace")
            log.error("judge of %s stopped (%s); stderr tail:\n%s", self.module_dir.name, item, tail)
            self._platform(say("grader.stopped"))
            return
        kind = item.kind
        if kind == "ready":
            self.ready["judge"] = True
            yield from self._maybe_ready()
        elif kind == "event":
            yield from self._on_judge_event(item.header.get("event"))
        elif kind == "op":
            self._relay_op(item)
        elif kind == "done":
            self.done = True
        else:
            self._platform(say("grader.frame", kind=repr(kind)))

    def _maybe_ready(self) -> Iterator[dict[str, Any]]:
        if all(self.ready.values()) and not getattr(self, "_announced", False):
            self._announced = True
            yield self.emit({"type": "phase", "phase": "sandbox_ready"})

    def _on_judge_event(self, event: Any) -> Iterator[dict[str, Any]]:
        if not isinstance(event, dict):
            self._platform(say("grader.event"))
            return
        etype = event.get("type")
        if etype == "collected":
            for info in event.get("tests") or []:
                tid = str(info["id"])
                self.order.append(tid)
                self.tests[tid] = {
                    "id": tid,
                    "name": str(info.get("name", tid)),
                    "step": info.get("step"),
                    "status": None,
                    "message": "",
                    "output": "",
                    "duration_seconds": 0.0,
                    "visibility": "hidden" if tid.startswith("hidden/") else "visible",
                    "hint": info.get("hint"),
                    "metrics": {},
                }
            yield self.emit({"type": "phase", "phase": "tests_collected", "count": len(self.order)})
        elif etype == "test_started":
            tid = str(event.get("id"))
            self.current = tid
            test = self.tests.get(tid, {})
            if test.get("visibility") == "hidden" or tid.startswith("hidden/"):
                self.hidden_seen = True
            yield self.emit(
                {
                    "type": "test_started",
                    "id": tid,
                    "name": test.get("name", tid),
                    "step": test.get("step"),
                    "visibility": test.get("visibility", "visible"),
                }
            )
        elif etype == "test_finished":
            yield from self._on_test_finished(event.get("test") or {})
        elif etype == "metric":
            yield from self._on_metric(event)

    def _on_test_finished(self, reported: dict[str, Any]) -> Iterator[dict[str, Any]]:
        tid = str(reported.get("id"))
        test = self.tests.get(tid)
        if test is None:
            return
        status = str(reported.get("status"))
        status = status if status in _HIDDEN_MESSAGES else "error"
        test["status"] = status
        test["duration_seconds"] = float(reported.get("duration_seconds") or 0.0)
        if test["visibility"] == "hidden":
            test.update(message=_HIDDEN_MESSAGES[status], output="", hint=None, metrics={})
            test["duration_seconds"] = coarse_duration(test["duration_seconds"])
        else:
            test["message"] = str(reported.get("message") or "")
            test["metrics"] = {str(k): _downsample(v) for k, v in dict(reported.get("metrics") or {}).items()}
        self.current = None
        yield self.emit({"type": "test_finished", "test": dict(test)})

    def _on_metric(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        tid = str(event.get("test_id"))
        if self.tests.get(tid, {}).get("visibility") == "hidden":
            return
        name = str(event.get("name"))
        key = "series" if "series" in event else "value"
        value = self.metrics[name] = _downsample(event.get(key))
        # Metrics have their own channel: output caps never touch them; their own cap bounds the live events
        # (the result keeps each metric's last value whatever the count).
        if self.metric_events < METRIC_EVENTS_MAX:
            self.metric_events += 1
            yield self.emit({"type": "metric", "name": name, key: value})

    def _relay_op(self, frame: Frame) -> None:
        header = frame.header
        jid = header.get("id")
        if self.pending is not None or header.get("op") not in OPS:
            self._platform(say("grader.call"))
            return
        function = self._called_function(header)
        if function is not None and function in self.runaway:
            shown = self.runaway[function]
            self._reply_error(
                jid,
                "timeout",
                "Timeout",
                say("runaway.not_run", function=shown, seconds=self.call_seconds),
            )
            return
        if (
            self.learner_dead is not None
            and header["op"] == "import"
            and self.restarts < MAX_RESTARTS
            and time.monotonic() < self.t0 + self.limits.wall_seconds
        ):
            self._restart_learner()
        if self.learner is None or self.learner_dead is not None:
            self._reply_error(jid, "crashed", "LearnerGone", self._gone_message())
            return
        # A learner host that has not said ``setup_done`` has run none of the learner's code (a restarted one, or
        # a pooled one still starting): its start-up is ours, so the call's clock starts at its ``setup_done``.
        booting = "setup_done" not in self.learner_said
        building = self._building(header)
        call_seconds = self.call_seconds + (building["seconds"] if building is not None else 0.0)
        deadline = time.monotonic() + (LEARNER_BOOT_SECONDS if booting else call_seconds)
        self.pending = {
            "jid": jid,
            "op": header["op"],
            "name": header.get("name"),
            "test": self.current,
            "deadline": deadline,
            "booting": booting,
            "call_seconds": call_seconds,
            "build": building and building["module"],
            "function": function,
        }
        if booting:  # held until the host is set up, so the runner never waits on a host that cannot take it
            self.pending["held"] = ({**header, "id": jid}, frame.buffers)
            return
        self._hand_over({**header, "id": jid}, frame.buffers, deadline)

    def _hand_over(self, header: dict[str, Any], buffers: list[bytes], deadline: float) -> None:
        """Send a call to the learner host; the call's deadline covers handing it over (a learner that stops
        reading cannot hold the runner)."""
        assert self.learner is not None
        if self.learner.send(header, buffers, deadline=deadline):
            return
        if time.monotonic() >= deadline:
            self._on_call_deadline()
        else:
            self._learner_gone(ProtocolError("the learner process closed its input"))

    def _on_call_deadline(self) -> None:
        assert self.pending is not None
        if self.pending["booting"]:
            assert self.learner is not None
            self.learner.kill("killed")
            self._platform(say("sandbox.boot"))
            return
        function = self.pending["function"]
        message = say("call.timeout", seconds=self.call_seconds)
        if function is not None:
            shown = self.runaway[function] = function.partition(":")[2]
            if not self.hidden_seen:  # which function a hidden test called is not told
                message = say("call.timeout_function", function=shown, seconds=self.call_seconds)
        self._kill_learner("timeout", message)

    def _called_function(self, header: dict[str, Any]) -> str | None:
        """``module:path`` of the learner module's function a ``call`` op calls (None for any other op, or a
        call on an object that is not one of the learner modules)."""
        target = header.get("target")
        if header.get("op") != "call" or not isinstance(target, dict):
            return None
        module = self.module_handles.get(str(target.get("id")))
        path = target.get("path")
        if module is None or not isinstance(path, list) or not path:
            return None
        return f"{module}:{'.'.join(map(str, path))}"

    def _building(self, header: dict[str, Any]) -> dict[str, Any] | None:
        """The attempted crate this ``import`` op makes the learner host compile, if it has not yet."""
        if header.get("op") != "import":
            return None
        name = str(header.get("name", "")).partition(".")[0]
        return next(
            (b for b in self.builds if b["attempted"] and b["module"] == name and name not in self.built),
            None,
        )

    def _restart_learner(self) -> None:
        """A fresh learner process for the next test, after the previous one died (timeout, crash ...)."""
        assert self.learner is not None and self.module is not None
        self._collect_usage(self.learner)
        self.restarts += 1
        runtime = self.module.runtime
        try:
            fresh = self.pool.take_learner(runtime, self.limits) if self.pool is not None else None
            fresh = fresh or start_learner(self.sandbox, runtime, self.limits)
        except Exception as exc:  # keep the dead one; the test reports the earlier death
            self.notes.append(say("restart.failed", error=exc))
            return
        fresh.attach(self.sink)
        fresh.expire_in(self.t0 + self.limits.wall_seconds - time.monotonic())
        if not self._send_files(fresh):  # keep the dead one; the test reports the earlier death
            fresh.kill("killed")
            fresh.finish()
            self.notes.append(say("restart.slow"))
            return
        self.learner_said = set()
        self.learner, self.learner_dead = fresh, None
        self.built.clear()  # the fresh host compiles again

    def _send_files(self, learner: Proc) -> bool:
        """Hand the workspace to a learner host, which must take it within ``LEARNER_BOOT_SECONDS``."""
        names = sorted(self.workspace)
        return learner.send(
            {
                "kind": "files",
                "files": [{"path": p, "b": i} for i, p in enumerate(names)],
                "builds": self.builds,
            },
            [self.workspace[p] for p in names],
            deadline=time.monotonic() + LEARNER_BOOT_SECONDS,
        )

    def _collect_usage(self, proc: Proc, timeout: float = 2.0) -> None:
        result = proc.finish(timeout=timeout)
        if result is None or proc.tag in self._seen_results:
            return
        self._seen_results.add(proc.tag)
        self.cpu_seconds += float(getattr(result, "cpu_seconds", 0.0) or 0.0)
        rss = getattr(result, "max_rss_bytes", None)
        if rss is not None:
            self.max_rss = max(self.max_rss or 0, int(rss))

    def _reply_error(self, jid: Any, kind: str, type_name: str, message: str) -> None:
        assert self.judge is not None
        self.judge.send(
            {
                "kind": "reply",
                "id": jid,
                "ok": False,
                "error": {"type": type_name, "message": message, "traceback": "", "kind": kind},
            }
        )

    def _gone_message(self) -> str:
        reasons = {
            "timeout": say("gone.timeout", seconds=self.call_seconds),
            "cpu_limit": say("gone.cpu_limit", seconds=self.limits.cpu_seconds),
            "memory_limit": say("gone.memory_limit"),
            "output_limit": say("gone.output_limit"),
            "protocol": say("gone.protocol"),
        }
        # How it ended (an exit code the code chose) is shown only while no hidden test has run.
        detail = "" if self.hidden_seen else f" ({self.learner_dead})"
        return reasons.get(self.learner_dead or "", say("gone.unexpected", detail=detail))

    # ------------------------------------------------------------------ learner side
    def _on_learner(self, item: Frame | None | Exception) -> Iterator[dict[str, Any]]:
        if self.learner_dead is not None:
            return
        if not isinstance(item, Frame):
            self._learner_gone(item)
            return
        kind = item.kind
        if kind == "output":
            yield from self._on_output(item)
        elif kind == "reply" and self.pending is not None and item.header.get("id") == self.pending["jid"]:
            self._forward_reply(item)
        elif (
            kind in ("ready", "setup_done")
            and kind not in self.learner_said
            and "setup_done" not in self.learner_said
        ):
            self.learner_said.add(kind)
            if kind == "setup_done":
                if self.pending is not None and self.pending["booting"]:  # the call's own clock starts now
                    deadline = time.monotonic() + self.pending["call_seconds"]
                    self.pending.update(booting=False, deadline=deadline)
                    header, buffers = self.pending.pop("held")
                    self._hand_over(header, buffers, deadline)
                self.ready["learner"] = True
                yield from self._maybe_ready()
        else:  # anything else, or a ``ready``/``setup_done`` said twice (a free way to flood the queue)
            self._learner_gone(ProtocolError(f"unexpected frame {kind!r}"))

    def _on_output(self, frame: Frame) -> Iterator[dict[str, Any]]:
        data, stream = frame.header.get("data"), frame.header.get("stream")
        if not isinstance(data, str) or not data or stream not in ("stdout", "stderr"):
            self._learner_gone(ProtocolError("malformed output frame"))
            return
        # Counted on the wire, header included: no frame is free, however little text it carries.
        self.output_total += frame.size
        self.output_frames += 1
        if self.output_total > self.output_cap or self.output_frames > OUTPUT_FRAMES_MAX:
            self._kill_learner(
                "output_limit",
                say("output.bytes", kib=self.output_cap // 1024)
                if self.output_total > self.output_cap
                else say("output.frames", frames=OUTPUT_FRAMES_MAX),
            )
            return
        test = self.tests.get(self.current or "")
        if self.hidden_seen or (test is not None and test["visibility"] == "hidden"):
            return  # it could echo a hidden input, now or later (a thread started in a hidden test)
        data = clean_text(data)
        if test is not None and len(test["output"]) < TEST_OUTPUT_CHARS:
            room = TEST_OUTPUT_CHARS - len(test["output"])
            test["output"] += data[:room] + ("\n[output truncated]" if len(data) > room else "")
        if self.output_cut:
            return
        if self.output_events >= OUTPUT_EVENTS_MAX or self.output_chars >= OUTPUT_EVENT_CHARS:
            self.output_cut = True
            data, stream = OUTPUT_CUT_NOTE, "stderr"
        else:
            data = data[: OUTPUT_EVENT_CHARS - self.output_chars]
            self.output_chars += len(data)
            self.output_events += 1
        yield self.emit({"type": "output", "stream": stream, "test_id": self.current, "data": data})

    def _forward_reply(self, frame: Frame) -> None:
        assert self.pending is not None and self.judge is not None
        header = frame.header
        pending, self.pending = self.pending, None
        if pending.get("build"):  # pragma: no cover - a Rust step (module 2's runs)
            self.built.add(pending["build"])
        reply: dict[str, Any] = {"kind": "reply", "id": pending["jid"]}
        if header.get("ok") is True:
            value = header.get("value")
            if pending["op"] == "import" and isinstance(value, dict) and value.get("$t") == "handle":
                self.module_handles[str(value.get("id"))] = str(pending["name"])
            reply.update(ok=True, value=value)
            self._relay_reply(reply, frame.buffers, pending)
            return
        err = header.get("error")
        if header.get("ok") is not False or not isinstance(err, dict):
            self._learner_gone(ProtocolError("malformed reply"), pending)
            return
        clean = {k: str(err.get(k, ""))[:8000] for k in ("type", "message", "traceback")}
        clean["kind"] = (
            "syntax"
            if err.get("kind") == "syntax"
            else ("not_data" if err.get("kind") == "not_data" else "exception")
        )
        self.learner_errors.append(
            {"op": pending["op"], "test": pending["test"], "hidden": self.hidden_seen, **clean}
        )
        reply.update(ok=False, error=clean)
        self._relay_reply(reply, [], pending)

    def _relay_reply(self, reply: dict[str, Any], buffers: list[bytes], pending: dict[str, Any]) -> None:
        """Hand a learner's reply to the judge; one that cannot be handed on ends the learner, not the job."""
        assert self.judge is not None
        if not self.judge.send(reply, buffers):
            # A dead judge shows up as its own end of stream (a platform fault, which outranks this).
            self._learner_gone(ProtocolError("its reply could not be relayed"), pending)

    def _in_optional(self) -> bool:
        return self.tests.get(self.current or "", {}).get("step") in self.optional

    def _add_outcome(self, outcome: str) -> None:
        """A learner outcome; one that happens in an optional step's test does not decide the verdict."""
        (self.optional_outcomes if self._in_optional() else self.outcomes).add(outcome)

    def _kill_learner(self, reason: str, message: str) -> None:
        assert self.learner is not None
        self.learner_dead = reason
        self._add_outcome(reason)
        self.notes.append(message)
        self.learner.kill(reason)
        if self.pending is not None:
            pending, self.pending = self.pending, None
            kind = "timeout" if reason == "timeout" else "crashed"
            self._reply_error(pending["jid"], kind, "Timeout" if reason == "timeout" else "Stopped", message)

    def _learner_gone(self, item: Any, pending: dict[str, Any] | None = None) -> None:
        assert self.learner is not None
        if isinstance(item, ProtocolError):
            self.learner.kill("killed")
            self.learner_dead = "protocol"
        self._collect_usage(self.learner, timeout=5.0)
        result = self.learner.finish()
        if self.learner_dead is None:
            outcome = getattr(result, "outcome", "exited")
            self.learner_dead = (
                outcome if outcome in ("timeout", "memory_limit", "output_limit") else _ended(result)
            )
            if outcome == "timeout" and getattr(result, "cpu_limit", False):
                self.learner_dead = "cpu_limit"  # the CPU-seconds budget ran out, not the wall clock
                self.notes.append(self._gone_message())  # the verdict's message names it too
            if outcome == "sandbox_error":
                self.outcomes.add("sandbox_crash")
            else:
                self._add_outcome(
                    outcome if outcome in ("timeout", "memory_limit", "output_limit") else "runtime_error"
                )
        elif self.learner_dead == "protocol":
            self._add_outcome("runtime_error")
        pending = pending or self.pending
        self.pending = None
        if pending is not None:
            self._reply_error(pending["jid"], "crashed", "LearnerGone", self._gone_message())

    # ------------------------------------------------------------------ end
    def _cleanup(self) -> None:
        # Both processes are single-use: kill them rather than wait for a graceful interpreter shutdown
        # (torch's exit handlers alone can take a second).
        procs = [p for p in (self.learner, self.judge) if p is not None]
        for proc in procs:
            if proc.alive():
                proc.kill("killed")
        if self.learner is not None:
            self._collect_usage(self.learner)
        if self.judge is not None:
            self.judge.finish(timeout=2.0, grace=0.0)

    def _outcome(self, tests: list[dict[str, Any]]) -> str:
        outcomes = set(self.outcomes)
        failing = [t for t in tests if t["status"] in ("fail", "error") and t["step"] not in self.optional]
        if failing or not tests:
            failed_ids = {t["id"] for t in failing}
            for err in self.learner_errors:
                if err["test"] not in failed_ids:
                    continue  # the test expected (and caught) this error
                if err["op"] == "import":
                    outcomes.add("compile_error" if err["kind"] == "syntax" else "import_error")
                elif err["type"] == "MemoryError":
                    outcomes.add("memory_limit")
            if any(t["status"] == "error" for t in failing):
                outcomes.add("runtime_error")
            if failing:
                outcomes.add("tests_failed")
        if not tests and not outcomes:
            outcomes.add("platform_error")
            self.notes.append(say("tests.none"))
        return next((o for o in _PRECEDENCE if o in outcomes), "ok")

    def _failed(self, test_id: str | None) -> bool:
        return self.tests.get(test_id or "", {}).get("status") in ("fail", "error", None)

    def result(self) -> dict[str, Any]:
        tests = []
        for tid in self.order:
            test = dict(self.tests[tid])
            if test["status"] is None:
                test["status"] = "error"
                test["message"] = (
                    say("tests.not_run") if test["visibility"] == "visible" else _HIDDEN_MESSAGES["error"]
                )
            tests.append(test)
        outcome = self._outcome(tests)
        platform = outcome in ("platform_error", "sandbox_crash")
        passed = sum(1 for t in tests if t["status"] == "pass")
        status = "error" if platform else ("pass" if outcome == "ok" else "fail")
        self.timestamps["finished"] = _now_iso()
        result = {
            "schema_version": SCHEMA_VERSION,
            "status": status,
            "outcome": outcome,
            "fault": "platform" if platform else (None if outcome == "ok" else "learner"),
            "message": self._message(outcome, passed, len(tests)),
            "score": float(passed),
            "max_score": float(len(tests)),
            "tests": tests,
            "metrics": self.metrics,
            "usage": {
                "wall_seconds": round(time.monotonic() - self.t0, 4),
                "cpu_seconds": round(self.cpu_seconds, 4),
                "max_rss_bytes": self.max_rss,
            },
            "timestamps": dict(self.timestamps),
            "module": self.module.slug if self.module else self.module_dir.name,
            "submission_id": self.submission_id,
        }
        result = clean_tree(result)
        validate_result(result)
        return result

    def _message(self, outcome: str, passed: int, total: int) -> str:
        summary = say("summary.count", passed=passed, total=total)
        # Only a visible test's import is quoted: one during a hidden test may carry what the code saw there.
        first = next(
            (
                e
                for e in self.learner_errors
                if e["op"] == "import" and not e["hidden"] and self._failed(e["test"])
            ),
            None,
        )
        if outcome == "ok" and passed < total:
            required = sum(1 for t in self.tests.values() if t["step"] not in self.optional)
            return say(
                "summary.optional",
                required=required,
                optional_passed=passed - required,
                optional=total - required,
            )
        if outcome == "ok":
            return say("summary.all", total=total)
        if outcome in ("compile_error", "import_error") and (first is not None or not self.notes):
            label = "summary.syntax" if outcome == "compile_error" else "summary.import"
            if first is None:
                return f"{say(label + '_hidden')} {summary}"
            detail = first["traceback"] or f"{first['type']}: {first['message']}"
            return f"{say(label)}\n{detail}\n{summary}"
        if outcome == "memory_limit" and not self.notes:
            return f"{say('summary.memory')} {summary}"
        if self.notes:
            return " ".join(dict.fromkeys(self.notes)) + (
                "" if outcome in ("platform_error", "sandbox_crash") and not total else f" {summary}"
            )
        return summary


def _downsample(value: Any) -> Any:
    """A metric series cut to ``METRIC_POINTS`` evenly spaced points (first and last kept); a scalar as is.

    A series with x values (``{"x", "y", ...}``) keeps the same points of both."""
    if isinstance(value, dict):
        return {**value, **{k: _downsample(value[k]) for k in ("x", "y") if k in value}}
    if not isinstance(value, list) or len(value) <= METRIC_POINTS:
        return value
    last = len(value) - 1
    return [value[round(i * last / (METRIC_POINTS - 1))] for i in range(METRIC_POINTS)]


def grade(
    module_dir: Path,
    files: dict[str, bytes],
    *,
    limits: dict[str, Any] | None = None,
    pool: Any = None,
    submission_id: str | None = None,
    sandbox: Any = None,
    queued: str | None = None,
    done: set[str] | None = None,
    provided: dict[str, bytes] | None = None,
) -> Iterator[dict[str, Any]]:
    """Grade one submission; yield events as they happen, the last one ``{"type": "verdict", "result": ...}``.

    ``limits`` overrides the module's ``limits`` (each still capped by the operator's sandbox caps; the engine
    adds ``call_seconds``, the per-call deadline).  ``pool`` is a :class:`~grading.engine.pool.LearnerPool`
    or ``None`` (cold start).  ``sandbox`` defaults to ``sandbox.get_backend()``. ``done`` and ``provided``
    shape the learner's workspace (:func:`~grading.engine.workspace.build_workspace`): the modules whose
    solutions the learner may read, and the needed files the platform hands over (their own passing work).
    """
    job = _Job(Path(module_dir), files, limits, pool, submission_id, sandbox, queued, done, provided)
    return job.events()
