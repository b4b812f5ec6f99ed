"""sandbox.runtime: the venv python inside the sandbox."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import JobSpec
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import DockerSandbox
from sandbox.runtime import VENV_TARGET, base_interpreter_prefix, python_runtime

SpecFactory = Callable[..., JobSpec]


def test_the_venv_is_mounted_at_opt_venv_and_its_interpreter_at_its_host_path() -> None:
    runtime = python_runtime(Path(sys.prefix))
    prefix = base_interpreter_prefix(Path(sys.prefix))
    assert [(str(m.source), m.target) for m in runtime.mounts] == [
        (str(Path(sys.prefix).resolve()), VENV_TARGET),
        (str(prefix), str(prefix)),
    ]


def test_a_folder_that_is_not_a_venv_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a virtual environment"):
        python_runtime(tmp_path)


def test_the_venv_packages_are_importable_inside(bwrap: BwrapSandbox, spec: SpecFactory) -> None:
    done = bwrap.run(spec("import sys, yaml; print(sys.prefix, yaml.__file__.startswith('/opt/venv/'))"))
    assert done.stdout == b"/opt/venv True\n"


def test_the_bwrap_backend_runs_the_workers_own_venv(bwrap: BwrapSandbox) -> None:
    assert bwrap.python_runtime() == python_runtime(Path(sys.prefix))


def test_the_docker_backend_runs_the_images_venv_without_mounts() -> None:
    runtime = DockerSandbox().python_runtime()
    assert (runtime.mounts, runtime.executable) == ([], "/opt/venv/bin/python")
