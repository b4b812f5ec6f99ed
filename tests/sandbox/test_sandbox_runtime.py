"""sandbox.runtime: the venv python and an offline Rust toolchain inside the sandbox."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import JobSpec
from sandbox.bwrap import BwrapSandbox
from sandbox.docker import DockerSandbox
from sandbox.limits import resolve
from sandbox.runtime import VENV_TARGET, base_interpreter_prefix, python_runtime, rust_runtime, rust_sysroot

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


def test_a_folder_without_cargo_is_not_a_toolchain(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Rust toolchain"):
        rust_runtime(tmp_path, sysroot=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("rustc") is None, reason="no Rust toolchain installed")
def test_a_tiny_crate_compiles_offline_with_a_debian_registry_dependency(
    bwrap: BwrapSandbox, tmp_path: Path
) -> None:
    work = tmp_path / "crate"
    (work / "src").mkdir(parents=True)
    (work / "Cargo.toml").write_text(
        '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nlazy_static = "1"\n'
    )
    (work / "src" / "main.rs").write_text(
        "#[macro_use]\nextern crate lazy_static;\nlazy_static! { static ref N: u32 = 6 * 7; }\n"
        'fn main() { println!("answer {}", *N); }\n'
    )
    runtime = rust_runtime(work, rust_sysroot())
    job = JobSpec(
        argv=[runtime.executable, "run", "--quiet", "--offline"],
        mounts=runtime.mounts,
        workdir=work,
        env=runtime.env,
        limits=resolve(
            {
                "wall_seconds": 240,
                "cpu_seconds": 240,
                "memory_bytes": 2 << 30,
                "pids": 128,
                "file_size_bytes": 256 << 20,
                "open_files": 1024,
                "output_bytes": 1 << 20,
            }
        ),
    )
    done = bwrap.run(job)
    assert (done.outcome, done.stdout) == ("exited", b"answer 42\n"), done.stderr.decode()[-2000:]


def test_the_bwrap_backend_runs_the_workers_own_venv(bwrap: BwrapSandbox) -> None:
    assert bwrap.python_runtime() == python_runtime(Path(sys.prefix))


def test_the_docker_backend_runs_the_images_venv_without_mounts() -> None:
    runtime = DockerSandbox().python_runtime()
    assert (runtime.mounts, runtime.executable) == ([], "/opt/venv/bin/python")
