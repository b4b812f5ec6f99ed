"""sandbox.base.Sandbox.run against a backend that misbehaves: it must still return."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import BinaryIO, cast

from sandbox import JobResult, JobSpec, RunningJob, Sandbox
from sandbox.limits import resolve

ENDED = JobResult(
    exit_code=0, signal=None, outcome="exited", wall_seconds=0.1, cpu_seconds=0.0, max_rss_bytes=None
)


class LeakyJob(RunningJob):
    """A job that has ended but whose stdout pipe stays open (a broken backend left a writer alive)."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        out_r, self.out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.in_r, in_w = os.pipe()  # kept open, never read: stdin writes block once the pipe is full
        os.close(err_w)  # stderr: EOF at once
        os.write(self.out_w, b"partial")
        self.stdout = cast(BinaryIO, os.fdopen(out_r, "rb"))
        self.stderr = cast(BinaryIO, os.fdopen(err_r, "rb"))
        self.stdin = cast(BinaryIO, os.fdopen(in_w, "wb"))

    def wait(self, timeout: float | None = None) -> JobResult:
        return ENDED

    def poll(self) -> JobResult | None:
        return ENDED

    def kill(self, outcome: str = "killed") -> None:
        pass


class LeakyBackend(Sandbox):
    name = "leaky"

    def start(self, spec: JobSpec) -> RunningJob:
        self.job = LeakyJob(spec)
        return self.job

    def cleanup(self) -> None:
        os.close(self.job.out_w)
        os.close(self.job.in_r)


def spec(tmp_path: Path) -> JobSpec:
    return JobSpec(argv=["x"], mounts=[], workdir=tmp_path, env={}, limits=resolve(environ={}))


def test_run_returns_when_the_job_ended_but_a_pipe_stays_open(tmp_path: Path) -> None:
    backend = LeakyBackend()
    started = time.monotonic()
    done = backend.run(spec(tmp_path))
    backend.cleanup()
    assert (done.result, done.stdout, time.monotonic() - started < 10) == (ENDED, b"partial", True)


def test_run_gives_up_on_stdin_an_ended_job_never_reads(tmp_path: Path) -> None:
    backend = LeakyBackend()
    done = backend.run(spec(tmp_path), stdin=b"x" * 1_000_000)
    backend.cleanup()
    assert done.result is ENDED and backend.job.stdin.closed
