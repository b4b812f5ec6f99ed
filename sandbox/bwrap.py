"""The bubblewrap backend: the real sandbox on our machines and in CI.

Threat model (details, and what is NOT covered, in docs/threat-model.md): the job is hostile Python (or any
program) written by a learner. It must not reach the network or local services, read the worker's env, secrets,
the project tree, other jobs' files or host processes, write outside its work dir and a capped /tmp, exhaust the
host (memory, pids, CPU, disk, output), outlive its deadline, or forge its own result.

How one job is started (argv lists only; no shell string ever contains job data)::

    sh -c 'oom_score_adj=1000; echo $$ > {memory,pids,cpuacct}/cgroup.procs; exec "$@"'  # cgroups: root only
      prlimit --cpu --as --fsize --nproc --nofile --core=0 --                        # rlimits, inherited
        bwrap --unshare-{net,pid,ipc,uts,cgroup} --die-with-parent --new-session      # + --unshare-user if not root
              --seccomp FD (sandbox/seccomp.py: no unshare/setns/mount/bpf/io_uring/keyctl...)
              --ro-bind /usr ... --proc /proc --dev /dev --tmpfs /tmp (size-capped) --bind <work mount> /work ...
          setpriv --reuid N --regid N --clear-groups --no-new-privs --inh-caps -all --bounding-set -all  # root
            env -i K=V ... -- <argv>                                                  # the job's ONLY env

Design choices:
- As root (our machines, CI containers) bwrap does NOT create a user namespace: inside one, every sandbox uid
  maps back to host root and ``RLIMIT_NPROC`` would not apply. Instead the job drops to a real, unprivileged
  uid leased per job (:mod:`sandbox.uids`) with ``setpriv``; bwrap keeps only CAP_SETUID/SETGID/SETPCAP for
  that step and setpriv clears every capability set and sets no_new_privs. Unprivileged (a developer's laptop),
  bwrap uses ``--unshare-all`` (user namespace included) and the job keeps the caller's uid.
- The whole tree dies with the job: bwrap's pid namespace init takes every descendant with it (setsid/daemonize
  does not escape), the outer process group is SIGKILLed, the job's cgroups are emptied, and finally any process
  still running under the job's uid is killed (without cgroups, or when they cannot be emptied and removed).
- Two timeouts: the reaper thread (one per job, waiting on a pidfd) kills the job at ``wall_seconds`` (outcome ``timeout``); an outer watchdog gives the
  backend ``kill_grace_seconds`` to reap it, then reports ``sandbox_error`` instead of hanging.
- Memory: cgroup v1 cap (OOM kill -> ``memory_limit``) when available; ``RLIMIT_AS`` is a backstop (4x the cap
  with cgroups, the cap itself without; none for GPU jobs, whose drivers reserve huge address ranges).
- After a job, empty cgroups prove that nothing of it survived (a job can neither leave its cgroups nor change
  uid); only when they cannot be emptied and removed is every process of the job's uid hunted in /proc.
- As root, /work is the job's own tmpfs capped in bytes and inodes (:mod:`sandbox.workfs`): seeded from the
  host work dir before the job, copied back into it (never following a symlink) after; owned by the job's uid,
  it is the only writable bind besides the private tmpfs /tmp and /dev/shm. Unprivileged, the host work dir
  itself is bound (no cap).
- Trusted code reads nothing from the work dir (results travel on the engine's pipes), so what a job plants
  there (symlinks, FIFOs) is never followed.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import platform
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, cast

from sandbox import cgroups, seccomp, workfs
from sandbox.base import (
    WORK_TARGET,
    JobResult,
    JobSpec,
    Limits,
    RunningJob,
    Sandbox,
    SandboxError,
    job_result,
    split_exit_code,
    validate_command,
)
from sandbox.uids import UidAllocator, UidLease, kill_uid

GIB = 1024**3
#: Host paths bound read-only when they exist (symlinks such as Debian's /lib -> usr/lib are recreated).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
#: The few /etc entries the dynamic loader, compilers and Python need; passwd/group are generated.
ETC_PATHS = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
)
RESERVED_TARGETS = ("/proc", "/dev", "/tmp", "/etc/passwd", "/etc/group")
CGROUP_PREFIX = "nanochat-sbx-"
#: Runs first (as the worker's user): makes the job the host OOM killer's first choice (oom_score_adj 1000; the
#: job may lower it to 0, never below the worker's), joins the job's cgroups, then execs the rest of the chain.
#: Its arguments are our own paths, never job data.
PRELUDE = (
    "echo 1000 > /proc/self/oom_score_adj || exit 125; "
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
)
_counter = itertools.count()
#: Jobs not yet reaped; killed and cleaned up at interpreter exit (daemon reaper threads never finish then).
_live_jobs: weakref.WeakSet[BwrapJob] = weakref.WeakSet()


@atexit.register
def _stop_live_jobs() -> None:
    """At exit, kill every job still running and remove its cgroups (its uid lease dies with the process)."""
    for job in list(_live_jobs):
        job._kill_tree()
        if job._cgroups is not None:
            job._cgroups.remove(timeout=1.0)
        if job._work is not None:
            job._work.close()


def _tool(name: str) -> str:
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if path is None:
        raise SandboxError(f"{name} not found: install it (apt-get install bubblewrap util-linux)")
    return path


def default_state_dir() -> Path:
    """Where uid locks and the generated /etc files live (``SANDBOX_STATE_DIR``, else /run or the temp dir)."""
    configured = os.environ.get("SANDBOX_STATE_DIR")
    if configured:
        return Path(configured)
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        return Path("/run/nanochat-sandbox")
    return Path(tempfile.gettempdir()) / f"nanochat-sandbox-{os.getuid()}"


def validate_spec(spec: JobSpec) -> None:
    """Reject malformed specs before anything starts (ValueError with the reason)."""
    validate_command(spec)
    workdir = Path(spec.workdir)
    if workdir.is_symlink() or not workdir.is_dir():
        raise ValueError(f"workdir {workdir} must be an existing directory (not a symlink)")
    if workdir.resolve() == Path("/"):
        raise ValueError("workdir must not be / (it is chowned to the job's uid)")
    for mount in spec.mounts:
        target = mount.target
        if not target.startswith("/") or os.path.normpath(target) != target or target == "/":
            raise ValueError(f"mount target {target!r} must be a normalised absolute path other than /")
        if target == WORK_TARGET or any(target == r or target.startswith(r + "/") for r in RESERVED_TARGETS):
            raise ValueError(f"mount target {target!r} is reserved by the sandbox")
        if not os.path.lexists(mount.source):
            raise ValueError(f"mount source {mount.source} does not exist")


def _chown_tree(root: Path, uid: int) -> None:
    """chown ``root`` and everything under it to uid:uid without following symlinks."""
    os.lchown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in itertools.chain(dirnames, filenames):
            os.lchown(os.path.join(dirpath, name), uid, uid)


def classify(
    status: int,
    kill_reason: str | None,
    limits: Limits,
    *,
    oom: bool,
    started_ok: bool,
    wall: float,
    cpu: float,
    max_rss: int,
) -> JobResult:
    """A JobResult from bwrap's wait ``status``, its cgroups' ``oom``, and why we killed it (if we did).

    Only translates bwrap's end state into :func:`sandbox.base.job_result`'s facts (which decides the outcome);
    ``started_ok``: bwrap wrote its "exit-code" status line, so the sandbox was set up and the job ran.
    """
    exit_code: int | None = None
    sig: int | None = None
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
    else:
        exit_code, sig = split_exit_code(os.WEXITSTATUS(status))
    # No status line and no signal: bwrap itself failed before the job ran.
    failed = None if started_ok or sig is not None else f"the sandbox failed to start (exit code {exit_code})"
    return job_result(
        limits,
        exit_code=exit_code,
        signal=sig,
        wall_seconds=wall,
        cpu_seconds=cpu,
        max_rss_bytes=max_rss,
        kill_reason=kill_reason,
        oom=oom,
        # SIGKILL at the hard RLIMIT_CPU (if SIGXCPU at the soft one was ignored). The kernel counts rlimit CPU
        # in ticks, cpuacct precisely: they differ by a few %, so no exact comparison.
        cpu_killed=sig == signal.SIGKILL and cpu >= 0.9 * limits.cpu_seconds,
        backend_error=failed,
    )


class BwrapSandbox(Sandbox):
    """Runs jobs under bubblewrap (see the module docstring for the layering)."""

    name = "bwrap"
    #: Device nodes bound into GPU jobs (``--dev-bind``), when present.
    gpu_devices = "/dev/nvidia*"

    def __init__(
        self,
        *,
        privileged: bool | None = None,
        use_cgroups: bool | None = None,
        use_seccomp: bool = True,
        state_dir: Path | None = None,
        uids: range | None = None,
        kill_grace_seconds: float = 3.0,
        cap_work_dir: bool = True,
    ) -> None:
        self.privileged = (os.geteuid() == 0) if privileged is None else privileged
        if use_cgroups is None:
            use_cgroups = self.privileged and cgroups.available()
        self.use_cgroups = use_cgroups
        if use_cgroups:
            cgroups.sweep_stale(CGROUP_PREFIX)
        self.kill_grace_seconds = kill_grace_seconds
        #: The seccomp program handed to each job (None: no filter, e.g. not x86_64).
        self.seccomp = seccomp.program(platform.machine()) if use_seccomp else None
        self.bwrap = _tool("bwrap")
        self.prlimit = _tool("prlimit")
        self.setpriv = _tool("setpriv")
        self.env_tool = _tool("env")
        self.sh = _tool("sh")
        self.state_dir = state_dir or default_state_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.allocator = UidAllocator(self.state_dir, uids) if self.privileged else None
        #: Where each job's capped /work is mounted (as root; see sandbox.workfs), None: a plain bind.
        self.work_root: Path | None = None
        if self.allocator is not None and cap_work_dir:
            self.work_root = self.state_dir / "work"
            self.work_root.mkdir(exist_ok=True, mode=0o700)
            workfs.sweep_stale(self.work_root, self.allocator.lock_dir)
        self._etc_dir = self._write_etc()

    # -- /etc -------------------------------------------------------------------------------------------------
    def _write_etc(self) -> Path:
        """Generate passwd/group listing the job uids (Python's getpass and torch look the user up)."""
        uid_list = list(self.allocator.uids) if self.allocator else [os.getuid()]
        # One dir per uid range: sandboxes with different ranges may share a state dir.
        etc = self.state_dir / f"etc-{uid_list[0]}-{uid_list[-1]}"
        etc.mkdir(exist_ok=True, mode=0o755)
        passwd = ["root:x:0:0:root:/nonexistent:/usr/sbin/nologin"]
        group = ["root:x:0:"]
        for uid in uid_list:
            if uid != 0:
                passwd.append(f"sandbox{uid}:x:{uid}:{uid}:sandbox:{WORK_TARGET}:/usr/sbin/nologin")
                group.append(f"sandbox{uid}:x:{uid}:")
        for name, lines in (("passwd", passwd), ("group", group)):
            # a temporary file of our own: other processes and other threads of this one (two sandboxes built
            # side by side) write the same files at the same time
            fd, tmp_name = tempfile.mkstemp(dir=etc, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(fd, "w") as tmp:
                tmp.write("\n".join(lines) + "\n")
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, etc / name)
        return etc

    # -- argv -------------------------------------------------------------------------------------------------
    def rlimit_args(self, limits: Limits, *, gpu: bool, cgroup_memory: bool) -> list[str]:
        args = [
            self.prlimit,
            f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
            f"--fsize={limits.file_size_bytes}",
            f"--nofile={limits.open_files}",
            "--core=0",
        ]
        if self.privileged:
            # Counted per uid: safe only because each job has its own uid (an unprivileged caller's own
            # processes would count against it).
            args.append(f"--nproc={limits.pids}")
        if not gpu:
            address_space = max(4 * limits.memory_bytes, 4 * GIB) if cgroup_memory else limits.memory_bytes
            args.append(f"--as={address_space}")
        return [*args, "--"]

    def bwrap_args(
        self,
        spec: JobSpec,
        uid: int | None,
        status_fd: int | None = None,
        seccomp_fd: int | None = None,
        work: Path | None = None,
    ) -> list[str]:
        """bwrap's argv; ``work``: the host dir bound at /work (the job's capped mount; default: its work dir)."""
        args = [self.bwrap, "--die-with-parent", "--new-session"]
        if status_fd is not None:
            args += ["--json-status-fd", str(status_fd)]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        if self.privileged:
            args += [
                "--unshare-ipc",
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--hostname",
                "sandbox",
            ]
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
        else:
            args += ["--unshare-all", "--hostname", "sandbox"]
        bound: set[str] = set()
        made: set[str] = set()
        for path in SYSTEM_PATHS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
                bound.add(path)
        args += ["--perms", "0755", "--dir", "/etc"]
        made.add("/etc")
        for path in ETC_PATHS:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        args += ["--ro-bind", str(self._etc_dir / "passwd"), "/etc/passwd"]
        args += ["--ro-bind", str(self._etc_dir / "group"), "/etc/group"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        size = str(spec.limits.tmpfs_bytes)
        args += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
        args += ["--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
        args += ["--bind", str(work or Path(spec.workdir).resolve()), WORK_TARGET]
        bound.update({"/proc", "/dev", "/tmp", WORK_TARGET})
        for mount in sorted(spec.mounts, key=lambda m: m.target.count("/")):
            args += self._parent_dirs(mount.target, bound, made)
            args += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
            bound.add(mount.target)
        if spec.gpu:
            for dev in sorted(glob.glob(self.gpu_devices)):
                args += ["--dev-bind", str(dev), str(dev)]
        args += ["--chdir", WORK_TARGET, "--"]
        if self.privileged:
            assert uid is not None
            args += [
                self.setpriv,
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        args += [self.env_tool, "-i", "--", *(f"{k}={v}" for k, v in spec.env.items()), *spec.argv]
        return args

    @staticmethod
    def _parent_dirs(target: str, bound: set[str], made: set[str]) -> list[str]:
        """``--perms 0755 --dir`` for parents bwrap would otherwise create 0700 (unreadable for the job uid).

        ``bound`` holds mount targets (their host subtree exists inside), ``made`` the dirs created so far.
        """
        out: list[str] = []
        parts = Path(target).parts[1:-1]
        for i in range(len(parts)):
            parent = "/" + "/".join(parts[: i + 1])
            if parent in made or any(parent == b or parent.startswith(b + "/") for b in bound):
                continue
            out += ["--perms", "0755", "--dir", parent]
            made.add(parent)
        return out

    def command(
        self,
        spec: JobSpec,
        uid: int | None,
        job_cgroups: cgroups.JobCgroups | None,
        status_fd: int | None = None,
        seccomp_fd: int | None = None,
        work: Path | None = None,
    ) -> list[str]:
        """The full host argv for one job (exposed for tests and debugging)."""
        procs_files = job_cgroups.procs_files if job_cgroups is not None else []
        prelude = [self.sh, "-c", PRELUDE, "sandbox-enter", *procs_files, "--"]
        rlimits = self.rlimit_args(spec.limits, gpu=spec.gpu, cgroup_memory=job_cgroups is not None)
        return prelude + rlimits + self.bwrap_args(spec, uid, status_fd, seccomp_fd, work)

    # -- start ------------------------------------------------------------------------------------------------
    def start(self, spec: JobSpec) -> BwrapJob:
        validate_spec(spec)
        lease: UidLease | None = None
        work: workfs.WorkMount | None = None
        job_cgroups: cgroups.JobCgroups | None = None
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        pass_fds = [status_w]
        seccomp_fd: int | None = None
        if self.seccomp is not None:
            seccomp_fd, seccomp_w = os.pipe2(os.O_CLOEXEC)
            os.write(seccomp_w, self.seccomp)  # < 1 KiB: fits the pipe buffer
            os.close(seccomp_w)
            pass_fds.append(seccomp_fd)
        try:
            if self.allocator is not None:
                lease = self.allocator.lease()
                if self.work_root is not None:
                    mount_point = self.work_root / str(lease.uid)
                    work = workfs.WorkMount.create(mount_point, spec.limits, lease.uid, Path(spec.workdir))
                else:
                    _chown_tree(Path(spec.workdir), lease.uid)
            if self.use_cgroups:
                name = f"{CGROUP_PREFIX}{os.getpid()}-{next(_counter)}"
                job_cgroups = cgroups.JobCgroups(name, spec.limits.memory_bytes, spec.limits.pids + 4)
            uid = lease.uid if lease else None
            argv = self.command(spec, uid, job_cgroups, status_w, seccomp_fd, work.path if work else None)
            started = time.monotonic()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={},
                close_fds=True,
                pass_fds=pass_fds,
                start_new_session=True,
            )
        except BaseException as exc:
            os.close(status_r)
            if job_cgroups is not None:
                job_cgroups.remove()
            if work is not None:
                work.close()
            if lease is not None:
                lease.release()
            if isinstance(exc, OSError):
                raise SandboxError(f"could not start the sandbox: {exc}") from exc
            raise
        finally:
            os.close(status_w)
            if seccomp_fd is not None:
                os.close(seccomp_fd)
        job = BwrapJob(self, spec, proc, started, lease, job_cgroups, status_r, work)
        _live_jobs.add(job)
        return job


class BwrapJob(RunningJob):
    """A running bwrap job: one thread enforces the wall clock and reaps it."""

    def __init__(
        self,
        sandbox: BwrapSandbox,
        spec: JobSpec,
        proc: subprocess.Popen[bytes],
        started: float,
        lease: UidLease | None,
        job_cgroups: cgroups.JobCgroups | None,
        status_fd: int,
        work: workfs.WorkMount | None = None,
    ) -> None:
        self.spec = spec
        self._status_fd = status_fd
        self.sandbox = sandbox
        self.proc = proc
        self.pid = proc.pid
        self.uid = lease.uid if lease else None
        self.stdin = cast(Any, proc.stdin)
        self.stdout = cast(Any, proc.stdout)
        self.stderr = cast(Any, proc.stderr)
        self._started = started
        self._lease = lease
        self._cgroups = job_cgroups
        self._work = work
        self._lock = threading.Lock()
        self._kill_reason: str | None = None
        self._reaped = False
        self._killed_at: float | None = None
        self._done = threading.Event()
        self._result: JobResult | None = None
        self._waiter = threading.Thread(target=self._reap, name=f"sandbox-reap-{self.pid}", daemon=True)
        self._waiter.start()

    # -- ending -----------------------------------------------------------------------------------------------
    def kill(self, outcome: str = "killed") -> None:
        with self._lock:
            if self._reaped:  # it ended by itself first: keep its own outcome
                return
            if self._kill_reason is None:
                self._kill_reason = outcome
                self._killed_at = time.monotonic()
        self._kill_tree()

    def _kill_tree(self) -> None:
        """Kill every process of a running job; a no-op once it is reaped (``_finish`` then cleans up).

        Under the lock that reaping takes: a reaped job's pid may be reused, and once ``_finish`` releases
        its lease, its uid may run another job, so neither may be signalled then.
        """
        with self._lock:
            if self._reaped:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        """Kill what is left in the job's cgroups, else (or if they don't empty) every process of its uid."""
        if self._cgroups is not None:
            self._cgroups.kill_all()
            # A non-root job cannot move itself out of its cgroups: empty cgroups mean nothing survived.
            if not self._cgroups.pids_in():
                return
        if self.uid is not None:
            kill_uid(self.uid)

    def _reap(self) -> None:
        # One thread per job both enforces the wall clock and reaps: a pidfd becomes readable when bwrap exits.
        pidfd = os.pidfd_open(self.pid)
        try:
            deadline = self._started + self.spec.limits.wall_seconds
            if not select.select([pidfd], [], [], max(deadline - time.monotonic(), 0.0))[0]:
                self.kill("timeout")
        finally:
            os.close(pidfd)
        _, status, usage = os.wait4(self.pid, 0)
        ended = time.monotonic()
        with self._lock:
            self._reaped = True
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        try:
            self._finish(status, usage, ended)
        except Exception as exc:  # a crash of the backend still yields a result
            if self._cgroups is not None:
                with contextlib.suppress(Exception):
                    self._cgroups.remove()
            if self._work is not None:
                with contextlib.suppress(Exception):
                    self._work.close()
            if self._lease is not None:
                self._lease.release()
            self._set_result(
                JobResult(
                    exit_code=None,
                    signal=None,
                    outcome="sandbox_error",
                    wall_seconds=ended - self._started,
                    cpu_seconds=0.0,
                    max_rss_bytes=None,
                    message=f"the sandbox failed while collecting the result: {exc!r}",
                )
            )

    def _finish(self, status: int, usage: Any, ended: float) -> None:
        status_text = self._read_status()
        # Nothing of the job may outlive it: the pid namespace is gone with bwrap, then belt and braces.
        oom = False
        # Without cgroups, rusage covers only the bwrap monitor (it does not wait for the sandbox's init).
        max_rss = usage.ru_maxrss * 1024
        cpu = float(usage.ru_utime + usage.ru_stime)
        if self._cgroups is not None:
            self._cgroups.kill_all()
            oom = self._cgroups.oom_killed()
            max_rss = self._cgroups.max_usage_bytes()
            cpu = self._cgroups.cpu_seconds()
            # Emptied and removed cgroups prove that nothing of the job survived (it can neither leave them nor
            # change uid): only otherwise hunt its uid through /proc.
            if not self._cgroups.remove() and self.uid is not None:
                kill_uid(self.uid)
        else:
            self._kill_leftovers()
        if self._work is not None:  # nothing of the job runs any more: copy /work back, unmount it
            self._work.finish(Path(self.spec.workdir))
        if self._lease is not None:
            self._lease.release()
        started_ok = '"exit-code"' in status_text
        _live_jobs.discard(self)
        wall = ended - self._started
        self._set_result(
            classify(
                status,
                self._kill_reason,
                self.spec.limits,
                oom=oom,
                started_ok=started_ok,
                wall=wall,
                cpu=cpu,
                max_rss=max_rss,
            )
        )

    def _read_status(self) -> str:
        """bwrap's --json-status-fd lines; an "exit-code" line means the sandbox set up and the job ended."""
        os.set_blocking(self._status_fd, False)
        chunks = []
        try:
            while chunk := os.read(self._status_fd, 4096):
                chunks.append(chunk)
        except BlockingIOError:  # a writer survived (never seen): do not block the reaper
            pass
        finally:
            os.close(self._status_fd)
        return b"".join(chunks).decode("utf-8", "replace")

    def _set_result(self, result: JobResult) -> None:
        with self._lock:
            if self._result is None:
                self._result = result
            self._done.set()

    # -- waiting ----------------------------------------------------------------------------------------------
    def poll(self) -> JobResult | None:
        return self._result if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> JobResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise subprocess.TimeoutExpired(self.spec.argv, cast(float, timeout))
            killed_at = self._killed_at
            if killed_at is not None and now - killed_at > self.sandbox.kill_grace_seconds:
                self._watchdog()
                break
            step = 0.05 if killed_at is not None else 0.5
            if deadline is not None:
                step = min(step, max(deadline - now, 0.0))
            self._done.wait(step)
        assert self._result is not None
        return self._result

    def _watchdog(self) -> None:
        """The backend did not reap a killed job in time: kill harder and report a platform fault."""
        self._kill_tree()
        self._done.wait(self.sandbox.kill_grace_seconds)
        self._set_result(  # keeps the real result if the job was reaped meanwhile
            JobResult(
                exit_code=None,
                signal=None,
                outcome="sandbox_error",
                wall_seconds=time.monotonic() - self._started,
                cpu_seconds=0.0,
                max_rss_bytes=None,
                message="the sandbox did not stop after being killed",
            )
        )
