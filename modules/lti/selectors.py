"""LTI reads: which origins frame the lab for a platform."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest

from modules.lti.models import ORIGIN, Platform

#: Session key: the origins that frame this LTI session's pages; its presence marks an LTI session.
SESSION_FRAME_ORIGINS = "lti_frame_origins"


def session_frame_origins(request: HttpRequest) -> list[str] | None:
    """The framing origins of an LTI session; None for any other session (or none)."""
    session: Any = getattr(request, "session", None)
    if session is None:
        return None
    origins = session.get(SESSION_FRAME_ORIGINS)
    return [o for o in origins if ORIGIN.fullmatch(o)] if isinstance(origins, list) else None


def frame_origins(*, platform: Platform) -> list[str]:
    """The origins of ``platform``'s framing list that are origins (a row saved around the admin's validation
    cannot put anything else into the policy)."""
    return [o.strip() for o in platform.frame_origins.split(",") if ORIGIN.fullmatch(o.strip())]


def all_frame_origins() -> list[str]:
    """Every active platform's framing origins (a refused launch cannot say which platform it came from)."""
    origins: list[str] = []
    for platform in Platform.objects.filter(is_active=True).only("frame_origins"):
        origins += [o for o in frame_origins(platform=platform) if o not in origins]
    return origins


def origins_of(urls: list[str]) -> list[str]:
    """The distinct origins of ``urls`` (for ``form-action``), dropping anything that is not a web origin."""
    origins: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if ORIGIN.fullmatch(origin) and origin not in origins:
            origins.append(origin)
    return origins
