"""sandbox.cgroups.ParentCgroup: the Docker backend's per-job parent cgroup, read after its container is gone.

The v1 case runs on this host's real hierarchies (root): a process runs in a child cgroup, as a container runs in
the engine's own cgroup under the parent, the child is removed, and the parent still holds the totals. No v2
host is available here: the v2 files are laid out in a temporary directory as the kernel names them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.cgroups import CGROUP_ROOT, DOCKER_PARENT, ParentCgroup, sweep_stale_parents
from sandbox.docker import DockerSandbox

V1 = CGROUP_ROOT / "cpuacct" / "cpuacct.usage"
needs_v1_root = pytest.mark.skipif(
    os.geteuid() != 0 or not V1.exists(), reason="needs root and cgroup v1 (cpuacct, memory)"
)
BURN = (
    "import time\nblock = bytearray(32 * 2**20)\nfor i in range(0, len(block), 4096):\n    block[i] = 1\n"
    "end = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass"
)


@needs_v1_root
def test_v1_the_parent_keeps_the_cpu_time_and_peak_memory_of_a_removed_child() -> None:
    parent = ParentCgroup(f"test-{os.getpid()}")
    leaves = [
        CGROUP_ROOT / c / DOCKER_PARENT / parent.path.rsplit("/", 1)[1] / "leaf"
        for c in ("cpuacct", "memory")
    ]
    try:
        for leaf in leaves:
            leaf.mkdir(parents=True)
        procs = [str(leaf / "cgroup.procs") for leaf in leaves]
        # the child enters the leaves before it execs: all its CPU time and memory are charged there
        attach = "; ".join(f'echo $$ > "{p}"' for p in procs)
        subprocess.run(["sh", "-c", f'{attach}; exec "$@"', "sh", sys.executable, "-c", BURN], check=True)
        for leaf in leaves:
            leaf.rmdir()  # what the engine does when the container stops
        cpu, peak = parent.cpu_seconds(), parent.max_usage_bytes()
        assert cpu >= 0.28 and peak is not None and peak >= 32 * 2**20
    finally:
        for leaf in leaves:
            if leaf.exists():
                leaf.rmdir()
        gone = parent.remove()
    assert (gone, parent.directories()) == (True, [])


def v2_host(tmp_path: Path, files: dict[str, str]) -> ParentCgroup:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    group = tmp_path / DOCKER_PARENT / "7-1"
    group.mkdir(parents=True)
    for name, text in files.items():
        (group / name).write_text(text)
    return ParentCgroup("7-1", root=tmp_path)


def test_v2_reads_usage_usec_and_memory_peak(tmp_path: Path) -> None:
    parent = v2_host(tmp_path, {"cpu.stat": "usage_usec 1500000\nuser_usec 1\n", "memory.peak": "4096\n"})
    assert (parent.cpu_seconds(), parent.max_usage_bytes()) == (1.5, 4096)


def test_v2_without_a_usage_line_reports_no_cpu_time(tmp_path: Path) -> None:
    assert v2_host(tmp_path, {"cpu.stat": "nr_periods 0\n"}).cpu_seconds() == 0.0


def test_v2_removes_its_one_directory(tmp_path: Path) -> None:
    parent = v2_host(tmp_path, {})
    found = parent.directories()
    assert (found, parent.remove(), parent.directories()) == ([tmp_path / DOCKER_PARENT / "7-1"], True, [])


def test_counters_that_cannot_be_read_are_zero_cpu_and_no_peak(tmp_path: Path) -> None:
    (tmp_path / "cpuacct").mkdir()
    parent = ParentCgroup("gone", root=tmp_path)
    assert (parent.cpu_seconds(), parent.max_usage_bytes(), parent.directories()) == (0.0, None, [])


def test_a_parent_that_stays_busy_is_reported_left_behind(tmp_path: Path) -> None:
    parent = v2_host(
        tmp_path, {"leftover": ""}
    )  # a non-empty directory cannot be removed, like a busy cgroup
    assert parent.remove() is False


def test_the_engine_gets_an_absolute_path_under_the_lab_s_parent() -> None:
    assert ParentCgroup("12-3").path == f"/{DOCKER_PARENT}/12-3"


@pytest.mark.parametrize("name", ["", "a/b", ".", ".."])
def test_a_name_that_is_not_one_path_component_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid cgroup name"):
        ParentCgroup(name)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@needs_v1_root
def test_v1_a_new_docker_backend_sweeps_the_parents_of_dead_workers_and_keeps_live_ones() -> None:
    dead, live = f"{dead_pid()}-1", f"{os.getpid()}-999"
    made = [CGROUP_ROOT / c / DOCKER_PARENT / n for c in ("cpuacct", "memory") for n in (dead, live)]
    try:
        for group in made:
            group.mkdir(parents=True)
        DockerSandbox()  # as root it sweeps when it is made
        assert [g.exists() for g in made] == [False, True, False, True]
    finally:
        ParentCgroup(live).remove()
        ParentCgroup(dead).remove()


def test_v2_the_sweep_removes_a_dead_worker_s_empty_parent_only(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    dead, busy = tmp_path / DOCKER_PARENT / f"{dead_pid()}-1", tmp_path / DOCKER_PARENT / f"{dead_pid()}-2"
    other = tmp_path / DOCKER_PARENT / "not-a-job"
    for group in (dead, busy, other):
        group.mkdir(parents=True)
    (busy / "cgroup.procs").write_text("")  # not empty: like a cgroup whose processes are still dying
    assert (sweep_stale_parents(tmp_path), busy.exists(), other.exists()) == ([dead], True, True)
