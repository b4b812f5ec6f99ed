"""Cookies of LTI sessions: ``SameSite=None; Secure`` (``DECISIONS.md``), so they reach the lab inside the LMS's
iframe, where a ``Lax`` cookie is not sent. Other sessions keep the site-wide settings.

Sits above ``SessionMiddleware`` in ``MIDDLEWARE`` so it sees the cookies that the session, CSRF and language
code set on the way out. An LTI session is one the launch marked (``selectors.SESSION_FRAME_ORIGINS``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from modules.lti.selectors import session_frame_origins


class LtiCookieMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if session_frame_origins(request) is not None:
            names = {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, settings.LANGUAGE_COOKIE_NAME}
            for name in names & set(response.cookies):
                response.cookies[name]["samesite"] = "None"
                response.cookies[name]["secure"] = True
        return response
