"""The sandbox interface: one way to run an untrusted job, whatever isolates it.

Design choices:
- A job is an argv list (never a shell string), a set of bind mounts (read-only unless marked writable), one
  host work dir whose files the job finds at ``/work`` (its cwd, writable, capped in bytes and inodes by
  ``work_bytes``/``work_inodes`` where the backend can: each copies the files into a tmpfs of its own; bwrap
  copies what the job leaves back into the work dir, docker discards it, see ``Sandbox.returns_work``), an
  explicit environment (the ONLY variables the job sees: nothing is inherited from the worker) and resolved
  :class:`Limits`.
- :meth:`Sandbox.start` returns a Popen-like :class:`RunningJob` with raw stdin/stdout/stderr pipes, so the
  grading engine can frame its own protocol on them; :meth:`Sandbox.run` is the convenience that feeds stdin,
  collects output under the byte cap and returns a :class:`CompletedJob`.
- Every way a job can end yields a :class:`JobResult` (``outcome`` says how); a job that crashes the backend
  still comes back as ``"sandbox_error"`` rather than an exception escaping ``wait``.
- Backends are same-shaped plugins chosen by name (``bwrap`` here and in CI, ``docker`` in production) and all
  pass one shared test suite (tests/sandbox/).

The threat model (what is and is not covered) is in docs/threat-model.md.
"""

from __future__ import annotations

import os
import selectors
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from signal import SIGXCPU, valid_signals
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from sandbox.runtime import Runtime

OUTCOMES = ("exited", "timeout", "memory_limit", "output_limit", "killed", "sandbox_error")
WORK_TARGET = "/work"


class SandboxError(RuntimeError):
    """The backend could not start or supervise a job (a platform fault, never the learner's)."""


@dataclass(frozen=True)
class Mount:
    """A bind mount of a host path into the sandbox, read-only unless ``writable``."""

    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job; build them with :func:`sandbox.limits.resolve` (defaults + caps)."""

    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    pids: int
    file_size_bytes: int
    open_files: int
    tmpfs_bytes: int
    output_bytes: int
    work_bytes: int
    work_inodes: int


@dataclass
class JobSpec:
    """What to run and under which limits."""

    argv: list[str]
    mounts: list[Mount]
    workdir: Path
    env: dict[str, str]
    limits: Limits
    gpu: bool = False


@dataclass
class JobResult:
    """How a job ended.

    ``outcome``: ``"exited"`` (it ended by itself; see ``exit_code``/``signal``), ``"timeout"`` (wall clock or
    CPU seconds), ``"memory_limit"`` (killed by the memory cap), ``"output_limit"`` (more output than the cap),
    ``"killed"`` (someone called ``kill``) or ``"sandbox_error"`` (the backend failed; a platform fault).
    ``cpu_limit`` tells the two timeouts apart: True when the CPU-seconds limit ended it, not the wall clock.
    """

    exit_code: int | None
    signal: int | None
    outcome: str
    wall_seconds: float
    cpu_seconds: float
    max_rss_bytes: int | None
    message: str = ""
    cpu_limit: bool = False


def validate_command(spec: JobSpec) -> None:
    """Reject an argv or env that ``env -i -- K=V... argv`` (how both backends start a job) would misread."""
    if not spec.argv or not all(isinstance(a, str) for a in spec.argv):
        raise ValueError("argv must be a non-empty list of strings")
    if any("\0" in a for a in spec.argv):
        raise ValueError("argv items must not contain NUL bytes")
    if "=" in spec.argv[0]:
        raise ValueError("argv[0] must not contain '=' (env(1) would read it as a variable)")
    for key, value in spec.env.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError("env keys and values must be strings")
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"invalid env variable name or value: {key!r}")


def split_exit_code(code: int) -> tuple[int | None, int | None]:
    """``(exit_code, signal)`` from an init's exit code: bwrap and tini report "killed by signal N" as 128+N.

    Only a real signal number counts: ``exit(255)`` stays exit code 255, not a "signal 127".
    """
    if code > 128 and code - 128 in valid_signals():
        return None, code - 128
    return code, None


def job_result(
    limits: Limits,
    *,
    exit_code: int | None,
    signal: int | None,
    wall_seconds: float,
    cpu_seconds: float,
    max_rss_bytes: int | None,
    kill_reason: str | None = None,
    oom: bool = False,
    cpu_killed: bool = False,
    backend_error: str | None = None,
) -> JobResult:
    """How a job ended, from the facts its backend read off it: the one mapping of end states to outcomes.

    Design choice: each backend only translates its raw end state into these facts (bwrap: the wait status,
    its cgroups and ``--json-status-fd``; docker: the container's ``State``); which fact wins and what the
    learner reads is decided here, so the backends cannot drift apart. The first that applies wins:

    1. ``kill_reason``: we killed the job (``"timeout"``, ``"output_limit"``, ``"killed"``); our reason beats
       whatever the kill did to it, an OOM racing the timer included (another reason reads "killed on request");
    2. ``oom``: the memory cap killed it (``"memory_limit"``);
    3. the CPU limit (``"timeout"``): ``signal`` is SIGXCPU (the soft ``RLIMIT_CPU``), or ``cpu_killed`` says
       the backend knows it by other means (bwrap: a SIGKILL at the hard limit);
    4. ``backend_error``: the backend failed (``"sandbox_error"``, a platform fault); the text is the message;
    5. otherwise the job ended by itself (``"exited"``), by ``exit_code`` or ``signal``.

    Each backend decodes ``exit_code``/``signal`` itself; an init's 128+N goes through :func:`split_exit_code`.
    """
    if kill_reason is not None:
        outcome = kill_reason
        message = {
            "timeout": f"wall-clock limit of {limits.wall_seconds:g} s exceeded",
            "output_limit": f"output limit of {limits.output_bytes} bytes exceeded",
        }.get(kill_reason, "killed on request")
    elif oom:
        outcome, message = "memory_limit", f"memory limit of {limits.memory_bytes} bytes exceeded"
    elif signal == SIGXCPU or cpu_killed:
        outcome, message = "timeout", f"CPU time limit of {limits.cpu_seconds} s exceeded"
    elif backend_error is not None:
        outcome, message = "sandbox_error", backend_error
    else:
        outcome = "exited"
        message = f"exited with code {exit_code}" if signal is None else f"killed by signal {signal}"
    return JobResult(
        exit_code=exit_code,
        signal=signal,
        outcome=outcome,
        wall_seconds=wall_seconds,
        cpu_seconds=cpu_seconds,
        max_rss_bytes=max_rss_bytes,
        message=message,
        cpu_limit=outcome == "timeout" and kill_reason is None,
    )


@dataclass
class CompletedJob:
    """The result of :meth:`Sandbox.run`: the :class:`JobResult` plus the captured (capped) output."""

    result: JobResult
    stdout: bytes = b""
    stderr: bytes = b""
    truncated: bool = False

    @property
    def outcome(self) -> str:
        return self.result.outcome

    @property
    def exit_code(self) -> int | None:
        return self.result.exit_code


class RunningJob(ABC):
    """A started job (Popen-like). ``stdin``/``stdout``/``stderr`` are raw binary pipes."""

    stdin: BinaryIO
    stdout: BinaryIO
    stderr: BinaryIO
    spec: JobSpec

    @abstractmethod
    def wait(self, timeout: float | None = None) -> JobResult:
        """Wait for the end and return its result; raise ``subprocess.TimeoutExpired`` if ``timeout`` passes first.

        The job's own wall-clock limit is enforced by the backend whether or not anyone waits.
        """

    @abstractmethod
    def kill(self, outcome: str = "killed") -> None:
        """Kill the whole process tree; ``outcome`` is recorded unless the job had already ended."""

    @abstractmethod
    def poll(self) -> JobResult | None:
        """The result if the job has ended, else ``None``."""


class Sandbox(ABC):
    """A backend that runs :class:`JobSpec` jobs in isolation."""

    name: str = "abstract"
    #: Whether what a job leaves in /work is in ``JobSpec.workdir`` once it has ended (planted symlinks and
    #: FIFOs included: never follow them); a backend that discards it says so here.
    returns_work: bool = True

    @abstractmethod
    def start(self, spec: JobSpec) -> RunningJob:
        """Start a job; raise :class:`SandboxError` (platform fault) or ``ValueError`` (bad spec) on failure."""

    def python_runtime(self) -> Runtime:
        """Mounts, env and interpreter path that run the project's Python in this backend.

        bwrap binds the worker's own venv read-only at /opt/venv; docker uses the image's /opt/venv.
        """
        from sandbox.runtime import python_runtime

        return python_runtime()

    def run(self, spec: JobSpec, stdin: bytes = b"") -> CompletedJob:
        """Run a job to its end: feed ``stdin``, collect stdout+stderr up to ``limits.output_bytes`` in total.

        More output than the cap kills the job with outcome ``"output_limit"`` (the kept output is truncated).
        One ``select`` loop in the calling thread moves every byte (no helper threads: each thread start costs
        a scheduler round trip, which on a loaded machine dominates the start overhead).
        """
        job = self.start(spec)
        cap = spec.limits.output_bytes
        captured = {job.stdout.fileno(): bytearray(), job.stderr.fileno(): bytearray()}
        names = {job.stdout.fileno(): "stdout", job.stderr.fileno(): "stderr"}
        total = 0
        truncated = False
        pending = memoryview(stdin)
        sel = selectors.DefaultSelector()
        for fd in captured:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        stdin_fd = job.stdin.fileno()
        if pending:
            os.set_blocking(stdin_fd, False)
            sel.register(stdin_fd, selectors.EVENT_WRITE)
        else:
            job.stdin.close()
        ended_at: float | None = None
        while sel.get_map():
            for key, _ in sel.select(timeout=0.2):
                fd = int(key.fd)
                if fd == stdin_fd:
                    try:
                        pending = pending[os.write(fd, pending[:65536]) :]
                    except OSError:  # the job closed its stdin: drop the rest
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(fd)
                        job.stdin.close()
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(fd)
                    continue
                captured[fd] += chunk[: max(cap - total, 0)]
                total += len(chunk)
                if total > cap and not truncated:
                    truncated = True
                    job.kill("output_limit")
            # The pipes close when the last process holding them dies; if a broken backend leaves one open,
            # stop reading shortly after the job's result is in.
            if job.poll() is not None:
                ended_at = ended_at or time.monotonic()
                if time.monotonic() - ended_at > 2.0:
                    break
        sel.close()
        if pending:  # the loop ended early (broken backend) with stdin still open
            job.stdin.close()
        result = job.wait()
        job.stdout.close()
        job.stderr.close()
        out = {names[fd]: bytes(data) for fd, data in captured.items()}
        return CompletedJob(result=result, stdout=out["stdout"], stderr=out["stderr"], truncated=truncated)


def get_backend(name: str | None = None) -> Sandbox:
    """The sandbox backend ``name`` (``"bwrap"`` default, ``"docker"``); env ``SANDBOX_BACKEND`` picks otherwise."""
    chosen = name or os.environ.get("SANDBOX_BACKEND") or "bwrap"
    if chosen == "bwrap":
        from sandbox.bwrap import BwrapSandbox

        return BwrapSandbox()
    if chosen == "docker":
        from sandbox.docker import DockerSandbox

        return DockerSandbox()
    raise ValueError(f"unknown sandbox backend {chosen!r} (expected 'bwrap' or 'docker')")


__all__ = [
    "OUTCOMES",
    "WORK_TARGET",
    "CompletedJob",
    "JobResult",
    "JobSpec",
    "Limits",
    "Mount",
    "RunningJob",
    "Sandbox",
    "SandboxError",
    "get_backend",
    "job_result",
    "split_exit_code",
]
