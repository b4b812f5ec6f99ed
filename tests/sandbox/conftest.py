"""Fixtures for the sandbox suites: backends, a Python runtime, small-limit job specs.

Limits are small (wall 10 s, 256 MiB, 32 pids; timeout cases set 1 s) so adversarial jobs die fast on two busy cores.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from sandbox import JobSpec, Mount, Sandbox, SandboxError
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import DockerSandbox, connect
from sandbox.limits import MIB, resolve
from sandbox.runtime import Runtime, python_runtime

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)

SMALL_LIMITS = {
    "wall_seconds": 10,
    "cpu_seconds": 10,
    "memory_bytes": 256 * MIB,
    "pids": 32,
    "file_size_bytes": 8 * MIB,
    "open_files": 64,
    "tmpfs_bytes": 8 * MIB,
    "output_bytes": 256 * 1024,
}

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="uid drop, rlimit nproc and cgroups need root")


@pytest.fixture
def py(request: pytest.FixtureRequest) -> Runtime:
    """The project's Python as the test's backend runs it: the venv bound in (bwrap), the image's (docker)."""
    if "backend" in request.fixturenames:
        return cast(Sandbox, request.getfixturevalue("backend")).python_runtime()
    return python_runtime(VENV)


@pytest.fixture(scope="session")
def bwrap() -> BwrapSandbox:
    return BwrapSandbox()


def _docker_missing() -> str:
    """Why no Docker engine answers here ("" when one does), with why scripts/ensure-docker.sh could not start one."""
    try:
        connect().close()
    except SandboxError as exc:
        why = REPO_ROOT / "var" / "docker" / "no-engine.txt"
        started = why.read_text().strip() if why.exists() else "`make sandbox-image` starts one where it can"
        return f"{exc}; {started}"
    return ""


def _backend_params() -> list[object]:
    wanted = os.environ.get("SANDBOX_TEST_BACKENDS", "bwrap,docker").split(",")
    params: list[object] = []
    if "bwrap" in wanted:
        params.append(pytest.param("bwrap", id="bwrap"))
    if "docker" in wanted:
        why = _docker_missing()
        marks = [pytest.mark.skip(reason=f"no Docker engine here ({why})")] if why else []
        params.append(pytest.param("docker", id="docker", marks=marks))
    return params


@pytest.fixture(scope="session", params=_backend_params())
def backend(request: pytest.FixtureRequest, bwrap: BwrapSandbox) -> Sandbox:
    """Every backend that can run here (the shared suite runs once per backend)."""
    if request.param == "bwrap":
        return bwrap
    docker = DockerSandbox()
    client = connect()
    try:  # an engine without the image is a failed set-up, not a reason to skip
        client.images.get(docker.image)
    except Exception as exc:
        pytest.fail(f"the Docker engine has no image {docker.image} ({exc}): run `make sandbox-image`")
    finally:
        client.close()
    return docker


SpecFactory = Callable[..., JobSpec]


@pytest.fixture
def spec(py: Runtime, tmp_path: Path) -> SpecFactory:
    """Build a JobSpec running ``python -c code`` in a fresh work dir with small limits."""
    workdir = tmp_path / "work"
    workdir.mkdir()

    def make(
        code: str | None = None,
        *,
        argv: list[str] | None = None,
        limits: dict[str, float] | None = None,
        env: dict[str, str] | None = None,
        mounts: list[Mount] | None = None,
        workdir_path: Path | None = None,
    ) -> JobSpec:
        if argv is None:
            assert code is not None
            argv = [py.executable, "-c", code]
        return JobSpec(
            argv=argv,
            mounts=list(py.mounts) + list(mounts or []),
            workdir=workdir_path or workdir,
            env={**py.env, **(env or {})},
            limits=resolve({**SMALL_LIMITS, **(limits or {})}),
        )

    return make
