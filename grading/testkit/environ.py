"""Setting environment variables for a block and putting back what was there.

Design choice: ``environ`` is either the judge's ``os.environ`` or a learner-side proxy of it
(``learner.module("os").environ``). Only ``get``, ``update`` and ``pop`` are used, which a proxy forwards as
calls; item assignment would not cross to the learner's process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def env_vars(environ: Any, **values: str | None) -> Iterator[None]:
    """Within the block, each ``NAME=value`` is set (``None``: unset); afterwards each has its old state again."""
    old = {name: environ.get(name) for name in values}
    _apply(environ, values)
    try:
        yield
    finally:
        _apply(environ, old)


def _apply(environ: Any, values: dict[str, str | None]) -> None:
    environ.update({name: value for name, value in values.items() if value is not None})
    for name, value in values.items():
        if value is None:
            environ.pop(name, None)
