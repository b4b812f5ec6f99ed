"""Fixtures of the grading-engine tests.

The fixture modules under ``fixtures/`` hold their own ``tests/`` folders: those are content tests that only
make sense inside the judge, so this suite never collects them directly (nor the golden submissions).

Sandboxed tests share one warm :class:`LearnerPool` per session (pure-Python runtime, judges for the fixture
root), so a golden run costs a few hundred milliseconds instead of a cold start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import ADD_LIMITS, FIXTURES

from grading.engine.pool import LearnerPool

collect_ignore_glob = ["fixtures/*", "golden/*"]


@pytest.fixture(scope="session")
def add_module() -> Path:
    return FIXTURES / "add"


@pytest.fixture(scope="session")
def torch_module() -> Path:
    return FIXTURES / "tiny_torch"


@pytest.fixture(scope="session")
def pool() -> Iterator[LearnerPool]:
    if (
        os.environ.get("SANDBOX_BACKEND") == "docker"
    ):  # `make test`'s engine-docker area: the goldens on Docker
        from sandbox.base import SandboxError
        from sandbox.docker import connect

        try:
            connect().close()
        except SandboxError as exc:
            pytest.skip(f"SANDBOX_BACKEND=docker but no Docker engine here ({exc})")
    with LearnerPool(size=1, runtimes=("python",), limits=ADD_LIMITS, content_root=FIXTURES) as p:
        p.wait_ready(30)
        yield p
