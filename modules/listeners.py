"""Who hears that a learner's standing changed (a verdict, a reflection, a note): apps above modules register here.

Design choices:
- modules sits on the lowest floor and may not import the apps that react to progress (milestones: badges,
  unlocks and certificates turned into notifications). Those register a listener from their ``AppConfig.ready()``,
  the way ``modules.pages`` takes page-data contributors; the services call ``standing_changed.notify`` after
  their write. Listeners are kept by name and run in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Listeners:
    """Named listeners of one happening; ``notify``'s keyword arguments are what each listener is called with."""

    def __init__(self) -> None:
        self._listeners: dict[str, Callable[..., object]] = {}

    def register(self, name: str, listener: Callable[..., object]) -> None:
        """Add (or replace) the listener ``name``."""
        self._listeners[name] = listener

    def notify(self, **happening: Any) -> None:
        for listener in self._listeners.values():
            listener(**happening)


#: A learner's standing changed: ``listener(user=...)``.
standing_changed = Listeners()
