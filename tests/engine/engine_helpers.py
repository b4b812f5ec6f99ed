"""Helpers shared by the grading-engine tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grading.engine.runner import grade

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
ADD_LIMITS = {"wall_seconds": 20, "memory_bytes": 536870912}


def run(module_dir: Path, files: dict[str, bytes], **kwargs: Any) -> list[dict[str, Any]]:
    """All events of one grading run."""
    return list(grade(module_dir, files, **kwargs))


def normalise(result: dict[str, Any]) -> dict[str, Any]:
    """A result with run-dependent values (durations, usage, timestamps) replaced by placeholders."""
    out = dict(result)
    out["usage"] = {k: "<usage>" for k in result["usage"]}
    out["timestamps"] = {k: (None if v is None else "<iso>") for k, v in result["timestamps"].items()}
    out["tests"] = [{**t, "duration_seconds": "<seconds>"} for t in result["tests"]]
    return out


class LocalJob:
    """A RunningJob-like wrapper over a plain subprocess: NO isolation, only for trusted scripted peers."""

    def __init__(self, argv: list[str], outcome_on_exit: str = "exited") -> None:
        import os
        import subprocess

        env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self.stdin, self.stdout, self.stderr = self.proc.stdin, self.proc.stdout, self.proc.stderr
        self.reason: str | None = None
        self.outcome_on_exit = outcome_on_exit

    def _result(self) -> Any:
        from types import SimpleNamespace

        rc = self.proc.returncode
        return SimpleNamespace(
            exit_code=rc if rc >= 0 else None,
            signal=-rc if rc < 0 else None,
            outcome=self.reason or self.outcome_on_exit,
            wall_seconds=0.0,
            cpu_seconds=0.01,
            max_rss_bytes=1000,
            message="",
        )

    def poll(self) -> Any:
        return None if self.proc.poll() is None else self._result()

    def wait(self, timeout: float | None = None) -> Any:
        self.proc.wait(timeout)
        return self._result()

    def kill(self, outcome: str = "killed") -> None:
        import os
        import signal

        if self.proc.poll() is None:
            self.reason = self.reason or outcome
            os.killpg(self.proc.pid, signal.SIGKILL)


def scripted(role: str, steps: list[Any], outcome_on_exit: str = "exited", limits: Any = None) -> Any:
    """A Proc whose peer follows ``steps`` (see scripted_peer.py)."""
    import json
    import sys
    import tempfile

    from grading.engine.procs import LEARNER_CAPS, Proc
    from sandbox.limits import resolve

    job = LocalJob([sys.executable, str(HERE / "scripted_peer.py"), json.dumps(steps)], outcome_on_exit)
    return Proc(role, job, Path(tempfile.mkdtemp()), limits or resolve(None), LEARNER_CAPS, "python")
