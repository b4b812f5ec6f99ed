"""Mount sets for what jobs run: the project's Python venv, and an offline Rust toolchain.

Design choices:
- The venv is mounted read-only at a fixed place (:data:`VENV_TARGET`, ``/opt/venv``) because the host venv may
  live under ``/work`` (the job's own work dir) here; run ``/opt/venv/bin/python -m pytest``, not console
  scripts (their shebangs name the host path).
- A venv's ``bin/python`` is a symlink into the base interpreter (pyenv under /root here), and the venv's
  ``pyvenv.cfg`` names that ``home``: the base interpreter's prefix is bound read-only at its HOST path, or Python
  silently falls back to Debian's stdlib without the venv's packages. Nothing else of /root is visible.
- Rust: the Debian crate registry lives under /usr (already bound); the toolchain (rustup's toolchain dir, found
  from ``rustc --print sysroot``) is bound read-only at its host path and CARGO_HOME points into the work dir,
  whose ``config.toml`` replaces crates.io with the Debian registry and forces offline mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.base import WORK_TARGET, Mount

VENV_TARGET = "/opt/venv"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
DEBIAN_CARGO_REGISTRY = Path("/usr/share/cargo/registry")


@dataclass(frozen=True)
class Runtime:
    """Mounts plus the env entries a job needs to use a toolchain (merge them into ``JobSpec``)."""

    mounts: list[Mount]
    env: dict[str, str]
    executable: str = ""


def base_interpreter_prefix(venv: Path) -> Path:
    """The prefix of the interpreter the venv's python resolves to (e.g. /root/.pyenv/versions/3.11.7)."""
    real = Path(os.path.realpath(venv / "bin" / "python"))
    return real.parent.parent


def python_runtime(venv: Path | None = None) -> Runtime:
    """Mounts + env to run the project's venv python inside the sandbox as ``/opt/venv/bin/python``."""
    venv = Path(venv or sys.prefix).resolve()
    if not (venv / "pyvenv.cfg").exists():
        raise ValueError(f"{venv} is not a virtual environment (no pyvenv.cfg)")
    prefix = base_interpreter_prefix(venv)
    mounts = [Mount(venv, VENV_TARGET)]
    if not str(prefix).startswith("/usr/"):
        mounts.append(Mount(prefix, str(prefix)))
    return Runtime(mounts=mounts, env=python_env(), executable=f"{VENV_TARGET}/bin/python")


def python_env() -> dict[str, str]:
    """The env a Python job starts from (merge the job's own variables into a copy)."""
    return {
        "PATH": f"{VENV_TARGET}/bin:{DEFAULT_PATH}",
        "HOME": WORK_TARGET,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
    }


def rust_sysroot(rustc: str = "rustc") -> Path:
    """The active Rust toolchain's sysroot (``rustc --print sysroot``)."""
    out = subprocess.run(
        [rustc, "--print", "sysroot"], capture_output=True, text=True, check=True, timeout=30
    )
    return Path(out.stdout.strip())


CARGO_CONFIG = """\
[source.crates-io]
replace-with = "debian-registry"

[source.debian-registry]
directory = "{registry}"

[net]
offline = true
"""


def rust_runtime(workdir: Path, sysroot: Path | None = None) -> Runtime:
    """Mounts + env to build a crate offline with cargo inside the sandbox.

    Writes ``<workdir>/.cargo/config.toml`` (CARGO_HOME=/work/.cargo inside): crates.io is replaced with the
    Debian registry, the network is off.
    """
    sysroot = Path(sysroot or rust_sysroot()).resolve()
    if not (sysroot / "bin" / "cargo").exists():
        raise ValueError(f"{sysroot} has no bin/cargo: not a Rust toolchain")
    cargo_home = workdir / ".cargo"
    cargo_home.mkdir(exist_ok=True)
    (cargo_home / "config.toml").write_text(CARGO_CONFIG.format(registry=DEBIAN_CARGO_REGISTRY))
    mounts = [] if str(sysroot).startswith("/usr/") else [Mount(sysroot, str(sysroot))]
    env = {
        "PATH": f"{sysroot}/bin:{DEFAULT_PATH}",
        "HOME": WORK_TARGET,
        "CARGO_HOME": f"{WORK_TARGET}/.cargo",
        "CARGO_NET_OFFLINE": "true",
        "CARGO_TARGET_DIR": f"{WORK_TARGET}/target",
        "RUSTUP_TOOLCHAIN": sysroot.name,
    }
    return Runtime(mounts=mounts, env=env, executable=f"{sysroot}/bin/cargo")
