"""Who hears that a learner's standing changed (a verdict, a reflection, a note): apps above modules register here.

Design choices:
- modules sits on the lowest floor and may not import the apps that react to progress (milestones: badges,
  unlocks and certificates turned into notifications). Those register a listener from their ``AppConfig.ready()``,
  the way ``modules.pages`` takes page-data contributors; the services call ``standing_changed.notify`` after
  their write. Listeners are kept by name and run in registration order.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User


class Listeners:
    def __init__(self) -> None:
        self._listeners: dict[str, Callable[..., object]] = {}

    def register(self, name: str, listener: Callable[..., object]) -> None:
        """Add (or replace) the listener ``name``; it is called as ``listener(user=...)``."""
        self._listeners[name] = listener

    def notify(self, *, user: User) -> None:
        for listener in self._listeners.values():
            listener(user=user)


standing_changed = Listeners()
