"""bwrap backend internals: spec validation, argv building, the unprivileged mode, start failures, the watchdog,
uid leases and cgroups."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from sandbox import JobSpec, Mount, SandboxError, cgroups, get_backend
from sandbox import bwrap as bwrap_mod
from sandbox.bwrap import BwrapSandbox, default_state_dir, validate_spec
from sandbox.uids import UidAllocator, pids_of_uid, uid_range_from_env

SpecFactory = Callable[..., JobSpec]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (uid drop, cgroups)")


# -- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"argv": []}, "non-empty list of strings"),
        ({"argv": ["python", 3]}, "non-empty list of strings"),
        ({"argv": ["python", "a\0b"]}, "NUL"),
        ({"argv": ["A=B", "x"]}, "argv\\[0\\] must not contain '='"),
        ({"env": {"A=B": "x"}}, "invalid env variable"),
        ({"env": {"": "x"}}, "invalid env variable"),
        ({"env": {"A": "x\0"}}, "invalid env variable"),
        ({"env": {"A": 1}}, "must be strings"),
        ({"workdir": Path("/nonexistent/work")}, "must be an existing directory"),
        ({"workdir": Path("/")}, "must not be /"),
        ({"mounts": [Mount(Path("/usr"), "relative")]}, "normalised absolute path"),
        ({"mounts": [Mount(Path("/usr"), "/")]}, "normalised absolute path"),
        ({"mounts": [Mount(Path("/usr"), "/a/../b")]}, "normalised absolute path"),
        ({"mounts": [Mount(Path("/usr"), "/proc/x")]}, "reserved"),
        ({"mounts": [Mount(Path("/usr"), "/work")]}, "reserved"),
        ({"mounts": [Mount(Path("/nonexistent/src"), "/data")]}, "does not exist"),
    ],
)
def test_it_rejects_a_malformed_spec(spec: SpecFactory, change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_spec(replace(spec("pass"), **change))


def test_it_rejects_a_symlinked_work_dir(spec: SpecFactory, tmp_path: Path) -> None:
    os.symlink(tmp_path / "work", tmp_path / "alias")
    with pytest.raises(ValueError, match="not a symlink"):
        validate_spec(spec("pass", workdir_path=tmp_path / "alias"))


# -- configuration --------------------------------------------------------------------------------------------


def test_get_backend_defaults_to_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_BACKEND", raising=False)
    assert get_backend().name == "bwrap"


def test_get_backend_follows_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_BACKEND", "docker")
    assert get_backend().name == "docker"


def test_get_backend_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown sandbox backend 'firejail'"):
        get_backend("firejail")


def test_a_missing_tool_is_a_sandbox_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap_mod.shutil, "which", lambda name, path=None: None)
    with pytest.raises(SandboxError, match="bwrap not found"):
        BwrapSandbox()


def test_the_state_dir_follows_the_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SANDBOX_STATE_DIR", str(tmp_path / "state"))
    assert default_state_dir() == tmp_path / "state"


def test_nested_mounts_under_a_new_parent_get_readable_parents(
    bwrap: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mounts = [Mount(tmp_path / "a", "/srv/data/a"), Mount(tmp_path / "b", "/srv/data/b")]
    done = bwrap.run(spec("import os; print(sorted(os.listdir('/srv/data')))", mounts=mounts))
    assert done.stdout == b"['a', 'b']\n"


def test_a_mount_point_that_cannot_be_created_is_a_sandbox_error(
    bwrap: BwrapSandbox, spec: SpecFactory, tmp_path: Path
) -> None:
    done = bwrap.run(spec("pass", mounts=[Mount(tmp_path, "/usr/no-such-dir-in-read-only-usr")]))
    assert done.outcome == "sandbox_error"


# -- the unprivileged mode (a developer's laptop) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> BwrapSandbox:
    return BwrapSandbox(privileged=False, use_cgroups=False, state_dir=tmp_path_factory.mktemp("state"))


def test_unprivileged_mode_runs_jobs(unprivileged: BwrapSandbox, spec: SpecFactory) -> None:
    assert unprivileged.run(spec("print('hi')")).stdout == b"hi\n"


def test_unprivileged_mode_blocks_the_network(unprivileged: BwrapSandbox, spec: SpecFactory) -> None:
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 6379), 1)\nexcept OSError:\n    print('no')"
    assert unprivileged.run(spec(code)).stdout == b"no\n"


def test_unprivileged_mode_caps_address_space_at_the_memory_limit(
    unprivileged: BwrapSandbox, spec: SpecFactory
) -> None:
    code = "try:\n    b = bytearray(200 * 1024 * 1024)\nexcept MemoryError:\n    print('capped')"
    assert unprivileged.run(spec(code, limits={"memory_bytes": 128 * 1024 * 1024})).stdout == b"capped\n"


def test_gpu_jobs_get_no_address_space_rlimit(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    job = replace(spec("pass"), gpu=True)
    assert not any(a.startswith("--as=") for a in bwrap.command(job, 61000, None))


def test_sandboxes_built_side_by_side_in_threads_share_one_etc(tmp_path: Path) -> None:
    # the assemble chat builds the learner's and the reference's sandboxes in two threads of one process: their
    # passwd/group writes once collided on one temporary name (FileNotFoundError in the second thread)
    from concurrent.futures import ThreadPoolExecutor

    state = tmp_path / "state"
    barrier = threading.Barrier(8)

    def build(_: int) -> Path:
        barrier.wait()
        return BwrapSandbox(privileged=False, use_cgroups=False, state_dir=state)._etc_dir

    for _ in range(5):
        with ThreadPoolExecutor(max_workers=8) as pool:
            dirs = set(pool.map(build, range(8)))
        assert len(dirs) == 1
        etc = dirs.pop()
        assert sorted(p.name for p in etc.iterdir()) == ["group", "passwd"]  # no temporary file left behind
        assert (etc / "passwd").read_text().startswith("root:x:0:0:")


# -- start failures and the watchdog --------------------------------------------------------------------------


@root_only
def test_a_failed_exec_raises_and_frees_the_uid(spec: SpecFactory, tmp_path: Path) -> None:
    sandbox = BwrapSandbox(uids=range(63900, 63901), state_dir=tmp_path / "state")
    sandbox.sh = sandbox.prlimit = "/nonexistent/tool"
    with pytest.raises(SandboxError, match="could not start the sandbox"):
        sandbox.start(spec("pass"))
    assert sandbox.allocator is not None and sandbox.allocator.lease().uid == 63900


def test_a_bad_spec_raises_before_anything_starts(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    with pytest.raises(ValueError):
        bwrap.start(replace(spec("pass"), argv=[]))


@root_only
def test_a_non_os_error_during_start_releases_the_uid(
    spec: SpecFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = BwrapSandbox(uids=range(63901, 63902), state_dir=tmp_path / "state")

    def broken(*args: object, **kwargs: object) -> list[str]:
        raise KeyError("boom")

    monkeypatch.setattr(sandbox, "command", broken)
    with pytest.raises(KeyError):
        sandbox.start(spec("pass"))
    assert sandbox.allocator is not None and sandbox.allocator.lease().uid == 63901


def test_a_backend_that_cannot_stop_a_job_reports_sandbox_error(spec: SpecFactory, tmp_path: Path) -> None:
    sandbox = BwrapSandbox(kill_grace_seconds=0.2, state_dir=tmp_path / "state", uids=range(63910, 63920))
    job = sandbox.start(spec("import time; time.sleep(30)"))
    real_kill_tree = job._kill_tree
    job._kill_tree = lambda: None  # type: ignore[method-assign]  # simulate a kill that does not work
    job.kill()
    result = job.wait(timeout=10)
    real_kill_tree()
    assert (result.outcome, "did not stop" in result.message) == ("sandbox_error", True)


def test_a_crash_while_collecting_the_result_still_yields_a_result(
    spec: SpecFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = BwrapSandbox(state_dir=tmp_path / "state", uids=range(63920, 63921))

    def broken(self: object, *args: object) -> None:
        raise RuntimeError("collector bug")

    monkeypatch.setattr(bwrap_mod.BwrapJob, "_finish", broken)
    result = sandbox.start(spec("pass")).wait(timeout=10)
    assert (result.outcome, "collector bug" in result.message) == ("sandbox_error", True)
    assert not os.path.ismount(tmp_path / "state" / "work" / "63920")  # its work mount is gone too


# -- the work dir ---------------------------------------------------------------------------------------------


@root_only
def test_a_work_dir_too_big_for_its_caps_is_refused_before_the_job_starts(
    spec: SpecFactory, tmp_path: Path
) -> None:
    sandbox = BwrapSandbox(uids=range(63940, 63941), state_dir=tmp_path / "state")
    (tmp_path / "work" / "data.bin").write_bytes(b"x" * (2 * 1024 * 1024))
    with pytest.raises(ValueError, match="does not fit its caps"):
        sandbox.start(spec("pass", limits={"work_bytes": 1024 * 1024}))
    assert sandbox.allocator is not None and sandbox.allocator.lease().uid == 63940


@root_only
def test_without_the_work_cap_the_host_dir_itself_is_bound(spec: SpecFactory, tmp_path: Path) -> None:
    sandbox = BwrapSandbox(uids=range(63941, 63942), state_dir=tmp_path / "state", cap_work_dir=False)
    (tmp_path / "work" / "given.txt").write_text("from the host")
    code = "import os; open('given.txt', 'a').write('!'); print(os.statvfs('.').f_files)"
    done = sandbox.run(spec(code, limits={"work_inodes": 50}))
    given = tmp_path / "work" / "given.txt"
    assert (int(done.stdout), given.read_text(), given.stat().st_uid) == (
        os.statvfs(tmp_path).f_files,
        "from the host!",
        63941,
    )


@root_only
def test_killing_a_reaped_job_signals_neither_its_pid_nor_its_uid(
    spec: SpecFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once reaped, the pid may be reused and the released uid may run another job: a late kill touches neither.
    sandbox = BwrapSandbox(state_dir=tmp_path / "state", uids=range(63930, 63931))
    job = sandbox.start(spec("pass"))
    assert job.wait(timeout=10).outcome == "exited"
    signalled: list[object] = []
    monkeypatch.setattr(bwrap_mod, "kill_uid", signalled.append)
    monkeypatch.setattr(bwrap_mod.os, "killpg", lambda *args: signalled.append(args))
    job._kill_tree()
    assert signalled == []
    assert sandbox.allocator is not None and sandbox.allocator.lease().uid == 63930


def test_kill_after_the_end_keeps_the_result(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    job = bwrap.start(spec("pass"))
    first = job.wait()
    job.kill()
    assert job.wait() is first and first.outcome == "exited"


def test_a_second_kill_keeps_the_first_reason(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    job = bwrap.start(spec("import time; time.sleep(30)"))
    job.kill("output_limit")
    job.kill("killed")
    assert job.wait().outcome == "output_limit"


# -- uid leases -----------------------------------------------------------------------------------------------


def test_uid_leases_are_exclusive_until_released(tmp_path: Path) -> None:
    allocator = UidAllocator(tmp_path, range(64000, 64002))
    first, second = allocator.lease(), allocator.lease()
    with pytest.raises(SandboxError, match="no free sandbox uid"):
        allocator.lease()
    first.release()
    first.release()  # idempotent
    assert (second.uid, allocator.lease().uid) == (64001, 64000)


@root_only
def test_leasing_a_uid_kills_its_leftover_processes(tmp_path: Path) -> None:
    leftover = subprocess.Popen(
        ["setpriv", "--reuid=64010", "--regid=64010", "--clear-groups", "sleep", "30"]
    )
    time.sleep(0.2)
    UidAllocator(tmp_path, range(64010, 64011)).lease()
    assert leftover.wait(timeout=5) == -9 and pids_of_uid(64010) == []


def test_the_uid_range_comes_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_UID_BASE", "70000")
    monkeypatch.setenv("SANDBOX_UID_COUNT", "8")
    assert uid_range_from_env() == range(70000, 70008)


@pytest.mark.parametrize(
    ("base", "count", "message"),
    [
        ("abc", "8", "SANDBOX_UID_BASE: expected an integer"),
        ("70000", "0", "SANDBOX_UID_COUNT: expected a value > 0"),
        ("500", "8", "below 1000"),
    ],
)
def test_a_bad_uid_range_is_rejected(
    monkeypatch: pytest.MonkeyPatch, base: str, count: str, message: str
) -> None:
    monkeypatch.setenv("SANDBOX_UID_BASE", base)
    monkeypatch.setenv("SANDBOX_UID_COUNT", count)
    with pytest.raises(ValueError, match=message):
        uid_range_from_env()


# -- cgroups --------------------------------------------------------------------------------------------------


def test_an_unknown_controller_has_no_cgroup() -> None:
    assert cgroups.own_cgroup("no-such-controller") is None


def test_a_cgroup_path_that_is_not_mounted_is_ignored(tmp_path: Path) -> None:
    fake = tmp_path / "cgroup"
    fake.write_text("4:memory:/definitely/not/there\n")
    assert cgroups.own_cgroup("memory", fake) is None


def test_cgroups_are_unavailable_to_non_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroups.os, "geteuid", lambda: 1000)
    assert cgroups.available() is False


def test_cgroups_are_unavailable_without_the_hierarchy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroups, "own_cgroup", lambda controller: None)
    assert cgroups.available() is False


def test_job_cgroups_need_the_hierarchy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroups, "own_cgroup", lambda controller: None)
    with pytest.raises(OSError, match="not available"):
        cgroups.JobCgroups("x", 1 << 20, 8)


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_job_cgroups_are_removed_when_a_limit_cannot_be_set() -> None:
    with pytest.raises(OSError):
        cgroups.JobCgroups(f"nanochat-test-{os.getpid()}", -5, 8)
    assert not (cgroups.own_cgroup("memory") / f"nanochat-test-{os.getpid()}").exists()  # type: ignore[operator]


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_a_removed_cgroup_reports_no_oom() -> None:
    group = cgroups.JobCgroups(f"nanochat-test-oom-{os.getpid()}", 1 << 26, 8)
    group.remove()
    assert (group.oom_killed(), group.pids_in()) == (False, set())


def test_without_root_the_state_dir_is_in_the_temp_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_STATE_DIR", raising=False)
    monkeypatch.setattr(bwrap_mod.os, "geteuid", lambda: 1000)
    assert default_state_dir().name == f"nanochat-sandbox-{os.getuid()}"


def test_gpu_jobs_get_the_nvidia_device_nodes(bwrap: BwrapSandbox, spec: SpecFactory, tmp_path: Path) -> None:
    for name in ("nvidia0", "nvidiactl"):
        (tmp_path / name).touch()
    sandbox = BwrapSandbox(state_dir=tmp_path / "state")
    sandbox.gpu_devices = str(tmp_path / "nvidia*")
    argv = sandbox.command(replace(spec("pass"), gpu=True), 61000, None)
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--dev-bind"]
    assert binds == [str(tmp_path / "nvidia0"), str(tmp_path / "nvidiactl")]


def test_cpu_jobs_get_no_device_nodes(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    assert "--dev-bind" not in bwrap.command(spec("pass"), 61000, None)


def test_reading_the_status_pipe_never_blocks_on_a_live_writer(
    bwrap: BwrapSandbox, spec: SpecFactory
) -> None:
    job = bwrap.start(spec("pass"))
    job.wait()
    read_end, write_end = os.pipe()
    job._status_fd = read_end
    try:
        assert job._read_status() == ""
    finally:
        os.close(write_end)


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_empty_cgroups_of_a_dead_worker_are_swept_at_start() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    groups = [
        base / f"{bwrap_mod.CGROUP_PREFIX}{dead.pid}-0"
        for base in map(cgroups.own_cgroup, cgroups.CONTROLLERS)
    ]
    for group in groups:
        group.mkdir()  # type: ignore[union-attr]
    BwrapSandbox()
    assert [g.exists() for g in groups] == [False, False, False]  # type: ignore[union-attr]


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_a_worker_exiting_mid_job_kills_the_job_and_removes_its_cgroups(tmp_path: Path) -> None:
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom sandbox import JobSpec, get_backend, resolve_limits\n"
        "sb = get_backend('bwrap')\nrt = sb.python_runtime()\n"
        f"job = sb.start(JobSpec([rt.executable, '-c', 'import time; time.sleep(60)'], rt.mounts, Path({str(tmp_path)!r}),"
        " rt.env, resolve_limits()))\n"
        "print(job.uid, job._cgroups.memory, job._cgroups.pids, job._cgroups.cpuacct, job._work.path, flush=True)\n"
        "time.sleep(0.5)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    uid, *groups, work = out.stdout.split()
    assert (pids_of_uid(int(uid)), [Path(g).exists() for g in groups], os.path.ismount(work)) == (
        [],
        [False] * 3,
        False,
    ), out.stderr


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_the_exit_hook_kills_running_jobs_and_removes_their_cgroups(
    bwrap: BwrapSandbox, spec: SpecFactory
) -> None:
    job = bwrap.start(spec("import time; time.sleep(60)"))
    groups = list(job._cgroups.groups)  # type: ignore[union-attr]
    bwrap_mod._stop_live_jobs()
    job.wait(timeout=10)
    assert (pids_of_uid(job.uid), [g.exists() for g in groups]) == ([], [False, False, False])  # type: ignore[arg-type]


def test_sweeping_without_cgroup_hierarchies_removes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroups, "own_cgroup", lambda controller: None)
    assert cgroups.sweep_stale(bwrap_mod.CGROUP_PREFIX) == []


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_sweeping_keeps_the_cgroups_of_a_live_creator_and_removes_a_dead_ones() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    prefix = "nanochat-sweeptest-"
    live_groups = [
        cast(Path, cgroups.own_cgroup(c)) / f"{prefix}{os.getpid()}-1" for c in cgroups.CONTROLLERS
    ]
    dead_groups = [cast(Path, cgroups.own_cgroup(c)) / f"{prefix}{dead.pid}-1" for c in cgroups.CONTROLLERS]
    for group in live_groups + dead_groups:
        group.mkdir()
    try:
        removed = cgroups.sweep_stale(prefix)
        assert (sorted(removed), [g.exists() for g in live_groups]) == (
            sorted(dead_groups),
            [True, True, True],
        )
    finally:
        for group in live_groups + dead_groups:
            if group.exists():
                group.rmdir()


# -- cleanup: empty cgroups prove that nothing survived ----------------------------------------------------


@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_every_process_of_the_job_is_in_its_cgroups(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    job = bwrap.start(spec("import os, sys; os.fork() or print('up', flush=True); sys.stdin.read()"))
    try:
        assert job.stdout.readline() == b"up\n"
        in_groups = job._cgroups.pids_in()  # type: ignore[union-attr]
        of_uid = set(pids_of_uid(job.uid))  # type: ignore[arg-type]
        assert len(of_uid) >= 2 and of_uid <= in_groups and job.pid in in_groups
    finally:
        job.kill()
        job.wait()


@root_only
@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_a_job_whose_cgroups_cannot_be_removed_has_its_uid_hunted(
    bwrap: BwrapSandbox, spec: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    hunted: list[int] = []
    remove = cgroups.JobCgroups.remove
    monkeypatch.setattr(cgroups.JobCgroups, "remove", lambda self, timeout=2.0: not remove(self, timeout))
    monkeypatch.setattr(bwrap_mod, "kill_uid", hunted.append)
    job = bwrap.start(spec("pass"))
    assert (job.wait().outcome, hunted) == ("exited", [job.uid])


@root_only
@pytest.mark.skipif(not cgroups.available(), reason="needs root and cgroup v1")
def test_a_job_whose_cgroups_are_removed_needs_no_uid_hunt(
    bwrap: BwrapSandbox, spec: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    hunted: list[int] = []
    monkeypatch.setattr(bwrap_mod, "kill_uid", hunted.append)
    job = bwrap.start(spec("pass"))
    assert (job.wait().outcome, hunted) == ("exited", [])
