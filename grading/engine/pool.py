"""Warm pools of pre-started learner hosts (and judges), one submission per process.

Design choices:
- A learner host is started before any submission exists: it imports its runtime (``python`` bare, ``torch``
  with torch and numpy imported) and waits for the ``files`` frame.  A judge likewise imports pytest (and
  torch), with the whole content root mounted read-only, and waits for the ``start`` frame naming its module.
- Each process serves exactly one submission and then dies (no state can leak between learners); a background
  thread refills the pool to ``size`` per (role, runtime).
- A pooled process was started with the pool's limits.  The runner takes it only if every limit but the wall
  clock equals the job's; the sandbox wall clock of a pooled process is ``max_age_seconds`` plus the job's, and
  processes older than ``max_age_seconds`` are recycled, so an idle wait never eats into a job's time.
- Thread-safe: ``take_*`` and the refill thread share one lock; starting a process happens outside it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from .procs import Layout, Proc, start_judge, start_learner

RUNTIMES = ("python", "torch")


def _same_limits(a: Any, b: Any) -> bool:
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(a) if f.name != "wall_seconds")


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
    ) -> None:
        if size < 0 or any(r not in RUNTIMES for r in runtimes):
            raise ValueError("size must be >= 0 and runtimes among " + ", ".join(RUNTIMES))
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
        self.layout = layout or Layout.detect()
        self._procs: dict[tuple[str, str], list[tuple[float, Proc]]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.started = 0
        self.failures = 0
        self._wake.set()
        self._thread = threading.Thread(target=self._refill_loop, name="learner-pool", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    def take_learner(self, runtime: str, limits: Any) -> Proc | None:
        """A warm learner host for ``runtime`` compatible with ``limits``, or ``None``."""
        return self._take(("learner", runtime), limits)

    def take_judge(self, runtime: str, limits: Any, content_root: Path) -> Proc | None:
        """A warm judge for ``runtime`` whose content root is ``content_root``, or ``None``."""
        if self.content_root is None or Path(content_root).resolve() != self.content_root:
            return None
        return self._take(("judge", runtime), limits)

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
    def _keys(self) -> list[tuple[str, str]]:
        roles = ["learner"] + (["judge"] if self.content_root is not None else [])
        return [(role, rt) for role in roles for rt in self.runtimes]

    def _proc_limits(self) -> Any:
        return replace(self.base_limits, wall_seconds=self.base_limits.wall_seconds + self.max_age_seconds)

    def _take(self, key: tuple[str, str], limits: Any) -> Proc | None:
        if not _same_limits(limits, self.base_limits):
            return None
        stale: list[Proc] = []
        chosen: Proc | None = None
        with self._lock:
            entries = self._procs.get(key, [])
            now = time.monotonic()
            keep = []
            for born, proc in entries:
                if not proc.alive() or now - born > self.max_age_seconds:
                    stale.append(proc)
                else:
                    keep.append((born, proc))
            keep.sort(key=lambda e: not e[1].ready.is_set())
            if keep:
                chosen = keep.pop(0)[1]
            self._procs[key] = keep
        for proc in stale:
            proc.finish(timeout=1.0, grace=0.0)
        self._wake.set()
        return chosen

    def _start(self, key: tuple[str, str]) -> Proc:
        role, runtime = key
        limits = self._proc_limits()
        if role == "learner":
            return start_learner(self.sandbox, runtime, limits, self.layout)
        assert self.content_root is not None
        return start_judge(self.sandbox, runtime, limits, self.content_root, self.layout)

    def _refill_loop(self) -> None:
        while True:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            while True:
                with self._lock:
                    if self._closed:
                        return
                    now = time.monotonic()
                    missing = [
                        k
                        for k in self._keys()
                        if sum(1 for born, p in self._procs.get(k, []) if now - born <= self.max_age_seconds)
                        < self.size
                    ]
                if not missing:
                    break
                try:
                    proc = self._start(missing[0])
                except Exception:  # noqa: BLE001 - keep refilling; the runner falls back to cold starts
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
