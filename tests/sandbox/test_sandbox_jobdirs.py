"""Job dirs on the host: held while a worker uses them, swept once their worker is gone, never through a symlink."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import JobSpec, jobdirs
from sandbox.bwrap import BwrapSandbox
from sandbox.limits import resolve
from sandbox.workfs import mount_tmpfs, unmount

SpecFactory = Callable[..., JobSpec]
PREFIXES = ("lab-learner-", "lab-judge-")
REPO_ROOT = Path(__file__).resolve().parents[2]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mount)")


def age(path: Path, seconds: float = 3600) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def stale(root: Path, name: str = "lab-learner-old") -> Path:
    """A job dir with a file in it, last changed an hour ago, that nobody holds (its worker died)."""
    path = root / name
    path.mkdir()
    (path / "workspace.py").write_text("x = 1\n")
    age(path)
    return path


def test_a_job_dir_its_worker_left_is_swept(tmp_path: Path) -> None:
    left = stale(tmp_path)
    assert (jobdirs.sweep_stale(PREFIXES, tmp_path), left.exists()) == ([left], False)


def test_a_job_dir_held_by_a_live_worker_is_kept_until_that_worker_is_gone(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\nfrom sandbox import jobdirs\n"
        "print(jobdirs.create('lab-learner-', Path(sys.argv[1])), flush=True)\nsys.stdin.read()"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert worker.stdout is not None and worker.stdin is not None
    held = Path(worker.stdout.readline().strip())
    age(held)
    while_alive = jobdirs.sweep_stale(PREFIXES, tmp_path)
    worker.stdin.close()
    worker.wait(timeout=10)
    assert (while_alive, jobdirs.sweep_stale(PREFIXES, tmp_path)) == ([], [held])


def test_a_job_dir_in_use_by_a_running_job_is_kept(
    bwrap: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    work = jobdirs.create("lab-learner-", tmp_path)
    (work / "given.txt").write_text("from the host")
    code = "import sys; print(open('given.txt').read(), flush=True); sys.stdin.read(); open('out.txt', 'w').write('ok')"
    job = bwrap.start(spec(code, workdir_path=work))
    try:
        assert job.stdout.readline() == b"from the host\n"
        age(work)
        swept = jobdirs.sweep_stale(PREFIXES, tmp_path)
    finally:
        job.stdin.close()
    result = job.wait(timeout=10)
    assert (swept, result.outcome, (work / "out.txt").read_text()) == ([], "exited", "ok")
    jobdirs.remove(work)


def test_a_dir_made_a_moment_ago_is_kept_even_before_it_is_held(tmp_path: Path) -> None:
    fresh = tmp_path / "lab-judge-fresh"
    fresh.mkdir()  # mkdtemp done, the flock not yet taken
    assert (jobdirs.sweep_stale(PREFIXES, tmp_path), fresh.exists()) == ([], True)


def test_a_planted_symlink_in_a_stale_dir_is_not_followed_out_of_the_temp_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "tmp", tmp_path / "outside"
    root.mkdir()
    (outside / "sub").mkdir(parents=True)
    (outside / "keep.txt").write_text("keep")
    left = root / "lab-learner-old"
    (left / "nested").mkdir(parents=True)
    os.symlink(outside, left / "escape")
    os.symlink(outside / "keep.txt", left / "file")
    os.symlink(outside, left / "nested" / "deeper")
    age(left)
    removed = jobdirs.sweep_stale(PREFIXES, root)
    assert (removed, sorted(os.listdir(outside)), (outside / "keep.txt").read_text()) == (
        [left],
        ["keep.txt", "sub"],
        "keep",
    )


def test_a_symlink_named_like_a_job_dir_is_left_alone(tmp_path: Path) -> None:
    root, outside = tmp_path / "tmp", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    age(outside)
    os.symlink(outside, root / "lab-learner-link")
    age(root / "lab-learner-link")
    removed = jobdirs.sweep_stale(PREFIXES, root)
    assert (removed, (root / "lab-learner-link").is_symlink(), os.listdir(outside)) == (
        [],
        True,
        ["keep.txt"],
    )


@root_only
def test_a_dir_of_another_user_is_left_alone(tmp_path: Path) -> None:
    theirs = stale(tmp_path)
    os.chown(theirs, 65534, 65534)
    assert (jobdirs.sweep_stale(PREFIXES, tmp_path), theirs.exists()) == ([], True)


def test_dirs_with_other_names_are_never_touched(tmp_path: Path) -> None:
    other = stale(tmp_path, "pytest-of-someone")
    assert (jobdirs.sweep_stale(PREFIXES, tmp_path), other.exists()) == ([], True)


@root_only
def test_a_dir_that_cannot_be_removed_is_left_and_the_sweep_goes_on(tmp_path: Path) -> None:
    stuck = stale(tmp_path, "lab-judge-stuck")
    (stuck / "mnt").mkdir()
    mount_tmpfs(stuck / "mnt", resolve(), os.getuid())  # rmdir of a mount point: EBUSY
    age(stuck)
    try:
        other = stale(tmp_path, "lab-learner-other")
        assert (jobdirs.sweep_stale(PREFIXES, tmp_path), stuck.exists()) == ([other], True)
    finally:
        unmount(stuck / "mnt")


def open_under(root: Path) -> list[str]:
    """Paths under ``root`` this process holds an fd on."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the fd of the listing itself, closed meanwhile
            continue
        if target.startswith(str(root)):
            held.append(target)
    return held


def test_removing_a_job_dir_deletes_it_and_lets_go_of_it(tmp_path: Path) -> None:
    path = jobdirs.create("lab-learner-", tmp_path)
    (path / "f").write_text("x")
    held = open_under(tmp_path)
    jobdirs.remove(path)
    assert (held, path.exists(), open_under(tmp_path)) == ([str(path)], False, [])
