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
