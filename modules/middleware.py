"""The Content Security Policy middleware: django-csp's, with ``frame-ancestors`` read per response.

Design choices:
- The policy itself is ``CONTENT_SECURITY_POLICY`` in ``labplatform.settings`` (what Monaco, Plotly and KaTeX need,
  no inline or evaluated script). ``frame-ancestors`` starts at ``'self'``; the LMS platforms allowed to frame the
  lab for LTI launches are added here from ``settings.LAB_FRAME_ANCESTORS`` at response time, so the list can
  change (a test, a platform registered later) without rebuilding the policy. ``frame_ancestors`` is the one
  place that decides them.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


def frame_ancestors() -> list[str]:
    """Origins besides the lab itself that may frame its pages (LTI launches run in the platform's iframe)."""
    return list(settings.LAB_FRAME_ANCESTORS)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origins = frame_ancestors()
        if origins and not report_only:
            update = dict(parts.update or {})
            update["frame-ancestors"] = [*update.get("frame-ancestors", []), *origins]
            parts.update = update
        return parts
