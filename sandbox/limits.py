"""Sandbox limits: a default plus an operator cap for every field, the unit in every name.

Design choices:
- The operator sets defaults with ``SANDBOX_<FIELD>`` (e.g. ``SANDBOX_WALL_SECONDS=30``) and caps with
  ``SANDBOX_<FIELD>_MAX`` (e.g. ``SANDBOX_MEMORY_BYTES_MAX=8589934592``). Env is read at each :func:`resolve`
  call, never at import time.
- A module (module.yaml ``limits:``) may ask for more or less than the default; a request above the cap is
  clamped to the cap (the operator has the last word), never an error.
- Bad values fail loudly with the variable's name: not a number, zero, negative, NaN/inf, a default above its cap,
  an unknown limit name. ``gpu`` is accepted in requests (module.yaml puts it there) and ignored here: it is a
  JobSpec field, not a limit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from sandbox.base import Limits

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: Defaults: small enough for a quick unit-test style job, large enough for a tiny torch model.
DEFAULTS: dict[str, float | int] = {
    "wall_seconds": 30.0,
    "cpu_seconds": 60,
    "memory_bytes": 2 * GIB,
    "pids": 128,
    "file_size_bytes": 64 * MIB,
    "open_files": 256,
    "tmpfs_bytes": 64 * MIB,
    "output_bytes": 1 * MIB,
    "work_bytes": 256 * MIB,
    "work_inodes": 16384,
}

#: Operator caps: no module request goes above these.
CAPS: dict[str, float | int] = {
    "wall_seconds": 600.0,
    "cpu_seconds": 1200,
    "memory_bytes": 16 * GIB,
    "pids": 512,
    "file_size_bytes": 1 * GIB,
    "open_files": 4096,
    "tmpfs_bytes": 1 * GIB,
    "output_bytes": 16 * MIB,
    "work_bytes": 4 * GIB,
    "work_inodes": 1048576,
}

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Limits))
IGNORED_REQUEST_KEYS = frozenset({"gpu"})


def _env_name(field_name: str, cap: bool) -> str:
    return f"SANDBOX_{field_name.upper()}" + ("_MAX" if cap else "")


def _parse(name: str, raw: Any, field_name: str) -> float | int:
    """Parse one positive limit value (int fields stay int; ``wall_seconds`` is a float)."""
    if isinstance(raw, bool):
        raise ValueError(f"{name}: expected a positive number, got a boolean {raw!r}")
    try:
        if field_name == "wall_seconds":
            value: float | int = float(raw)
        elif isinstance(raw, float):
            if not raw.is_integer():
                raise ValueError
            value = int(raw)
        else:
            value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: expected a positive {'number' if field_name == 'wall_seconds' else 'integer'}, "
            f"got {raw!r}"
        ) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {raw!r}")
    if value <= 0:
        raise ValueError(f"{name}: expected a value > 0, got {raw!r}")
    return value


def _from_env(field_name: str, cap: bool, environ: Mapping[str, str]) -> float | int:
    name = _env_name(field_name, cap)
    table = CAPS if cap else DEFAULTS
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return table[field_name]
    return _parse(name, raw, field_name)


def caps(environ: Mapping[str, str] | None = None) -> dict[str, float | int]:
    """The operator caps in force (``SANDBOX_*_MAX`` env vars over :data:`CAPS`)."""
    env = os.environ if environ is None else environ
    return {name: _from_env(name, True, env) for name in FIELD_NAMES}


def defaults(environ: Mapping[str, str] | None = None) -> dict[str, float | int]:
    """The defaults in force (``SANDBOX_*`` env vars over :data:`DEFAULTS`); a default above its cap is an error."""
    env = os.environ if environ is None else environ
    limit_caps = caps(env)
    values = {name: _from_env(name, False, env) for name in FIELD_NAMES}
    for name, value in values.items():
        if value > limit_caps[name]:
            raise ValueError(
                f"{_env_name(name, False)}={value} is above its cap {_env_name(name, True)}={limit_caps[name]}"
            )
    return values


def resolve(
    requested: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Limits:
    """Limits for one job: defaults, then the module's requests, each clamped to the operator cap."""
    env = os.environ if environ is None else environ
    values = defaults(env)
    limit_caps = caps(env)
    for key, raw in (requested or {}).items():
        if key in IGNORED_REQUEST_KEYS:
            continue
        if key not in values:
            raise ValueError(f"unknown sandbox limit {key!r} (known: {', '.join(FIELD_NAMES)})")
        values[key] = min(_parse(f"limits.{key}", raw, key), limit_caps[key])
    return Limits(
        wall_seconds=float(values["wall_seconds"]),
        cpu_seconds=int(values["cpu_seconds"]),
        memory_bytes=int(values["memory_bytes"]),
        pids=int(values["pids"]),
        file_size_bytes=int(values["file_size_bytes"]),
        open_files=int(values["open_files"]),
        tmpfs_bytes=int(values["tmpfs_bytes"]),
        output_bytes=int(values["output_bytes"]),
        work_bytes=int(values["work_bytes"]),
        work_inodes=int(values["work_inodes"]),
    )


def table() -> list[tuple[str, str, str, float | int, float | int]]:
    """Rows ``(field, env default var, env cap var, default, cap)`` for docs and the threat model."""
    return [(n, _env_name(n, False), _env_name(n, True), DEFAULTS[n], CAPS[n]) for n in FIELD_NAMES]
