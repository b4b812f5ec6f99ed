"""The mount set and env that run the project's Python venv inside a job.

Design choices:
- The venv is mounted read-only at a fixed place (:data:`VENV_TARGET`, ``/opt/venv``) because the host venv may
  live under ``/work`` (the job's own work dir) here; run ``/opt/venv/bin/python -m pytest``, not console
  scripts (their shebangs name the host path).
- A venv's ``bin/python`` is a symlink into the base interpreter (pyenv under /root here), and the venv's
  ``pyvenv.cfg`` names that ``home``: the base interpreter's prefix is bound read-only at its HOST path, or Python
  silently falls back to Debian's stdlib without the venv's packages. Nothing else of /root is visible.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.base import WORK_TARGET, Mount

VENV_TARGET = "/opt/venv"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


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
