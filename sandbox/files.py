"""Reading what a job left in its work dir without trusting it.

Design choices:
- A job can plant symlinks (``/work/result.json -> /etc/shadow``), FIFOs (an ``open`` that blocks forever), huge
  files, deep trees and names that are not UTF-8. Trusted code reads job outputs ONLY through this module:
  directories are walked with ``os.fwalk`` relative to directory fds (a swapped-in symlinked dir is not
  followed), files are opened with ``O_NOFOLLOW | O_NONBLOCK`` relative to their dir fd and must be regular
  files by ``fstat`` of the opened fd; symlinks and special files are reported as skipped, never read.
- Sizes are capped per file and in total; names are decoded with ``surrogateescape`` so any byte name survives
  and re-encodes to the same bytes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


@dataclass
class Outputs:
    """Files read from a work dir: relative path -> bytes, plus what was skipped and why."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _read_fd(fd: int, limit: int) -> tuple[bytes, bool]:
    chunks = []
    remaining = limit + 1
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    return data[:limit], len(data) > limit


def _open_regular(name: str, dir_fd: int) -> int:
    """Open ``name`` under ``dir_fd`` for reading; refuse symlinks and anything but regular files."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(name)
    return fd


def read_output(workdir: Path, relpath: str, *, max_bytes: int = 16 * MIB) -> bytes:
    """One file under ``workdir``, never following a symlink at any path component.

    Raises ``OSError`` (ELOOP for a symlink, ``IsADirectoryError`` for a non-regular file), ``ValueError`` for
    an absolute path, ``..`` or a file above ``max_bytes``.
    """
    parts = Path(relpath).parts
    if not parts or Path(relpath).is_absolute() or ".." in parts:
        raise ValueError(f"{relpath!r} must be a relative path inside the work dir")
    dir_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            next_fd = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
            )
            os.close(dir_fd)
            dir_fd = next_fd
        fd = _open_regular(parts[-1], dir_fd)
    finally:
        os.close(dir_fd)
    try:
        data, over = _read_fd(fd, max_bytes)
    finally:
        os.close(fd)
    if over:
        raise ValueError(f"{relpath!r} is larger than {max_bytes} bytes")
    return data


def read_outputs(
    workdir: Path,
    *,
    max_file_bytes: int = 1 * MIB,
    max_total_bytes: int = 16 * MIB,
    max_files: int = 1000,
) -> Outputs:
    """Every regular file under ``workdir`` (symlinks and special files skipped, sizes capped)."""
    out = Outputs()
    total = 0
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(workdir, follow_symlinks=False):
        rel_dir = os.path.relpath(dirpath, workdir)
        for name in sorted(dirnames):
            if stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
                out.skipped[os.path.normpath(os.path.join(rel_dir, name))] = "symlink"
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            mode = os.lstat(name, dir_fd=dir_fd).st_mode
            if stat.S_ISLNK(mode):
                out.skipped[rel] = "symlink"
                continue
            if not stat.S_ISREG(mode):
                out.skipped[rel] = "not a regular file"
                continue
            if len(out.files) >= max_files:
                out.skipped[rel] = "too many files"
                continue
            try:
                fd = _open_regular(name, dir_fd)
            except OSError as exc:  # swapped for a symlink or special file after lstat
                out.skipped[rel] = f"unreadable: {exc.__class__.__name__}"
                continue
            try:
                data, over = _read_fd(fd, min(max_file_bytes, max_total_bytes - total))
            finally:
                os.close(fd)
            if over:
                out.skipped[rel] = "too large"
                continue
            out.files[rel] = data
            total += len(data)
    return out
