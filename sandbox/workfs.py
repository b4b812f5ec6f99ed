"""The job's work dir as its own file system: a tmpfs capped in bytes and inodes (bwrap as root).

Threat: a job that fills ``/work`` (many large files, or 100k empty ones) must meet a cap of its own, as ``/tmp``
does, instead of the worker's disk. ``RLIMIT_FSIZE`` caps one file only.

Design choices:
- The worker mounts one tmpfs per job on the host, at ``<state dir>/work/<uid>`` (named by the job's leased uid,
  so the uid lease says whether it is in use), with ``size=work_bytes,nr_inodes=work_inodes``, ``nosuid,nodev``,
  owned by the job's uid (mode 0700); bwrap binds it at ``/work``. tmpfs refuses the write past either cap with
  ``ENOSPC`` (each hard link counts as an inode too), and its pages count against the job's memory cgroup like
  ``/tmp``'s. A mount costs ~0.1 ms. Chosen over bwrap's own ``--size --tmpfs /work``, which has no inode cap
  and dies with the sandbox (nothing could be copied back after a kill); over a loop-mounted image (a mkfs per
  job, or a pool of images); and over project quotas, which need a file system mounted with them.
- In: the host work dir's files (the caller's, trusted) are copied in and handed to the job's uid before it
  starts. Out: when the job has ended, what it left is copied back into the host work dir, which then mirrors
  ``/work`` as a direct bind would. The host dir is never visible to the job, so nothing can race the copy.
- The copy back reads a hostile tree and never follows a symlink: every step is relative to an open directory
  fd with ``O_NOFOLLOW``; files must be regular by ``fstat`` of the opened fd; symlinks and FIFOs are recreated
  as such (never followed), other special files are skipped; set-id bits and group/other write bits are
  dropped; hard links stay links; at most ``work_bytes`` of file data is copied in all (sparse files could
  otherwise claim far more than the tmpfs holds) and trees deeper than :data:`MAX_DEPTH` are cut.
- The mount is detached (``MNT_DETACH | UMOUNT_NOFOLLOW``) when the job ends; one left by a worker that died is
  detached when its uid is next leased, and by :func:`sweep_stale` when a sandbox starts. The mount point (an
  empty dir per uid) is kept for the uid's next job.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from sandbox.base import Limits

MS_NOSUID = 0x2
MS_NODEV = 0x4
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8
#: Directories deeper than this under /work are not copied back (a job can nest one per inode).
MAX_DEPTH = 64
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _os_error(what: str, path: Path) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}", str(path))


def mount_tmpfs(target: Path, limits: Limits, uid: int) -> None:
    """Mount a tmpfs capped at ``limits.work_bytes`` and ``limits.work_inodes`` on ``target``, owned by ``uid``."""
    options = f"size={limits.work_bytes},nr_inodes={limits.work_inodes},mode=0700,uid={uid},gid={uid}"
    if _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()) != 0:
        raise _os_error("mount", target)


def unmount(target: Path) -> bool:
    """Detach the mount on ``target`` (never following a symlink); False if nothing is mounted there."""
    if _libc.umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOENT):  # not a mount point / no such path
        return False
    raise _os_error("umount", target)


class _Budget:
    """Bytes of file data the copy may still write."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def take(self, size: int) -> bool:
        if self.left is None:
            return True
        if size > self.left:
            return False
        self.left -= size
        return True


def _copy_file(name: str, src_dir: int, dst_dir: int, size: int, mode: int) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):  # swapped after the listing: skip it
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        dst = os.open(name, flags, mode, dir_fd=dst_dir)
        try:
            left = size  # never more than was listed, even if the file grows meanwhile
            while left > 0:
                sent = os.sendfile(dst, src, None, min(left, 1 << 24))
                if sent == 0:
                    break
                left -= sent
        finally:
            os.close(dst)
    finally:
        os.close(src)


def copy_tree(src: int, dst: int, *, uid: int | None = None, max_bytes: int | None = None) -> None:
    """Copy the tree under directory fd ``src`` into directory fd ``dst`` without following any symlink.

    ``uid``: owner of everything created (else the caller's); ``max_bytes``: file data written in all, files
    past it are skipped. See the module docstring for what is copied and how.
    """
    _copy_dir(src, dst, uid, _Budget(max_bytes), {}, dst, "", 0)


def _copy_dir(
    src: int,
    dst: int,
    uid: int | None,
    budget: _Budget,
    links: dict[tuple[int, int], str],
    root: int,
    rel: str,
    depth: int,
) -> None:
    with os.scandir(src) as entries:
        listing = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
    for name, st in listing:
        path = f"{rel}{name}"
        if stat.S_ISDIR(st.st_mode):
            if depth >= MAX_DEPTH:
                continue
            os.mkdir(name, (st.st_mode & 0o755) | 0o700, dir_fd=dst)
            with opened_dir(name, src) as sub_src, opened_dir(name, dst) as sub_dst:
                _copy_dir(sub_src, sub_dst, uid, budget, links, root, f"{path}/", depth + 1)
        elif stat.S_ISREG(st.st_mode):
            first = links.get((st.st_dev, st.st_ino))
            if first is not None:
                os.link(first, name, src_dir_fd=root, dst_dir_fd=dst, follow_symlinks=False)
                continue
            if not budget.take(st.st_size):
                continue
            _copy_file(name, src, dst, st.st_size, (st.st_mode & 0o755) | 0o600)
            if st.st_nlink > 1:
                links[(st.st_dev, st.st_ino)] = path
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(name, 0o644, dir_fd=dst)
        else:  # sockets (a job cannot make device nodes)
            continue
        if uid is not None:
            os.chown(name, uid, uid, dir_fd=dst, follow_symlinks=False)


@contextlib.contextmanager
def opened_dir(name: str | Path, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def empty_dir(dir_fd: int) -> None:
    """Remove everything under directory fd ``dir_fd`` (never following a symlink)."""
    with os.scandir(dir_fd) as entries:
        names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for name, is_dir in names:
        if is_dir:
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


class WorkMount:
    """One job's capped work dir: mounted and seeded by :meth:`create`, copied back and unmounted by :meth:`finish`."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self._mounted = False
        self._lock = threading.Lock()  # the reaper and the exit hook may close it at once

    @classmethod
    def create(cls, path: Path, limits: Limits, uid: int, seed: Path) -> WorkMount:
        """Mount the tmpfs at ``path`` (detaching one a dead worker left there) and copy ``seed``'s files in.

        ``ValueError`` if the seed does not fit the caps (the caller's work dir is too big for its limits).
        """
        work = cls(path, limits)
        unmount(path)
        path.mkdir(mode=0o700, exist_ok=True)
        mount_tmpfs(path, limits, uid)
        work._mounted = True
        try:
            with opened_dir(seed) as src, opened_dir(path) as dst:
                copy_tree(src, dst, uid=uid)
        except OSError as exc:
            work.close()
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ValueError(
                    f"the work dir {seed} does not fit its caps ({limits.work_bytes} bytes, "
                    f"{limits.work_inodes} inodes)"
                ) from exc
            raise
        return work

    def finish(self, dest: Path) -> None:
        """Mirror what the job left into ``dest`` (at most ``work_bytes`` of file data), then :meth:`close`.

        A ``dest`` its owner has removed meanwhile wants nothing back.
        """
        try:
            try:
                dst = os.open(dest, DIR_FLAGS)
            except FileNotFoundError:
                return
            try:
                with opened_dir(self.path) as src:
                    empty_dir(dst)
                    copy_tree(src, dst, max_bytes=self.limits.work_bytes)
            finally:
                os.close(dst)
        finally:
            self.close()

    def close(self) -> None:
        """Unmount (idempotent). The mount point stays for the uid's next job: an rmdir per job costs ms on a
        journalled disk."""
        with self._lock:
            if self._mounted:
                unmount(self.path)
                self._mounted = False


def sweep_stale(work_root: Path, lock_dir: Path) -> list[Path]:
    """Detach the work mounts under ``work_root`` whose uid no live process leases; return them.

    A uid is leased while its ``<lock_dir>/<uid>.lock`` is flocked (:mod:`sandbox.uids`); holding that lock
    while sweeping keeps the uid from being leased meanwhile. Entries that are not a uid's plain directory
    (a symlink, a file) are left alone.
    """
    removed: list[Path] = []
    if not work_root.is_dir():
        return removed
    with os.scandir(work_root) as entries:
        uids = [e.name for e in entries if e.name.isdigit() and e.is_dir(follow_symlinks=False)]
    for uid in uids:
        lock = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live job's
                continue
            if unmount(work_root / uid):
                removed.append(work_root / uid)
        finally:
            os.close(lock)
    return removed
