"""How a job ended: sandbox.base.job_result (the one mapping of end states to outcomes and messages) and each
backend's translation of its raw end state into it (bwrap's wait status, docker's container State)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from sandbox import JobResult, JobSpec, Limits
from sandbox import bwrap as bwrap_mod
from sandbox import docker as docker_mod
from sandbox.base import job_result

LIMITS = Limits(
    wall_seconds=2.5,
    cpu_seconds=3,
    memory_bytes=1000,
    pids=8,
    file_size_bytes=10,
    open_files=16,
    tmpfs_bytes=10,
    output_bytes=500,
    work_bytes=20,
    work_inodes=4,
)
WALL_TIMEOUT = ("timeout", "wall-clock limit of 2.5 s exceeded")
CPU_TIMEOUT = ("timeout", "CPU time limit of 3 s exceeded")
OOM = ("memory_limit", "memory limit of 1000 bytes exceeded")


def result(**facts: Any) -> JobResult:
    """job_result of a job that ran 1 s (0.5 s CPU, 123 bytes RSS), with ``facts`` on top."""
    raw: dict[str, Any] = {
        "exit_code": None,
        "signal": None,
        "wall_seconds": 1.0,
        "cpu_seconds": 0.5,
        "max_rss_bytes": 123,
    }
    return job_result(LIMITS, **(raw | facts))


def ended(done: JobResult) -> tuple[str, str]:
    return done.outcome, done.message


# -- the shared mapping -------------------------------------------------------------------------------------------


def test_a_job_that_exits_by_itself_reports_its_exit_code() -> None:
    done = result(exit_code=3)
    assert (ended(done), done.exit_code, done.signal) == (("exited", "exited with code 3"), 3, None)


def test_a_job_that_dies_of_a_signal_by_itself_reports_the_signal() -> None:
    done = result(signal=11)
    assert (ended(done), done.exit_code, done.signal) == (("exited", "killed by signal 11"), None, 11)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("timeout", WALL_TIMEOUT),
        ("output_limit", ("output_limit", "output limit of 500 bytes exceeded")),
        ("killed", ("killed", "killed on request")),
        ("sandbox_error", ("sandbox_error", "killed on request")),
    ],
)
def test_a_job_we_killed_reports_why(reason: str, expected: tuple[str, str]) -> None:
    assert ended(result(signal=9, kill_reason=reason)) == expected


def test_an_oom_kill_is_the_memory_limit() -> None:
    assert ended(result(signal=9, oom=True)) == OOM


def test_sigxcpu_is_the_cpu_limit() -> None:
    assert ended(result(signal=signal.SIGXCPU)) == CPU_TIMEOUT


def test_a_backend_that_saw_the_cpu_limit_kill_the_job_reports_it() -> None:
    assert ended(result(signal=9, cpu_killed=True)) == CPU_TIMEOUT


@pytest.mark.parametrize(
    ("facts", "cpu_limit"),
    [
        ({"signal": signal.SIGXCPU}, True),
        ({"signal": 9, "cpu_killed": True}, True),
        ({"signal": 9, "kill_reason": "timeout", "cpu_killed": True}, False),
        ({"signal": 9, "oom": True}, False),
        ({"exit_code": 0}, False),
    ],
)
def test_only_the_cpu_limit_marks_a_timeout_as_spent_cpu_seconds(facts: dict, cpu_limit: bool) -> None:
    assert result(**facts).cpu_limit is cpu_limit


def test_a_backend_failure_is_a_sandbox_error_with_the_backend_s_message() -> None:
    assert ended(result(exit_code=1, backend_error="docker: boom")) == ("sandbox_error", "docker: boom")


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"kill_reason": "timeout", "oom": True, "cpu_killed": True, "backend_error": "x"}, WALL_TIMEOUT),
        ({"kill_reason": "killed", "signal": signal.SIGXCPU}, ("killed", "killed on request")),
        ({"oom": True, "signal": signal.SIGXCPU, "backend_error": "x"}, OOM),
        ({"oom": True, "cpu_killed": True}, OOM),
        ({"signal": signal.SIGXCPU, "backend_error": "x"}, CPU_TIMEOUT),
        ({"signal": 9, "cpu_killed": True, "backend_error": "x"}, CPU_TIMEOUT),
        ({"exit_code": 0, "backend_error": "x"}, ("sandbox_error", "x")),
    ],
)
def test_kill_reason_beats_oom_beats_cpu_limit_beats_backend_error(
    facts: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert ended(result(**facts)) == expected


def test_the_raw_facts_are_kept_whatever_the_outcome() -> None:
    done = job_result(
        LIMITS,
        exit_code=None,
        signal=9,
        wall_seconds=2.6,
        cpu_seconds=0.25,
        max_rss_bytes=None,
        kill_reason="timeout",
    )
    assert (done.exit_code, done.signal, done.wall_seconds, done.cpu_seconds, done.max_rss_bytes) == (
        None,
        9,
        2.6,
        0.25,
        None,
    )


# -- bwrap: the wait status, its cgroups and its status line --------------------------------------------------


def exited(code: int) -> int:
    """A wait status of a process that exited with ``code``."""
    return code << 8


def bwrap(status: int, **facts: Any) -> JobResult:
    raw: dict[str, Any] = {"oom": False, "started_ok": True, "wall": 1.0, "cpu": 0.5, "max_rss": 123}
    return bwrap_mod.classify(status, facts.pop("kill_reason", None), LIMITS, **(raw | facts))


def test_bwrap_reports_the_job_s_exit_code() -> None:
    done = bwrap(exited(3))
    assert (ended(done), done.exit_code, done.max_rss_bytes) == (("exited", "exited with code 3"), 3, 123)


def test_bwrap_reads_exit_status_128_plus_n_as_signal_n() -> None:
    done = bwrap(exited(128 + 11))
    assert (ended(done), done.exit_code, done.signal) == (("exited", "killed by signal 11"), None, 11)


def test_bwrap_keeps_an_exit_status_above_128_that_is_no_signal() -> None:
    done = bwrap(exited(255))
    assert (ended(done), done.exit_code, done.signal) == (("exited", "exited with code 255"), 255, None)


def test_bwrap_reads_a_signalled_monitor_as_the_job_s_signal() -> None:
    assert bwrap(signal.SIGSEGV).signal == signal.SIGSEGV


def test_bwrap_reads_sigxcpu_as_the_cpu_limit() -> None:
    assert ended(bwrap(exited(128 + signal.SIGXCPU))) == CPU_TIMEOUT


def test_bwrap_reads_sigkill_near_the_cpu_limit_as_the_cpu_limit() -> None:
    assert ended(bwrap(exited(128 + 9), cpu=0.9 * 3)) == CPU_TIMEOUT


def test_bwrap_reads_sigkill_below_90_percent_of_the_cpu_limit_as_a_signal() -> None:
    assert ended(bwrap(exited(128 + 9), cpu=2.6)) == ("exited", "killed by signal 9")


def test_bwrap_without_its_status_line_failed_to_start() -> None:
    assert ended(bwrap(exited(1), started_ok=False)) == (
        "sandbox_error",
        "the sandbox failed to start (exit code 1)",
    )


def test_bwrap_without_its_status_line_but_killed_by_a_signal_reports_the_signal() -> None:
    assert ended(bwrap(signal.SIGSEGV, started_ok=False)) == ("exited", "killed by signal 11")


def test_bwrap_reports_our_kill_reason_before_its_cgroup_s_oom() -> None:
    assert ended(bwrap(signal.SIGKILL, kill_reason="timeout", oom=True, cpu=3.0)) == WALL_TIMEOUT


def test_bwrap_reports_its_cgroup_s_oom_before_a_cpu_limit_kill() -> None:
    assert ended(bwrap(signal.SIGKILL, oom=True, cpu=3.0)) == OOM


# -- docker: the container's State --------------------------------------------------------------------------------


def docker(state: dict[str, Any], kill_reason: str | None = None, **counters: Any) -> JobResult:
    spec = JobSpec(argv=["x"], mounts=[], workdir=Path("/nonexistent"), env={}, limits=LIMITS)
    return docker_mod.classify(state, kill_reason, spec, wall=1.0, **counters)


def test_docker_reports_the_engine_s_error_as_the_message() -> None:
    assert ended(docker({"ExitCode": None, "Error": "boom"})) == ("sandbox_error", "docker: boom")


def test_docker_ignores_an_empty_error() -> None:
    assert ended(docker({"ExitCode": 0, "Error": ""})) == ("exited", "exited with code 0")


def test_docker_reads_128_plus_a_signal_as_that_signal_and_exit_255_as_an_exit_code() -> None:
    killed = docker({"ExitCode": 128 + signal.SIGKILL})
    assert (ended(killed), killed.exit_code, killed.signal) == (
        ("exited", f"killed by signal {int(signal.SIGKILL)}"),
        None,
        signal.SIGKILL,
    )
    done = docker({"ExitCode": 255})
    assert (ended(done), done.exit_code, done.signal) == (("exited", "exited with code 255"), 255, None)


def test_docker_reports_an_oom_kill_before_the_engine_s_error() -> None:
    assert ended(docker({"ExitCode": 137, "OOMKilled": True, "Error": "boom"})) == OOM


def test_docker_reports_our_kill_reason_before_an_oom_kill() -> None:
    assert ended(docker({"ExitCode": 137, "OOMKilled": True}, "timeout")) == WALL_TIMEOUT


def test_docker_reads_sigkill_near_the_cpu_limit_as_the_cpu_limit() -> None:
    assert ended(docker({"ExitCode": 128 + 9}, cpu=0.9 * 3)) == CPU_TIMEOUT


def test_docker_reads_sigkill_below_90_percent_of_the_cpu_limit_as_a_signal() -> None:
    assert ended(docker({"ExitCode": 128 + 9}, cpu=2.6)) == ("exited", "killed by signal 9")


def test_docker_reads_sigxcpu_as_the_cpu_limit() -> None:
    assert ended(docker({"ExitCode": 128 + signal.SIGXCPU})) == CPU_TIMEOUT


def test_docker_reports_an_oom_kill_before_a_cpu_limit_kill() -> None:
    assert ended(docker({"ExitCode": 137, "OOMKilled": True}, cpu=3.0)) == OOM


def test_docker_keeps_its_parent_cgroup_s_counters() -> None:
    done = docker({"ExitCode": 0}, cpu=1.25, max_rss=4096)
    assert (done.cpu_seconds, done.max_rss_bytes) == (1.25, 4096)
