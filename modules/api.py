"""What the lab's views share: the request's language, typed authenticated requests, and ``LabAPIView``.

Design choices:
- API views are DRF ``APIView`` subclasses under session auth + CSRF; anonymous requests get 403 (session auth
  sends no ``WWW-Authenticate`` challenge). ``ServiceError`` raised by a service becomes
  ``{"detail": message, "code": code}`` with the service's HTTP status, in one place (``LabAPIView``).
- A missing or retired module is 404; a locked one is 403 with ``code: "locked"``.
- ``AuthenticatedHttpRequest`` / ``AuthenticatedRequest`` type the request of a page behind ``login_required``
  and of an API view behind ``IsAuthenticated`` (every lab API view's default permission): their ``user`` is an
  account, never ``AnonymousUser``, since Django or DRF turned anonymous requests away before the view ran.
- It lives on the lowest floor that serves an API (modules), outside any views module, so the apps above build
  their views on it without importing another app's views.
- ``client_address``: the socket's peer, or behind ``LAB_TRUSTED_PROXIES`` reverse proxies the address the
  outermost trusted proxy saw (counted from the right of ``X-Forwarded-For``, the part a client cannot forge).
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from modules import selectors, services
from modules.models import Module

#: Every API error answer, ``{detail, code?}``, as a contract ref (``labplatform/schemas/``).
ERROR_REF = "api.schema.json#/$defs/error"


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a page behind ``login_required``."""

    user: User


class AuthenticatedRequest(Request):
    """The request of an API view behind ``IsAuthenticated``."""

    user: User


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address (see the module docstring); None when the request carries none that parses."""
    candidate = request.META.get("REMOTE_ADDR")
    proxies = settings.LAB_TRUSTED_PROXIES
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate or ""))
    except ValueError:
        return None


def request_lang(request: HttpRequest) -> str:
    """The active language code: "en" or "zh-hans"."""
    return translation.get_language() or "en"


class LabAPIView(APIView):
    """Maps ``ServiceError`` to JSON errors and offers ``get_module`` (404 / 403-locked) to subclasses.

    ``openapi`` declares, per method, what the view answers and reads for the published schema
    (``labplatform.openapi``): ``{"responses": {status: ref}, "request": ref, "parameters": [...]}``, refs into
    ``labplatform/schemas/`` (``file#/pointer``). 403 and (with a path parameter) 404 errors are implied."""

    openapi: ClassVar[dict[str, dict[str, Any]]] = {}

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.ServiceError):
            return Response({"detail": exc.message, "code": exc.code}, status=exc.http_status)
        return super().handle_exception(exc)

    def get_module(self, slug: str, *, unlocked: bool = True, with_payload: bool = True) -> Module:
        module = selectors.module_get(slug=slug, with_payload=with_payload)
        if module is None or not selectors.access_module_visible(user=self.request.user, module=module):
            raise NotFound(_("no such module"))
        if unlocked and not selectors.access_module_unlocked(user=self.request.user, module=module):
            raise PermissionDenied(detail=_("this module is locked"), code="locked")
        return module
