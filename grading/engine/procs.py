"""Starting the two sandboxed processes of a grading job and reading their frames.

Design choices:
- Both processes run the same interpreter and venv as the worker, bound read-only into the sandbox
  (``/opt/venv`` plus the real interpreter prefix at its own path), with ``grading/engine`` bound at
  ``/opt/lab/grading/engine``.  The learner sandbox gets nothing else: no ``nanochat_ref``, no content, no
  tests.  The judge sandbox also gets ``nanochat_ref`` and the module folder (or the whole content root for a
  warm judge, which learns its module from the ``start`` frame), and the shared test kit ``grading/testkit``
  at ``/opt/lab/grading/testkit`` (helpers the modules' conftests import; see that package).  Where the Rust
  dependency cache exists (``var/rust-cache``, made by :func:`build_rust_cache`), the learner sandbox also gets
  it read-only at ``/opt/lab-rust-cache.tar``: compiled crates of Debian's registry, no source of ours.
- The env is built here from scratch (the sandbox inherits nothing): ``PYTHONPATH``, ``HOME``, ``TMPDIR``,
  thread counts pinned to 1, and the NANOCHAT base dir under the job's scratch space.
- :class:`Proc` reads frames on a thread and puts them, in order, into whichever queue it is attached to, so
  a pool can start a process long before a job adopts it without losing the ``ready`` frame.  Queues hold at
  most ``SINK_FRAMES`` frames: a reader that finds its queue full waits, stops reading, and the process's own
  writes block on the full pipe, so a flood costs the worker neither memory nor the runner its clocks.
- Attaching never waits (:meth:`FrameSink.hand_over`): the runner attaches a restarted learner from its own
  thread, the only one that empties the queue, which a killed flooder may have left full; a waiting put there
  would wait on itself forever.  The bound is overshot by at most the frames one process read before it was
  adopted (its own queue's ``SINK_FRAMES``).
- Writes to a process can carry a deadline (:meth:`Proc.send`): a learner that stops reading its input cannot
  hold the runner in a blocked write past the call's deadline.
- A pooled process's sandbox wall clock is longer than any one job's (it waited in the pool): the job that
  adopts it sets its remaining life (:meth:`Proc.expire_in`), after which it is killed as its sandbox would be.
"""

from __future__ import annotations

import itertools
import os
import queue
import select
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .protocol import Caps, Channel, Frame, ProtocolError, encode_frame, read_frame
from .workspace import REPO_ROOT

_TAGS = itertools.count(1)
ENGINE_TARGET = "/opt/lab"
VENV_TARGET = "/opt/venv"
MODULE_TARGET = "/opt/module"
CONTENT_TARGET = "/opt/content"
STDERR_KEEP = 64 * 1024
#: Frames a process's queue holds before its reader waits (and the process's pipe fills up behind it).
SINK_FRAMES = 16
_PUT_WAIT_SECONDS = 0.05
#: Host work dirs of learner hosts, judges and assemble jobs under the temp dir (``sandbox.jobdirs``; swept when stale).
LEARNER_DIR_PREFIX = "lab-learner-"
JUDGE_DIR_PREFIX = "lab-judge-"
ASSEMBLE_DIR_PREFIX = "lab-assemble-"
JOB_DIR_PREFIXES = (LEARNER_DIR_PREFIX, JUDGE_DIR_PREFIX, ASSEMBLE_DIR_PREFIX)
#: The reference crate's release target dir, built in the learner sandbox layout, that learner builds start from.
RUST_CACHE_DIR = REPO_ROOT / "var" / "rust-cache"
#: Frames from the learner may carry tensors, but never more than this in one frame.
LEARNER_CAPS = Caps(header_bytes=8 * 1024 * 1024, buffers=4096, buffer_bytes=128 * 1024 * 1024)
JUDGE_CAPS = Caps(header_bytes=16 * 1024 * 1024, buffers=4096, buffer_bytes=512 * 1024 * 1024)


class FrameSink(queue.Queue[tuple[str, Frame | None | Exception]]):
    """The bounded queue of ``(tag, frame)`` that readers wait on, with a hand-over that never waits."""

    def __init__(self, maxsize: int = SINK_FRAMES) -> None:
        super().__init__(maxsize)

    def hand_over(self, item: tuple[str, Frame | None | Exception]) -> None:
        """Queue ``item`` even when the queue is full (see the module's design notes)."""
        with self.mutex:
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()


@dataclass(frozen=True)
class Layout:
    """Where things live on the host (the worker's own interpreter, venv and engine by default).

    ``image_runtime``: the sandbox brings its own interpreter and packages at ``/opt/venv`` (the Docker backend's
    image, docker/sandbox/Dockerfile), so nothing of the host's Python is bound: a container's uid cannot even
    traverse the host paths a venv points into (e.g. ``/root/.pyenv``).
    """

    venv: Path
    interpreter_prefix: Path
    repo_root: Path = REPO_ROOT
    image_runtime: bool = False

    @classmethod
    def detect(cls, sandbox: Any = None) -> Layout:
        if getattr(sandbox, "name", None) == "docker":
            return cls(venv=Path(VENV_TARGET), interpreter_prefix=Path(VENV_TARGET), image_runtime=True)
        venv = Path(sys.prefix)
        prefix = Path(os.path.realpath(sys.executable)).parent.parent
        if Path(sys.base_prefix).resolve() != prefix.resolve():  # pragma: no cover - unusual installs
            prefix = Path(sys.base_prefix)
        return cls(venv=venv, interpreter_prefix=prefix)

    def python(self) -> str:
        return (
            f"{VENV_TARGET}/bin/python"
            if self.venv != self.interpreter_prefix or self.image_runtime
            else f"{self.interpreter_prefix}/bin/python3"
        )

    def base_mounts(self) -> list[Any]:
        from sandbox.base import Mount

        mounts = [Mount(self.repo_root / "grading" / "engine", f"{ENGINE_TARGET}/grading/engine")]
        if self.image_runtime:
            return mounts
        if self.venv != self.interpreter_prefix:
            mounts.append(Mount(self.venv, VENV_TARGET))
        mounts.append(Mount(self.interpreter_prefix, str(self.interpreter_prefix)))
        return mounts


def job_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": f"{VENV_TARGET}/bin:/usr/bin:/bin",
        "PYTHONPATH": ENGINE_TARGET,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONHASHSEED": "0",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NANOCHAT_BASE_DIR": "/tmp/nanochat",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MPLBACKEND": "Agg",
    }
    env.update(extra or {})
    return env


class Proc:
    """A started sandboxed process speaking frames on its stdin/stdout."""

    def __init__(self, role: str, job: Any, workdir: Path, limits: Any, caps: Caps, runtime: str) -> None:
        self.role = role
        self.tag = f"{role}#{next(_TAGS)}"
        self.job = job
        self.workdir = workdir
        self.limits = limits
        self.runtime = runtime
        self.channel = Channel(job.stdout, job.stdin, caps)
        self.stderr = bytearray()
        self.stderr_closed = threading.Event()
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._sink = FrameSink()
        self._closed = threading.Event()
        self._timers: list[threading.Timer] = []
        self._kill_reason: str | None = None
        self._finished = False
        self._result: Any = None
        threading.Thread(target=self._read, name=f"{self.tag}-frames", daemon=True).start()
        threading.Thread(target=self._drain_stderr, name=f"{role}-stderr", daemon=True).start()

    def attach(self, sink: FrameSink) -> None:
        """Route this process's frames (those already read first, without waiting) into ``sink``."""
        with self._lock:
            old, self._sink = self._sink, sink
            while True:
                try:
                    sink.hand_over(old.get_nowait())
                except queue.Empty:
                    break

    def _put(self, item: Frame | None | Exception) -> bool:
        """Queue ``item``, waiting while the queue is full; ``False`` once the process is finished."""
        while not self._closed.is_set():
            with self._lock:  # released between tries, so ``attach`` can swap queues meanwhile
                try:
                    self._sink.put((self.tag, item), timeout=_PUT_WAIT_SECONDS)
                    return True
                except queue.Full:
                    pass
        return False

    def _read(self) -> None:
        while True:
            try:
                frame = read_frame(self.job.stdout, self.channel.caps)
            except (ProtocolError, OSError, ValueError) as exc:
                self._put(exc if isinstance(exc, ProtocolError) else ProtocolError(str(exc)))
                return
            if frame is not None and frame.kind == "ready":
                self.ready.set()
            if not self._put(frame) or frame is None:
                return

    def _drain_stderr(self) -> None:
        while True:
            try:
                chunk = self.job.stderr.read1(65536)
            except (OSError, ValueError):  # pragma: no cover - pipe closed under us
                return
            if not chunk:
                self.stderr_closed.set()
                return
            room = STDERR_KEEP - len(self.stderr)
            if room > 0:
                self.stderr += chunk[:room]

    def send(
        self, header: dict[str, Any], buffers: list[bytes] | None = None, *, deadline: float | None = None
    ) -> bool:
        """Send a frame; ``False`` if the process is gone, or did not take it all by ``deadline`` (monotonic).

        The write never blocks past ``deadline``: a process that stops reading cannot hold the caller.
        """
        try:
            data = encode_frame(header, buffers)
        except (ProtocolError, ValueError, RecursionError):  # nothing was written: the caller decides
            return False
        view = memoryview(data)
        with self._send_lock:
            try:
                fd = self.job.stdin.fileno()
                self.job.stdin.flush()
                os.set_blocking(fd, False)
                poller = select.poll()
                poller.register(fd, select.POLLOUT)
                while view:
                    wait = None if deadline is None else max(deadline - time.monotonic(), 0.0) * 1000
                    if not poller.poll(wait):
                        return False
                    view = view[os.write(fd, view) :]
            except (OSError, ValueError):
                return False
        return True

    def expire_in(self, seconds: float) -> None:
        """Kill the process (outcome ``"timeout"``) ``seconds`` from now, unless it has finished by then."""
        timer = threading.Timer(max(seconds, 0.0), self.kill, args=("timeout",))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def alive(self) -> bool:
        return self.job.poll() is None

    def kill(self, reason: str = "killed") -> None:
        if self._kill_reason is None:
            self._kill_reason = reason
        self.job.kill(reason)

    def finish(self, timeout: float = 5.0, grace: float = 0.5) -> Any:
        """Kill (if needed), wait and clean up; returns the sandbox's JobResult (or ``None``)."""
        import subprocess

        if self._finished:
            return self._result
        self._closed.set()
        for timer in self._timers:
            timer.cancel()
        try:
            # A process that just closed its pipes is usually exiting on its own: let the backend see how
            # (an OOM kill must stay "memory_limit", not become "killed") before killing what is left.
            result = self.job.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
            try:
                result = self.job.wait(timeout)
            except subprocess.TimeoutExpired:  # pragma: no cover - the backend's own watchdog makes this rare
                result = None
        for stream in (self.job.stdin, self.job.stdout):
            try:
                stream.close()
            except (OSError, ValueError):  # pragma: no cover
                pass
        from sandbox import jobdirs

        jobdirs.remove(self.workdir)
        self._finished, self._result = True, result
        return result


def start_learner(sandbox: Any, runtime: str, limits: Any, layout: Layout | None = None) -> Proc:
    """Start a learner host (warm: it waits for a ``files`` frame)."""
    from sandbox import jobdirs
    from sandbox.base import JobSpec

    layout = layout or Layout.detect(sandbox)
    workdir = jobdirs.create(LEARNER_DIR_PREFIX)
    mounts = [*layout.base_mounts(), *rust_mounts(layout)]
    spec = JobSpec(
        argv=[layout.python(), "-s", "-m", "grading.engine.learner_host", "--runtime", runtime],
        mounts=mounts,
        workdir=workdir,
        env=job_env(),
        limits=limits,
    )
    try:
        job = sandbox.start(spec)
    except BaseException:
        jobdirs.remove(workdir)
        raise
    return Proc("learner", job, workdir, limits, LEARNER_CAPS, runtime)


def start_judge(
    sandbox: Any,
    runtime: str,
    limits: Any,
    content_root: Path,
    layout: Layout | None = None,
    *,
    target: str = CONTENT_TARGET,
) -> Proc:
    """Start a judge (warm: it waits for a ``start`` frame naming a folder under ``target``)."""
    from sandbox import jobdirs
    from sandbox.base import JobSpec, Mount

    layout = layout or Layout.detect(sandbox)
    workdir = jobdirs.create(JUDGE_DIR_PREFIX)
    mounts = [
        *layout.base_mounts(),
        Mount(layout.repo_root / "grading" / "testkit", f"{ENGINE_TARGET}/grading/testkit"),
        Mount(layout.repo_root / "nanochat_ref", f"{ENGINE_TARGET}/nanochat_ref"),
        Mount(Path(content_root), target),
    ]
    # The judge runs trusted test code; it gets more room than the learner but still lives in a sandbox.
    judge_limits = replace(limits, output_bytes=max(limits.output_bytes, 16 * 1024 * 1024))
    spec = JobSpec(
        argv=[layout.python(), "-s", "-m", "grading.engine.judge", "--runtime", runtime],
        mounts=mounts,
        workdir=workdir,
        env=job_env(),
        limits=judge_limits,
    )
    try:
        job = sandbox.start(spec)
    except BaseException:
        jobdirs.remove(workdir)
        raise
    return Proc("judge", job, workdir, judge_limits, JUDGE_CAPS, runtime)


def rust_sysroot() -> Path | None:
    """The host's Rust toolchain (``rustc --print sysroot``: cargo, rustc and their libraries), or None."""
    global _SYSROOT
    if _SYSROOT is None:
        import shutil
        import subprocess

        found = os.environ.get("LAB_RUST_SYSROOT", "")
        rustc = shutil.which("rustc")
        if not found and rustc:
            try:
                found = subprocess.run(
                    [rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=30, check=True
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):  # pragma: no cover - a broken rustc
                found = ""
        _SYSROOT = Path(found) if found and (Path(found) / "bin" / "cargo").is_file() else Path()
    return _SYSROOT if _SYSROOT != Path() else None


_SYSROOT: Path | None = None


def rust_mounts(layout: Layout, *, cache: bool = True) -> list[Any]:
    """Read-only binds a learner build needs: the toolchain at ``/opt/rust`` and the dependency cache."""
    from sandbox.base import Mount

    from .rustbuild import CACHE_TARGET, TOOLCHAIN_TARGET

    mounts = []
    sysroot = rust_sysroot()
    if sysroot is not None:
        mounts.append(Mount(sysroot, TOOLCHAIN_TARGET))
    target = layout.repo_root / RUST_CACHE_DIR.relative_to(REPO_ROOT) / "target.tar"
    if cache and target.is_file():  # pragma: no cover - once `make rustbpe` has built the cache
        mounts.append(Mount(target, CACHE_TARGET))
    return mounts


def build_rust_cache(  # pragma: no cover - run by `make rustbpe` (python -m scripts.rust_cache)
    sandbox: Any, crate: str = "rustbpe", layout: Layout | None = None
) -> Path:
    """Compile the reference crate as a learner sandbox does and keep its target dir as the dependency cache.

    Same sandbox, same paths (``/work/.lab-rust/target``), same env (``PYO3_PYTHON`` is the sandbox's python),
    so cargo's fingerprints match and a learner build recompiles only their own crate. Returns the cache dir.
    """
    import shutil

    from sandbox import jobdirs
    from sandbox.base import JobSpec
    from sandbox.limits import resolve

    from .rustbuild import BUILD_DIR

    layout = layout or Layout.detect()
    source = layout.repo_root / crate
    workdir = jobdirs.create(LEARNER_DIR_PREFIX)
    try:
        for name in ("Cargo.toml", "Cargo.lock", ".cargo/config.toml", "src/lib.rs"):
            target = workdir / crate / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target)
        limits = resolve(
            {
                "wall_seconds": 600,
                "cpu_seconds": 1200,
                "memory_bytes": 4 * 1024**3,
                "work_bytes": 2 * 1024**3,
                "file_size_bytes": 1024**3,
            }
        )
        spec = JobSpec(
            argv=[
                layout.python(),
                "-s",
                "-m",
                "grading.engine.rustbuild",
                "--root",
                "/work",
                "--crate",
                crate,
            ],
            mounts=[*layout.base_mounts(), *rust_mounts(layout, cache=False)],
            workdir=workdir,
            env=job_env(),
            limits=limits,
        )
        done = sandbox.run(spec)
        if done.exit_code != 0:
            raise RuntimeError(
                f"building the {crate} cache failed ({done.outcome}): {done.stderr.decode('utf-8', 'replace')[-4000:]}"
            )
        out = layout.repo_root / RUST_CACHE_DIR.relative_to(REPO_ROOT)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        built = workdir / BUILD_DIR / "target.tar"
        if built.is_symlink() or not built.is_file():
            raise RuntimeError(f"the build left no {built.name}")
        shutil.move(str(built), str(out / "target.tar"))
        return out
    finally:
        jobdirs.remove(workdir)
