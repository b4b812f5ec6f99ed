"""Warm pools of pre-started learner hosts (and judges), one submission per process.

Design choices:
- A learner host is started before any submission exists: it imports its runtime (``python`` bare, ``torch``
  with torch and numpy imported) and waits for the ``files`` frame.  A judge likewise imports pytest (and
  torch), with the whole content root mounted read-only, and waits for the ``start`` frame naming its module.
- Each process serves exactly one submission and then dies (no state can leak between learners); a background
  thread refills the pool to ``size`` per (role, runtime).
- Limits are fixed when a sandbox starts, so processes are kept per (role, runtime, limits other than the
  wall clock).  A *shape* is one (runtime, limits-but-the-wall-clock) pair; each costs ``size`` learner hosts
  plus ``size`` judges.  The pool starts with its configured limits for every runtime (unless
  ``warm_base=False``), takes shapes it is told about up front (:meth:`LearnerPool.prewarm`, e.g. every
  module's limits, so a module's first submission after a worker starts is warm too), and learns the others
  from demand: a job whose limits find no warm process gets a cold start, and the pool keeps that shape warm
  from then on.  At most ``max_shapes`` shapes (default ``MAX_LIMIT_SHAPES``), first come first kept: the cap
  bounds the idle memory (a torch shape is ~620 MiB at size 1), and a shape past it is simply served cold.
  ``prewarm`` only registers shapes and wakes the refill thread; it never starts a process on the caller's
  thread.  ``hits`` / ``misses`` count takes served warm / not; ``deaths`` counts warm processes that died
  while idle (each is logged with its stderr tail and replaced within about a second, not at the next
  take).  A pooled process's sandbox wall clock is the job's plus ``max_age_seconds``; processes older than
  that age are recycled (``_prune``, by the refill thread and by every take), and one is handed out only with
  ``WALL_MARGIN_SECONDS`` more than the job's wall clock left, so an idle wait never eats into a job's time.
- Thread-safe: ``take_*`` and the refill thread share one lock; starting a process happens outside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from .procs import Layout, Proc, start_judge, start_learner
from .workspace import ENGINE_KEYS

RUNTIMES = ("python", "torch")
log = logging.getLogger("grading.engine.pool")


#: By default at most this many shapes (runtime, limits but the wall clock) are kept warm.
MAX_LIMIT_SHAPES = 4
#: A pooled process must have at least the job's wall clock plus this much sandbox time left.
WALL_MARGIN_SECONDS = 30.0
Key = tuple[str, str, tuple[tuple[str, Any], ...]]
Shape = tuple[str, Any]


def _signature(limits: Any) -> tuple[tuple[str, Any], ...]:
    """Every limit but the wall clock: a pooled process serves jobs whose other limits are equal."""
    return tuple((f.name, getattr(limits, f.name)) for f in fields(limits) if f.name != "wall_seconds")


def resolve_shape(runtime: str, limits: Any) -> Shape:
    """``(runtime, Limits)``; a mapping is a module.yaml ``limits`` block, resolved as the runner resolves it."""
    if isinstance(limits, Mapping):
        from sandbox.limits import resolve

        limits = resolve({k: v for k, v in limits.items() if k not in ENGINE_KEYS})
    return (runtime, limits)


class LearnerPool:
    """Pre-started learner hosts per runtime, plus (optionally) pre-started judges for one content root."""

    def __init__(
        self,
        *,
        sandbox: Any = None,
        size: int = 1,
        runtimes: tuple[str, ...] = ("python",),
        limits: dict[str, Any] | None = None,
        content_root: Path | None = None,
        max_age_seconds: float = 300.0,
        layout: Layout | None = None,
        max_shapes: int = MAX_LIMIT_SHAPES,
        warm_base: bool = True,
    ) -> None:
        if size < 0 or any(r not in RUNTIMES for r in runtimes) or max_shapes < 1:
            raise ValueError("size must be >= 0, max_shapes >= 1 and runtimes among " + ", ".join(RUNTIMES))
        if sandbox is None:
            from sandbox.base import get_backend

            sandbox = get_backend()
        from sandbox.limits import resolve

        self.sandbox = sandbox
        self.size = size
        self.runtimes = tuple(runtimes)
        self.base_limits = resolve(limits)
        self.max_age_seconds = max_age_seconds
        self.content_root = Path(content_root).resolve() if content_root is not None else None
        self.layout = layout or Layout.detect(sandbox)
        self.max_shapes = max_shapes
        self._procs: dict[Key, list[tuple[float, Proc]]] = {}
        self._wanted: dict[Key, Any] = {}
        self._roles = ("learner",) + (("judge",) if self.content_root is not None else ())
        if warm_base:
            for runtime in self.runtimes:
                self._want_shape(runtime, self.base_limits)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.started = 0
        self.failures = 0
        self.hits = 0
        self.misses = 0
        self.deaths = 0
        self._wake.set()
        self._thread = threading.Thread(target=self._refill_loop, name="learner-pool", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    def take_learner(self, runtime: str, limits: Any) -> Proc | None:
        """A warm learner host for ``runtime`` compatible with ``limits``, or ``None`` (then keep some warm)."""
        return self._take(self._key("learner", runtime, limits), limits)

    def take_judge(self, runtime: str, limits: Any, content_root: Path) -> Proc | None:
        """A warm judge for ``runtime`` whose content root is ``content_root``, or ``None``."""
        if self.content_root is None or Path(content_root).resolve() != self.content_root:
            return None
        return self._take(self._key("judge", runtime, limits), limits)

    def prewarm(self, shapes: Iterable[tuple[str, Any]]) -> list[Shape]:
        """Keep these ``(runtime, limits)`` shapes warm from now on; returns the shapes newly kept, in order.

        ``limits`` is a ``sandbox.limits.Limits`` or a module.yaml ``limits`` mapping.  Shapes are deduplicated
        (the wall clock does not count), kept in the order given until ``max_shapes`` is reached; shapes of a
        runtime this pool does not keep, limits that do not resolve, and shapes past the cap are skipped (those
        jobs start cold).  Never blocks: the refill thread starts the processes.
        """
        kept: list[Shape] = []
        for runtime, limits in shapes:
            try:
                shape = resolve_shape(runtime, limits)
            except ValueError:
                continue  # a bad module limit: that module's jobs report it (platform error) when they run
            with self._lock:
                if self._closed or runtime not in self.runtimes:
                    continue
                if self._want_shape(*shape):
                    kept.append(shape)
        self._wake.set()
        return kept

    def shapes(self) -> list[Shape]:
        """The shapes kept warm, in the order they were added (limits with the pooled wall clock)."""
        with self._lock:
            seen: dict[tuple[str, Any], Any] = {}
            for (_, runtime, signature), limits in self._wanted.items():
                seen.setdefault((runtime, signature), limits)
        return [(runtime, limits) for (runtime, _), limits in seen.items()]

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Block until every slot holds a process that said ``ready`` (for benchmarks and tests)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                keys = self._keys()
                full = all(len(self._procs.get(k, [])) >= self.size for k in keys)
                procs = [p for k in keys for _, p in self._procs.get(k, [])]
            if full and all(p.ready.is_set() for p in procs):
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Stop refilling and kill every idle process."""
        with self._lock:
            self._closed = True
            procs = [p for entries in self._procs.values() for _, p in entries]
            self._procs.clear()
        self._wake.set()
        for proc in procs:
            proc.finish(timeout=2.0, grace=0.0)

    def __enter__(self) -> LearnerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _keys(self) -> list[Key]:
        return list(self._wanted)

    def _key(self, role: str, runtime: str, limits: Any) -> Key:
        return (role, runtime, _signature(limits))

    def _want_shape(self, runtime: str, limits: Any) -> bool:
        """Keep (runtime, limits) warm for every role; ``True`` if new.  Lock held (or not yet shared)."""
        signature = _signature(limits)
        shapes = {(k[1], k[2]) for k in self._wanted}
        if (runtime, signature) in shapes or len(shapes) >= self.max_shapes:
            return False
        pooled = replace(limits, wall_seconds=limits.wall_seconds + self.max_age_seconds)
        for role in self._roles:
            self._wanted[(role, runtime, signature)] = pooled
        return True

    def _take(self, key: Key, limits: Any) -> Proc | None:
        chosen: Proc | None = None
        with self._lock:
            if self._closed or key[1] not in self.runtimes:
                return None
            self._want_shape(key[1], limits)
            gone = self._prune()
            now = time.monotonic()
            for born, proc in self._procs.get(key, []):
                if proc.limits.wall_seconds - (now - born) < limits.wall_seconds + WALL_MARGIN_SECONDS:
                    continue  # too little sandbox time left for this job; younger ones may do
                if chosen is None or (proc.ready.is_set() and not chosen.ready.is_set()):
                    chosen = proc
            if chosen is not None:
                self._procs[key] = [(b, p) for b, p in self._procs[key] if p is not chosen]
                self.hits += 1
            else:
                self.misses += 1
        self._recycle(gone)
        self._wake.set()
        return chosen

    def _start(self, key: Key) -> Proc:
        role, runtime, _ = key
        with self._lock:
            limits = self._wanted[key]
        if role == "learner":
            return start_learner(self.sandbox, runtime, limits, self.layout)
        assert self.content_root is not None
        return start_judge(self.sandbox, runtime, limits, self.content_root, self.layout)

    def _prune(self) -> list[Proc]:
        """Drop idle processes that died or outlived ``max_age_seconds``; returns them.  Lock held."""
        now = time.monotonic()
        gone: list[Proc] = []
        for key, entries in self._procs.items():
            keep = []
            for born, proc in entries:
                if proc.alive() and now - born <= self.max_age_seconds:
                    keep.append((born, proc))
                else:
                    gone.append(proc)
            self._procs[key] = keep
        return gone

    def _recycle(self, gone: list[Proc]) -> None:
        """Clean up pruned processes; one that died while idle is a fault worth the operator's log."""
        for proc in gone:
            died = not proc.alive()
            result = proc.finish(timeout=1.0, grace=0.0)
            if died:
                self.deaths += 1
                tail = bytes(proc.stderr[-2000:]).decode("utf-8", "replace")
                outcome = getattr(result, "message", "no result")
                log.warning(
                    "warm %s (%s) died while idle (%s); replaced. stderr tail:\n%s",
                    proc.tag,
                    proc.runtime,
                    outcome,
                    tail,
                )

    def _refill_loop(self) -> None:
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            while True:
                # A process that died idle (or aged out) is replaced now, not when a job next asks for one.
                with self._lock:
                    if self._closed:
                        return
                    gone = self._prune()
                    missing = [k for k in self._keys() if len(self._procs.get(k, [])) < self.size]
                self._recycle(gone)
                if not missing:
                    break
                try:
                    proc = self._start(missing[0])
                except Exception:  # keep refilling; the runner falls back to cold starts
                    self.failures += 1
                    time.sleep(0.5)
                    continue
                with self._lock:
                    if self._closed:
                        closed = True
                    else:
                        closed = False
                        self._procs.setdefault(missing[0], []).append((time.monotonic(), proc))
                        self.started += 1
                if closed:
                    proc.finish(timeout=1.0, grace=0.0)
                    return
