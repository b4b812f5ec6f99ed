"""Per-job user ids: each concurrent job runs as its own non-root uid.

Design choices:
- ``RLIMIT_NPROC`` counts processes per uid system-wide, and "no process of the job survives" is checked per uid,
  so two jobs must never share one. Uids come from a range (default 61000..62023, env ``SANDBOX_UID_BASE`` /
  ``SANDBOX_UID_COUNT``) and are leased with an ``fcntl.flock`` on one lock file per uid under a state dir: the
  lock works across processes (several workers on one host) and dies with its holder, so a crashed worker never
  leaks a uid.
- Before a uid is handed out, any process still running under it (a leftover of a crashed worker) is killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from pathlib import Path

from sandbox.base import SandboxError

DEFAULT_UID_BASE = 61000
DEFAULT_UID_COUNT = 1024


def uid_range_from_env() -> range:
    """The uid range from ``SANDBOX_UID_BASE``/``SANDBOX_UID_COUNT`` (defaults 61000, 1024)."""
    values = []
    for name, default in (("SANDBOX_UID_BASE", DEFAULT_UID_BASE), ("SANDBOX_UID_COUNT", DEFAULT_UID_COUNT)):
        raw = os.environ.get(name, "").strip()
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {raw!r}") from None
        if value <= 0:
            raise ValueError(f"{name}: expected a value > 0, got {raw!r}")
        values.append(value)
    base, count = values
    if base < 1000:
        raise ValueError(f"SANDBOX_UID_BASE: {base} is below 1000 and could collide with system accounts")
    return range(base, base + count)


def pids_of_uid(uid: int) -> list[int]:
    """Pids of processes whose real uid is ``uid`` (read from /proc)."""
    return pids_of_uids(range(uid, uid + 1))


def pids_of_uids(uids: range) -> list[int]:
    """Pids of processes whose real uid is in ``uids`` (one pass over /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) in uids:
                            found.append(int(entry))
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):  # process gone meanwhile
            continue
    return found


def kill_uid(uid: int) -> int:
    """SIGKILL every process of ``uid``; return how many were signalled."""
    killed = 0
    for pid in pids_of_uid(uid):
        with contextlib.suppress(ProcessLookupError):  # it may exit meanwhile
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


class UidLease:
    """One leased uid; :meth:`release` (or process death) frees it."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class UidAllocator:
    """Leases distinct uids from a range across processes (flock on ``<state_dir>/uids/<uid>.lock``)."""

    def __init__(self, state_dir: Path, uids: range | None = None) -> None:
        self.uids = uids if uids is not None else uid_range_from_env()
        self.lock_dir = state_dir / "uids"
        self.lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def lease(self) -> UidLease:
        for uid in self.uids:
            fd = os.open(self.lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            kill_uid(uid)
            return UidLease(uid, fd)
        raise SandboxError(
            f"no free sandbox uid in {self.uids.start}..{self.uids.stop - 1}: too many jobs at once"
        )
