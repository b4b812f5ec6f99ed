"""The Docker backend: one throw-away container per job, for production hosts (and GPU jobs).

Design choices:
- The whole container configuration is one pure function, :func:`container_spec`, tested exhaustively without
  an engine: no network (``network_mode="none"``), read-only root, size-capped tmpfs /tmp and /dev/shm,
  ``mem_limit == memswap_limit`` (no swap escape), ``pids_limit``, ``nano_cpus``, a non-root ``user``,
  ``cap_drop=["ALL"]``, ``no-new-privileges``, rlimits as ulimits (cpu, fsize, nofile, core=0), read-only binds
  except explicitly writable ones, the env exactly the spec's, ``init=True`` (tini reaps and forwards
  signals), logging off (output travels only through the attach socket), and NVIDIA ``device_requests`` for
  GPU jobs.
- /work is the container's own tmpfs capped in bytes and inodes (``work_bytes``, ``work_inodes``; owned by the
  job's uid), enforced by the engine whatever its storage driver (``--storage-opt size`` needs overlay2 on XFS
  with project quotas, and would make the root writable). The host work dir is bound read-only at
  :data:`SEED_TARGET` and copied in by :data:`SEED_PRELUDE` before the job's argv runs. What the job leaves in
  /work is discarded with the container (``returns_work`` is False): the engine cannot copy a tmpfs out
  (``docker cp`` reads the layer under it) and results travel on the job's pipes.
- stdin/stdout/stderr travel through the attach socket: a pump thread demultiplexes Docker's 8-byte framed
  stream (:func:`demux`) into two OS pipes, so callers get the same raw ``BinaryIO`` pipes as with bwrap.
- The job's env is exactly the spec's, as with bwrap: the engine adds its own (``HOSTNAME``, the image's
  ``ENV``, ``HOME``) to the container, so the prelude starts the argv through ``env -i -- K=V...``.
- CPU time and peak memory: the container is created under a parent cgroup of its own
  (``cgroup_parent``, :class:`sandbox.cgroups.ParentCgroup`) when the engine uses the cgroupfs driver; the
  parent's counters outlive the container (the engine removes the container's own cgroup as it stops) and are
  read after it, then the parent is removed. The CPU cap is ``RLIMIT_CPU`` (ulimit ``cpu``) as with bwrap: the
  soft limit's SIGXCPU, or a SIGKILL at the hard one with the measured time at the cap, is ``timeout``. With
  another driver (systemd) the counters are not read: ``cpu_seconds`` is 0.0 and ``max_rss_bytes`` None.
- The wall-clock timer kills the container (``timeout``); ``State.OOMKilled`` maps to ``memory_limit``; the
  container is always removed at the end. The image is ``SANDBOX_DOCKER_IMAGE`` (docker/sandbox/Dockerfile).
- Everything that needs a live engine is marked ``pragma: no cover`` (listed in docs/threat-model.md); run the
  shared suite against an engine with ``SANDBOX_TEST_BACKENDS=docker pytest tests/sandbox``.
"""

from __future__ import annotations

import importlib
import itertools
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, cast

from sandbox.base import (
    WORK_TARGET,
    JobResult,
    JobSpec,
    RunningJob,
    Sandbox,
    SandboxError,
    job_result,
    split_exit_code,
    validate_command,
)
from sandbox.cgroups import ParentCgroup, sweep_stale_parents
from sandbox.runtime import VENV_TARGET, Runtime, python_env
from sandbox.uids import uid_range_from_env

DEFAULT_IMAGE = "nanochat-lab-sandbox:latest"
#: The image's first named sandbox account (docker/sandbox/Dockerfile); outside bwrap's uid range, see DockerSandbox.
DEFAULT_UID = 60000
STREAMS = {1: "stdout", 2: "stderr"}
#: Where the host work dir is bound (read-only) for the copy into /work.
SEED_TARGET = "/opt/sandbox/work-seed"
#: The container's command runs this first (as the job's uid), then execs ``env -i -- K=V... argv`` (the job's
#: env and argv, which it gets as arguments: never part of the script), so the job sees only the spec's env.
#: Exit code 125 if the copy fails (the files do not fit the caps).
SEED_PRELUDE = f'cp -RP --preserve=mode,timestamps {SEED_TARGET}/. {WORK_TARGET}/ || exit 125; exec /usr/bin/env -i -- "$@"'
_job_numbers = itertools.count()


def container_spec(
    spec: JobSpec,
    *,
    image: str = DEFAULT_IMAGE,
    uid: int = DEFAULT_UID,
    cpus: float = 1.0,
    name: str | None = None,
    cgroup_parent: str | None = None,
) -> dict[str, Any]:
    """The ``docker.containers.create(**kwargs)`` arguments for one job (pure: no engine, no I/O)."""
    validate_command(spec)
    if uid == 0:
        raise ValueError("sandbox containers never run as root")
    if cpus <= 0:
        raise ValueError("cpus must be > 0")
    limits = spec.limits
    # exec allowed, as with bwrap: torch/triton compile and load shared objects from /tmp. Docker mounts a tmpfs
    # noexec unless its options say exec.
    tmpfs_opts = f"rw,nosuid,nodev,exec,size={limits.tmpfs_bytes},mode=1777"
    work_opts = (
        f"rw,nosuid,nodev,exec,size={limits.work_bytes},nr_inodes={limits.work_inodes},"
        f"uid={uid},gid={uid},mode=0700"
    )
    volumes: dict[str, dict[str, str]] = {str(spec.workdir): {"bind": SEED_TARGET, "mode": "ro"}}
    for mount in spec.mounts:
        if mount.target in (WORK_TARGET, SEED_TARGET):
            raise ValueError(f"mount target {mount.target} is reserved for the work dir")
        volumes[str(mount.source)] = {"bind": mount.target, "mode": "rw" if mount.writable else "ro"}
    kwargs: dict[str, Any] = {
        "image": image,
        "command": [
            "/bin/sh",
            "-c",
            SEED_PRELUDE,
            "sandbox-seed",
            *(f"{key}={value}" for key, value in spec.env.items()),
            *spec.argv,
        ],
        "entrypoint": [],
        "working_dir": WORK_TARGET,
        # the prelude's own env; the job's is set by env -i on the command line
        "environment": {},
        "user": f"{uid}:{uid}",
        "hostname": "sandbox",
        "network_mode": "none",
        "ipc_mode": "private",
        "read_only": True,
        "tmpfs": {"/tmp": tmpfs_opts, "/dev/shm": tmpfs_opts, WORK_TARGET: work_opts},
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,
        "mem_swappiness": 0,
        "pids_limit": limits.pids,
        "nano_cpus": int(cpus * 1e9),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "ulimits": [
            {"name": "cpu", "soft": limits.cpu_seconds, "hard": limits.cpu_seconds + 1},
            {"name": "fsize", "soft": limits.file_size_bytes, "hard": limits.file_size_bytes},
            {"name": "nofile", "soft": limits.open_files, "hard": limits.open_files},
            {"name": "core", "soft": 0, "hard": 0},
        ],
        "volumes": volumes,
        "init": True,
        "privileged": False,
        "stdin_open": True,
        "tty": False,
        "log_config": {"type": "none", "config": {}},
        "labels": {"nanochat-lab.sandbox": "1"},
    }
    if spec.gpu:
        kwargs["device_requests"] = [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
    if name is not None:
        kwargs["name"] = name
    if cgroup_parent is not None:
        kwargs["cgroup_parent"] = cgroup_parent
    return kwargs


def measures_cgroups(info: dict[str, Any]) -> bool:
    """True when the engine (``client.info()``) places containers under a ``cgroup_parent`` path we can read:
    the cgroupfs driver (the systemd driver wants a slice name, under its own tree)."""
    return info.get("CgroupDriver") == "cgroupfs"


def parent_cgroup_name() -> str:
    """A name for one job's parent cgroup, unique on this host: ``<worker pid>-<n>``."""
    return f"{os.getpid()}-{next(_job_numbers)}"


def demux(read: Callable[[int], bytes]) -> Iterator[tuple[str, bytes]]:
    """Split Docker's multiplexed attach stream (8-byte header: stream id, 3 zero bytes, big-endian length)."""

    def read_exact(n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = read(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    while True:
        header = read_exact(8)
        if header is None:
            return
        stream_id, length = header[0], struct.unpack(">I", header[4:8])[0]
        payload = read_exact(length) if length else b""
        if payload is None:
            return
        if stream_id in STREAMS:
            yield STREAMS[stream_id], payload


def classify(
    state: dict[str, Any],
    kill_reason: str | None,
    spec: JobSpec,
    wall: float,
    cpu: float = 0.0,
    max_rss: int | None = None,
) -> JobResult:
    """A JobResult from ``container.attrs["State"]``, why we killed it (if we did) and its parent cgroup's
    counters (``cpu`` seconds, ``max_rss`` bytes).

    Only translates the container's state into :func:`sandbox.base.job_result`'s facts (which decides the
    outcome): tini (``init=True``) reports a job killed by signal N as exit code 128+N. A SIGKILL with the
    measured CPU time at the cap is the hard ``RLIMIT_CPU`` (as bwrap reads it: the kernel counts rlimit CPU in
    ticks, cpuacct precisely).
    """
    code = state.get("ExitCode")
    exit_code, sig = split_exit_code(code) if isinstance(code, int) else (None, None)
    error = state.get("Error")
    return job_result(
        spec.limits,
        exit_code=exit_code,
        signal=sig,
        wall_seconds=wall,
        cpu_seconds=cpu,
        max_rss_bytes=max_rss,
        kill_reason=kill_reason,
        oom=bool(state.get("OOMKilled")),
        cpu_killed=sig == signal.SIGKILL and cpu >= 0.9 * spec.limits.cpu_seconds,
        backend_error=f"docker: {error}" if error else None,
    )


class DockerSandbox(Sandbox):
    """Runs each job in its own container (docker SDK, ``docker.from_env()``)."""

    name = "docker"
    returns_work = False

    def __init__(
        self, *, image: str | None = None, uid: int | None = None, cpus: float | None = None
    ) -> None:
        self.image = image or os.environ.get("SANDBOX_DOCKER_IMAGE", DEFAULT_IMAGE)
        self.uid = uid or int(os.environ.get("SANDBOX_DOCKER_UID", DEFAULT_UID))
        self.cpus = cpus or float(os.environ.get("SANDBOX_DOCKER_CPUS", "1"))
        # Containers share the host's uids (no user namespace): a bwrap lease kills every process of its uid
        # before handing it out, which would kill a container's job running under the same uid.
        bwrap_uids = uid_range_from_env()
        if self.uid in bwrap_uids:
            raise ValueError(
                f"SANDBOX_DOCKER_UID {self.uid} is inside the bwrap uid range "
                f"{bwrap_uids.start}..{bwrap_uids.stop - 1} (SANDBOX_UID_BASE/SANDBOX_UID_COUNT)"
            )
        if os.geteuid() == 0:
            sweep_stale_parents()

    def python_runtime(self) -> Runtime:
        """The image's own venv (docker/sandbox/Dockerfile installs it at /opt/venv): nothing to mount."""
        return Runtime(mounts=[], env=python_env(), executable=f"{VENV_TARGET}/bin/python")

    def start(self, spec: JobSpec) -> RunningJob:
        parent = ParentCgroup(parent_cgroup_name())
        kwargs = container_spec(
            spec, image=self.image, uid=self.uid, cpus=self.cpus, cgroup_parent=parent.path
        )
        return _start_container(connect(), spec, kwargs, self.uid, parent)


def connect() -> Any:
    """A docker SDK client whose engine answered ``ping()``; :class:`SandboxError` if none answers."""
    try:
        # importlib: the SDK's top-level name "docker" is also this module's own name.
        docker_sdk: Any = importlib.import_module("docker")
        client = docker_sdk.from_env()
        client.ping()
    except Exception as exc:  # docker raises DockerException, requests errors, FileNotFoundError...
        raise SandboxError(f"no Docker engine answers: {exc}") from exc
    return client


#: Per engine (its API address): whether it runs containers under a ``cgroup_parent`` we can read.
_engine_measures: dict[str, bool] = {}


def _start_container(
    client: Any, spec: JobSpec, kwargs: dict[str, Any], uid: int, parent: ParentCgroup | None
) -> DockerJob:  # pragma: no cover
    url = str(client.api.base_url)
    if url not in _engine_measures:
        _engine_measures[url] = measures_cgroups(client.info())
    if not _engine_measures[url]:
        kwargs.pop("cgroup_parent", None)
        parent = None
    if os.geteuid() == 0:
        os.chown(spec.workdir, uid, uid)
    container = None
    try:
        container = client.containers.create(**kwargs)
        sock = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        container.start()
    except Exception as exc:
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:
                pass
        if parent is not None:
            parent.remove()
        raise SandboxError(f"could not start the container: {exc}") from exc
    return DockerJob(spec, container, sock, time.monotonic(), parent)


class DockerJob(RunningJob):  # pragma: no cover - needs a Docker engine
    """A running container with Popen-like pipes."""

    def __init__(
        self, spec: JobSpec, container: Any, sock: Any, started: float, parent: ParentCgroup | None
    ) -> None:
        self.spec = spec
        self.container = container
        self._parent = parent
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._started = started
        self._kill_reason: str | None = None
        self._result: JobResult | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe()
        # Buffered, as subprocess.Popen's pipes (bwrap): callers use read1(), readline() and flush().
        self.stdout = cast(BinaryIO, os.fdopen(out_r, "rb"))
        self.stderr = cast(BinaryIO, os.fdopen(err_r, "rb"))
        self.stdin = cast(BinaryIO, os.fdopen(in_w, "wb"))
        threading.Thread(target=self._pump_out, args=(out_w, err_w), daemon=True).start()
        threading.Thread(target=self._pump_in, args=(in_r,), daemon=True).start()
        self._timer = threading.Timer(spec.limits.wall_seconds, self.kill, args=("timeout",))
        self._timer.daemon = True
        self._timer.start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _pump_out(self, out_w: int, err_w: int) -> None:
        fds = {"stdout": out_w, "stderr": err_w}
        try:
            for stream, payload in demux(self._sock.recv):
                try:
                    os.write(fds[stream], payload)
                except BrokenPipeError:
                    pass
        except OSError:
            pass
        finally:
            os.close(out_w)
            os.close(err_w)

    def _pump_in(self, in_r: int) -> None:
        try:
            while chunk := os.read(in_r, 65536):
                self._sock.sendall(chunk)
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            os.close(in_r)

    def _wait(self) -> None:
        try:
            self.container.wait()
            self.container.reload()
            state = self.container.attrs.get("State", {})
        except Exception as exc:
            state = {"Error": str(exc)}
        self._timer.cancel()
        wall = time.monotonic() - self._started
        try:
            self.container.remove(force=True)
        except Exception:
            pass
        cpu, max_rss = 0.0, None
        if self._parent is not None:  # the container's own cgroup is gone: the parent holds its totals
            cpu, max_rss = self._parent.cpu_seconds(), self._parent.max_usage_bytes()
            self._parent.remove()
        result = classify(state, self._kill_reason, self.spec, wall, cpu, max_rss)
        with self._lock:
            self._result = result
            self._done.set()

    def kill(self, outcome: str = "killed") -> None:
        with self._lock:
            if self._done.is_set():
                return
            if self._kill_reason is None:
                self._kill_reason = outcome
        try:
            self.container.kill()
        except Exception:
            pass

    def poll(self) -> JobResult | None:
        return self._result if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> JobResult:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.spec.argv, cast(float, timeout))
        assert self._result is not None
        return self._result
