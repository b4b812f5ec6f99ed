"""sandbox.workfs: the capped work mount (as root), seeding it, copying a tree back, sweeping stale mounts."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.bwrap import BwrapSandbox
from sandbox.limits import MIB, resolve
from sandbox.uids import UidAllocator
from sandbox.workfs import WorkMount, _copy_file, copy_tree, mount_tmpfs, opened_dir, sweep_stale, unmount

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
UID = 63960


def mounted(path: Path) -> int:
    """How many mounts sit on ``path`` (from /proc/self/mountinfo)."""
    return sum(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed"
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "mod.py").write_text("x = 1\n")
    return path


@pytest.fixture
def work(tmp_path: Path, seed: Path) -> Iterator[WorkMount]:
    mount = WorkMount.create(tmp_path / "mnt", resolve({"work_bytes": 4 * MIB, "work_inodes": 50}), UID, seed)
    yield mount
    mount.close()


# -- mounting ---------------------------------------------------------------------------------------------------


@root_only
def test_the_mount_has_the_caps_and_owner_of_the_job(work: WorkMount) -> None:
    st, fs = os.stat(work.path), os.statvfs(work.path)
    assert (st.st_uid, stat.S_IMODE(st.st_mode), fs.f_blocks * fs.f_frsize, fs.f_files) == (
        UID,
        0o700,
        4 * MIB,
        50,
    )


@root_only
def test_the_seed_is_copied_in_and_owned_by_the_job(work: WorkMount) -> None:
    copied = work.path / "pkg" / "mod.py"
    assert (copied.read_text(), copied.stat().st_uid, (work.path / "pkg").stat().st_uid) == (
        "x = 1\n",
        UID,
        UID,
    )


@root_only
def test_mounting_on_a_missing_path_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="mount"):
        mount_tmpfs(tmp_path / "missing", resolve(), UID)


def test_unmounting_where_nothing_is_mounted_says_so(tmp_path: Path) -> None:
    assert (unmount(tmp_path), unmount(tmp_path / "missing")) == (False, False)


def test_unmounting_below_a_file_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="umount"):
        unmount(tmp_path / "file" / "below")


@root_only
def test_unmounting_never_follows_a_symlink(work: WorkMount, tmp_path: Path) -> None:
    os.symlink(work.path, tmp_path / "link")
    assert (unmount(tmp_path / "link"), mounted(work.path)) == (False, 1)


@root_only
def test_a_seed_too_big_for_the_caps_is_a_value_error_and_leaves_nothing_mounted(
    tmp_path: Path, seed: Path
) -> None:
    (seed / "big").write_bytes(b"x" * (2 * MIB))
    with pytest.raises(ValueError, match="does not fit its caps"):
        WorkMount.create(tmp_path / "mnt", resolve({"work_bytes": MIB}), UID, seed)
    assert mounted(tmp_path / "mnt") == 0


@root_only
def test_a_seed_that_cannot_be_read_is_an_os_error_and_leaves_nothing_mounted(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WorkMount.create(tmp_path / "mnt", resolve(), UID, tmp_path / "missing")
    assert mounted(tmp_path / "mnt") == 0


@root_only
def test_a_mount_a_dead_worker_left_is_replaced_not_stacked(tmp_path: Path, seed: Path) -> None:
    (tmp_path / "mnt").mkdir()
    mount_tmpfs(tmp_path / "mnt", resolve(), UID)
    (tmp_path / "mnt" / "old-job.txt").write_text("left over")
    work = WorkMount.create(tmp_path / "mnt", resolve(), UID, seed)
    try:
        assert (mounted(work.path), sorted(os.listdir(work.path))) == (1, ["pkg"])
    finally:
        work.close()


# -- copying back -----------------------------------------------------------------------------------------------


@root_only
def test_finishing_mirrors_the_work_dir_into_the_host_dir_and_unmounts(
    work: WorkMount, tmp_path: Path, seed: Path
) -> None:
    shutil.rmtree(work.path / "pkg")  # the job deleted a seeded file ...
    (work.path / "out.txt").write_text("made inside")  # ... and wrote one
    work.finish(seed)
    assert (sorted(os.listdir(seed)), mounted(work.path), os.listdir(work.path)) == (["out.txt"], 0, [])


@root_only
def test_a_host_dir_its_owner_removed_gets_nothing_back(work: WorkMount, seed: Path) -> None:
    shutil.rmtree(seed)
    work.finish(seed)
    assert (seed.exists(), mounted(work.path)) == (False, 0)


def test_copying_skips_sockets_and_recreates_fifos_and_symlinks(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "sock"))
        os.mkfifo(src / "fifo")
        os.symlink("/etc/shadow", src / "link")
        with opened_dir(src) as s, opened_dir(dst) as d:
            copy_tree(s, d)
    kinds = {name: stat.S_IFMT(os.lstat(dst / name).st_mode) for name in os.listdir(dst)}
    assert (kinds, os.readlink(dst / "link")) == ({"fifo": stat.S_IFIFO, "link": stat.S_IFLNK}, "/etc/shadow")


def test_copying_stops_writing_file_data_at_the_budget(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    dst.mkdir()
    (src / "sub" / "big").write_bytes(b"x" * 100)
    (src / "small").write_bytes(b"x" * 10)
    with opened_dir(src) as s, opened_dir(dst) as d:
        copy_tree(s, d, max_bytes=50)
    assert (os.listdir(dst / "sub"), (dst / "small").read_bytes()) == ([], b"x" * 10)


def test_a_file_that_is_no_longer_regular_when_opened_is_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "was-a-file")  # listed as a regular file, swapped for a FIFO before the open
    (tmp_path / "dst").mkdir()
    with opened_dir(tmp_path) as s, opened_dir(tmp_path / "dst") as d:
        _copy_file("was-a-file", s, d, 10, 0o644)
    assert os.listdir(tmp_path / "dst") == []


def test_a_file_that_shrank_since_it_was_listed_is_copied_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    (tmp_path / "dst").mkdir()
    with opened_dir(tmp_path) as s, opened_dir(tmp_path / "dst") as d:
        _copy_file("f", s, d, 1000, 0o644)
    assert (tmp_path / "dst" / "f").read_bytes() == b"abc"


# -- sweeping mounts of dead workers ------------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Path:
    (tmp_path / "state" / "work").mkdir(parents=True)
    (tmp_path / "state" / "uids").mkdir()
    return tmp_path / "state"


@root_only
def test_sweeping_detaches_the_mounts_whose_uid_nobody_leases(state: Path) -> None:
    left = state / "work" / "63961"
    left.mkdir()
    mount_tmpfs(left, resolve(), 63961)
    assert (sweep_stale(state / "work", state / "uids"), mounted(left)) == ([left], 0)


@root_only
def test_sweeping_keeps_the_mount_of_a_leased_uid(state: Path) -> None:
    lease = UidAllocator(state, range(63962, 63963)).lease()
    live = state / "work" / "63962"
    live.mkdir()
    mount_tmpfs(live, resolve(), 63962)
    try:
        assert (sweep_stale(state / "work", state / "uids"), mounted(live)) == ([], 1)
    finally:
        unmount(live)
        lease.release()


def test_sweeping_leaves_other_entries_alone(state: Path, tmp_path: Path) -> None:
    (state / "work" / "notes").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", state / "work" / "63963")
    (state / "work" / "63964").write_text("")
    assert (sweep_stale(state / "work", state / "uids"), sorted(os.listdir(state / "work"))) == (
        [],
        ["63963", "63964", "notes"],
    )


def test_sweeping_a_missing_root_finds_nothing(tmp_path: Path) -> None:
    assert sweep_stale(tmp_path / "missing", tmp_path) == []


@root_only
def test_a_bwrap_sandbox_sweeps_the_work_mounts_of_dead_workers_when_it_starts(state: Path) -> None:
    left = state / "work" / "63965"
    left.mkdir()
    mount_tmpfs(left, resolve(), 63965)
    BwrapSandbox(state_dir=state, uids=range(63965, 63966))
    assert mounted(left) == 0
