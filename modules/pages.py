"""Page data that the apps above modules add to the pages modules renders (the module page, the dashboard).

Design choices:
- modules renders both pages but sits on the lowest floor, so it may not import the apps that own part of their
  data (grading: the learner's attempts; discussions: the mentors' review queue). Those apps register a
  contributor here from their ``AppConfig.ready()``; the page view calls every contributor and merges what they
  return into its ``page_data``. modules imports no app above it, and ``INSTALLED_APPS`` decides who adds what.
- A contributor returns page-data keys. A key nobody else sets is added; a key that is a dict on both sides
  (``api``, ``urls``) is merged, so an app adds its own endpoints there; any other clash is a programming error.
- Contributors are kept by name (registering a name again replaces it) and run in registration order, that is in
  ``INSTALLED_APPS`` order. They read with their own app's selectors; their query counts add to the page's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import User
from django.http import HttpRequest

from modules.models import Module
from modules.selectors import ModuleState


@dataclass(frozen=True)
class ModulePageContext:
    """What a contributor to ``/modules/<slug>/`` knows: the request, its (logged-in) user, the module (which the
    user may open), and the language."""

    request: HttpRequest
    user: User
    module: Module
    lang: str


@dataclass(frozen=True)
class DashboardContext:
    """What a contributor to the dashboard knows: the request, its (logged-in) user, the language, and every active
    module's state for that user."""

    request: HttpRequest
    user: User
    lang: str
    states: list[ModuleState]


Context = TypeVar("Context", ModulePageContext, DashboardContext)


class PageData(Generic[Context]):
    """The contributors to one page."""

    def __init__(self, page: str) -> None:
        self.page = page
        self._contributors: dict[str, Callable[[Context], dict[str, Any]]] = {}

    def register(self, name: str, contributor: Callable[[Context], dict[str, Any]]) -> None:
        """Add (or replace) the contributor ``name``; call it from an ``AppConfig.ready()``."""
        self._contributors[name] = contributor

    def contribute(self, context: Context, page_data: dict[str, Any]) -> dict[str, Any]:
        """``page_data`` with every contributor's keys merged in (a new dict; ``page_data`` is left as it is)."""
        merged = dict(page_data)
        for name, contributor in self._contributors.items():
            for key, value in contributor(context).items():
                if key not in merged:
                    merged[key] = value
                elif (
                    isinstance(merged[key], dict)
                    and isinstance(value, dict)
                    and not merged[key].keys() & value
                ):
                    merged[key] = {**merged[key], **value}
                else:
                    raise ValueError(f"{self.page}: contributor {name!r} sets {key!r}, which is already set")
        return merged


module_page: PageData[ModulePageContext] = PageData("module page")
dashboard: PageData[DashboardContext] = PageData("dashboard")
