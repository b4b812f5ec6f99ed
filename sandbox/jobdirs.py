"""Job dirs on the host: made and held by the worker that runs the job, swept when their worker is gone.

A worker that dies mid-job (OOM-killed, SIGKILL, a crash) never removes the work dirs of its jobs, so they pile
up under the temp root. Design choices:
- :func:`create` makes the dir (``mkdtemp``: private, random name) and holds a shared ``flock`` on it until
  :func:`remove`. The lock dies with its process, so "locked" means "a live worker holds it", whichever process
  or container on this host that is (a Celery prefork child, runlab, a second worker sharing ``TMPDIR``).
- :func:`sweep_stale` removes, directly under the temp root, the dirs named with one of the given prefixes that
  it can lock exclusively and that are older than ``min_age_seconds`` (that only covers the instant between a
  ``mkdtemp`` and its lock). It never follows a symlink: an entry that is a symlink is left alone, a dir is
  opened with ``O_NOFOLLOW`` and emptied relative to that fd (``shutil.rmtree`` with ``dir_fd``, which unlinks
  symlinks inside, never their targets), and only dirs owned by this process's user are touched.
- The grading workers call it when they start (``grading.tasks.sweep_stale_job_dirs``); the other things a
  dead worker leaves are swept by the bwrap backend when it starts: its job cgroups (:mod:`sandbox.cgroups`)
  and work mounts (:mod:`sandbox.workfs`). The uid lease files are never removed: one per uid, reused, and
  deleting a lock file while another process opens it would let two jobs share a uid.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from sandbox.workfs import DIR_FLAGS, empty_dir, opened_dir

_held: dict[Path, int] = {}
_held_lock = threading.Lock()


def create(prefix: str, root: Path | None = None) -> Path:
    """A new private dir ``<root>/<prefix>XXXXXXXX`` (root: the temp dir), held by this process until :func:`remove`."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    fd = os.open(path, DIR_FLAGS)
    fcntl.flock(fd, fcntl.LOCK_SH)
    with _held_lock:
        _held[path] = fd
    return path


def remove(path: Path) -> None:
    """Remove a dir made by :func:`create` with everything in it, and let go of it."""
    shutil.rmtree(path, ignore_errors=True)
    with _held_lock:
        fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def sweep_stale(
    prefixes: Iterable[str], root: Path | None = None, *, min_age_seconds: float = 60.0
) -> list[Path]:
    """Remove the job dirs under ``root`` (the temp dir) that no live process holds; return what was removed.

    One that cannot be removed (an immutable file, a mount point inside) is left for the next sweep.
    """
    base = Path(root or tempfile.gettempdir())
    names = tuple(prefixes)
    cutoff = time.time() - min_age_seconds
    removed: list[Path] = []
    with opened_dir(base) as root_fd:
        with os.scandir(root_fd) as entries:
            candidates = [e.name for e in entries if e.name.startswith(names)]
        for name in candidates:
            try:
                if _remove_if_stale(name, root_fd, cutoff):
                    removed.append(base / name)
            except OSError:
                continue
    return removed


def _remove_if_stale(name: str, root_fd: int, cutoff: float) -> bool:
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=root_fd)
    except OSError:  # a symlink (ELOOP), not a dir, or gone meanwhile
        return False
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mtime > cutoff:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live worker holds it
            return False
        empty_dir(fd)
        os.rmdir(name, dir_fd=root_fd)
        return True
    finally:
        os.close(fd)
