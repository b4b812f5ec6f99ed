"""What every JSON API view of the lab shares: the request's language and ``LabAPIView``.

Design choices:
- API views are DRF ``APIView`` subclasses under session auth + CSRF; anonymous requests get 403 (session auth
  sends no ``WWW-Authenticate`` challenge). ``ServiceError`` raised by a service becomes
  ``{"detail": message, "code": code}`` with the service's HTTP status, in one place (``LabAPIView``).
- A missing or retired module is 404; a locked one is 403 with ``code: "locked"``.
- It lives on the lowest floor that serves an API (modules), outside any views module, so the apps above build
  their views on it without importing another app's views.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from modules import selectors, services
from modules.models import Module


def request_lang(request: HttpRequest) -> str:
    """The active language code: "en" or "zh-hans"."""
    return translation.get_language() or "en"


class LabAPIView(APIView):
    """Maps ``ServiceError`` to JSON errors and offers ``get_module`` (404 / 403-locked) to subclasses."""

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
