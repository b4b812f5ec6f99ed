"""Run untrusted jobs in isolation: one interface (:mod:`sandbox.base`), bwrap and docker backends.

A plain library: never imports Django or torch. See docs/threat-model.md.
"""

from sandbox.base import (
    CompletedJob,
    JobResult,
    JobSpec,
    Limits,
    Mount,
    RunningJob,
    Sandbox,
    SandboxError,
    get_backend,
)
from sandbox.limits import resolve as resolve_limits

__all__ = [
    "CompletedJob",
    "JobResult",
    "JobSpec",
    "Limits",
    "Mount",
    "RunningJob",
    "Sandbox",
    "SandboxError",
    "get_backend",
    "resolve_limits",
]
