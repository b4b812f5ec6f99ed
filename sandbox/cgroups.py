"""cgroup v1 memory + pids caps and CPU accounting for one job (used when the worker runs as root and the hierarchy is writable).

Design choices:
- cpuacct measures the CPU time of the whole tree, including processes killed with the job (bwrap's monitor
  does not wait for the sandbox's init, so rusage from ``wait4`` misses the job; without cgroups the reported
  CPU time and peak memory cover only the wrapper: documented in docs/threat-model.md).
- A child cgroup is made under the worker's OWN cgroup of each controller (read from /proc/self/cgroup), so the
  job's memory also counts against whatever limits the worker lives under.
- ``memory.limit_in_bytes`` and ``memory.memsw.limit_in_bytes`` (when present) get the same value: no swap
  escape. An OOM kill is read back from ``memory.oom_control`` (``oom_kill N``).
- The job enters the cgroups before bwrap starts (a tiny ``sh`` prelude writes its own pid to ``cgroup.procs``
  and execs), so nothing forks outside them (and bwrap's cgroup namespace is rooted at the job's cgroups).
- That attach is the dearest part of a start: every v1 ``cgroup.procs`` write takes the kernel's global
  threadgroup rwsem for writing, whose first taker waits for an RCU grace period (~10 ms). Warming that lock
  from a thread while the start runs, and attaching from the worker after bwrap has forked, were measured and
  dropped (no gain under load; the latter roots bwrap's cgroup namespace outside the job's cgroups).
- Cleanup kills whatever is left in the cgroups and removes them; v1 has no ``cgroup.kill``, so it loops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import cast

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpuacct")


def own_cgroup(controller: str, proc_cgroup: Path = Path("/proc/self/cgroup")) -> Path | None:
    """The mounted directory of this process's cgroup for a v1 ``controller``, or None."""
    for line in proc_cgroup.read_text().splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and controller in parts[1].split(","):
            path = CGROUP_ROOT / controller / parts[2].lstrip("/")
            return path if (path / "cgroup.procs").exists() else None
    return None


def available() -> bool:
    """True when the memory, pids and cpuacct v1 hierarchies exist and we may create children in them."""
    if os.geteuid() != 0:
        return False
    for controller in CONTROLLERS:
        base = own_cgroup(controller)
        if base is None or not os.access(base, os.W_OK):
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - root may signal anything; kept for non-root callers
        return True
    return True


def sweep_stale(prefix: str) -> list[Path]:
    """Remove empty job cgroups ``<prefix><pid>-<n>`` whose creating process is gone; return what was removed.

    A worker that dies while jobs run (its daemon threads never clean up) leaves empty cgroups behind.
    """
    removed = []
    for controller in CONTROLLERS:
        base = own_cgroup(controller)
        if base is None:
            continue
        for group in base.glob(f"{prefix}*"):
            creator = group.name[len(prefix) :].split("-")[0]
            if creator.isdigit() and not _pid_alive(int(creator)):
                with contextlib.suppress(OSError):  # still busy: leave it for the next sweep
                    group.rmdir()
                    removed.append(group)
    return removed


class JobCgroups:
    """A memory and a pids child cgroup for one job."""

    def __init__(self, name: str, memory_bytes: int, pids: int) -> None:
        bases = [own_cgroup(controller) for controller in CONTROLLERS]
        if any(base is None for base in bases):
            raise OSError("cgroup v1 memory/pids/cpuacct hierarchies are not available")
        self.memory, self.pids, self.cpuacct = (cast(Path, base) / name for base in bases)
        self.memory.mkdir()
        try:
            self.pids.mkdir()
            self.cpuacct.mkdir()
            (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            memsw = self.memory / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(memory_bytes))
            (self.memory / "memory.swappiness").write_text("0")
            (self.pids / "pids.max").write_text(str(pids))
        except OSError:
            self.remove()
            raise

    @property
    def groups(self) -> list[Path]:
        return [self.memory, self.pids, self.cpuacct]

    @property
    def procs_files(self) -> list[str]:
        return [str(group / "cgroup.procs") for group in self.groups]

    def cpu_seconds(self) -> float:
        """CPU time of every process that ever ran in the job (cpuacct)."""
        return int((self.cpuacct / "cpuacct.usage").read_text()) / 1e9

    def oom_killed(self) -> bool:
        """True if the kernel OOM-killed a process of this cgroup (``oom_kill N`` in memory.oom_control)."""
        try:
            text = (self.memory / "memory.oom_control").read_text()
        except OSError:
            return False
        for line in text.splitlines():
            if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                return True
        return False

    def max_usage_bytes(self) -> int:
        return int((self.memory / "memory.max_usage_in_bytes").read_text())

    def pids_in(self) -> set[int]:
        found: set[int] = set()
        for group in self.groups:
            try:
                found.update(int(p) for p in (group / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return found

    def kill_all(self) -> None:
        for pid in self.pids_in():
            with contextlib.suppress(ProcessLookupError):  # it may exit meanwhile
                os.kill(pid, signal.SIGKILL)

    def remove(self, timeout: float = 2.0) -> bool:
        """Kill what is left and rmdir both cgroups; True when both are gone."""
        deadline = time.monotonic() + timeout
        for group in self.groups:
            while group.exists() and time.monotonic() < deadline:
                self.kill_all()
                with contextlib.suppress(OSError):  # EBUSY while its last processes die
                    group.rmdir()
                time.sleep(0.002 if group.exists() else 0)
        return not any(group.exists() for group in self.groups)


#: The Docker backend creates each job's container under its own parent cgroup ``/<DOCKER_PARENT>/<name>``
#: (``cgroup_parent``, the engine's cgroupfs driver): the engine removes the container's own cgroup when it
#: stops, the parent's counters stay, and they count every process of the container, killed ones included.
DOCKER_PARENT = "nanochat-lab-sandbox"


class ParentCgroup:
    """The parent cgroup of one job's container: its CPU time and peak memory after the container is gone.

    v1 (one hierarchy per controller: ``cpuacct.usage``, ``memory.max_usage_in_bytes``) or v2 (one unified
    hierarchy: ``cpu.stat`` ``usage_usec``, ``memory.peak``). The engine makes the directories; :meth:`remove`
    deletes them in every hierarchy where they exist.
    """

    def __init__(self, name: str, root: Path = CGROUP_ROOT) -> None:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"invalid cgroup name {name!r}")
        self.relative = f"{DOCKER_PARENT}/{name}"
        self.root = root

    @property
    def path(self) -> str:
        """The ``cgroup_parent`` to give the engine."""
        return f"/{self.relative}"

    def _unified(self) -> bool:
        return (self.root / "cgroup.controllers").exists()

    def _read(self, controller: str, v1_file: str) -> str | None:
        group = self.root / (self.relative if self._unified() else f"{controller}/{self.relative}")
        try:
            return (group / v1_file).read_text()
        except OSError:
            return None

    def cpu_seconds(self) -> float:
        """CPU time of every process that ran under it (0.0 where no counter is readable)."""
        if self._unified():
            for line in (self._read("cpu", "cpu.stat") or "").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return 0.0
        usage = self._read("cpuacct", "cpuacct.usage")
        return int(usage) / 1e9 if usage else 0.0

    def max_usage_bytes(self) -> int | None:
        """Peak memory (page cache included, as bwrap's cgroups report it), or None where not readable."""
        usage = self._read("memory", "memory.peak" if self._unified() else "memory.max_usage_in_bytes")
        return int(usage) if usage else None

    def directories(self) -> list[Path]:
        """Where it exists: one directory per v1 hierarchy (``cpu`` -> ``cpu,cpuacct`` links count once)."""
        return [group for group in _hierarchies(self.root, self.relative) if group.is_dir()]

    def remove(self) -> bool:
        """rmdir it in every hierarchy (empty once the container is removed); True when none is left."""
        for group in self.directories():
            with contextlib.suppress(OSError):  # still busy (never seen): left behind, empty
                group.rmdir()
        return not self.directories()


def _hierarchies(root: Path, relative: str) -> list[Path]:
    """``relative`` in the one v2 hierarchy, or in every v1 hierarchy (symlinked ones once)."""
    if (root / "cgroup.controllers").exists():
        return [root / relative]
    return [h / relative for h in sorted({h.resolve() for h in root.iterdir() if h.is_dir()})]


def sweep_stale_parents(root: Path = CGROUP_ROOT) -> list[Path]:
    """Remove the Docker jobs' parents ``<pid>-<n>`` whose worker is gone (it crashed before removing them, or a
    container's start failed while the engine still held its cgroup); return what was removed."""
    removed = []
    for base in _hierarchies(root, DOCKER_PARENT):
        for group in sorted(base.glob("*-*")):
            creator = group.name.split("-")[0]
            if creator.isdigit() and not _pid_alive(int(creator)):
                with contextlib.suppress(OSError):  # not empty yet: the next sweep
                    group.rmdir()
                    removed.append(group)
    return removed
