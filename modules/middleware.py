"""The Content Security Policy middleware: django-csp's, with ``frame-ancestors`` read per response.

Design choices:
- The policy itself is ``CONTENT_SECURITY_POLICY`` in ``labplatform.settings`` (what Monaco, Plotly and KaTeX need,
  no inline or evaluated script). ``frame-ancestors`` starts at ``'self'``; the LMS platforms allowed to frame the
  lab for LTI launches are added here at response time, so the list can change (a test, a platform registered
  later) without rebuilding the policy: ``settings.LAB_FRAME_ANCESTORS`` (every page), the origins of the platform
  an LTI session was launched from (``modules.lti.selectors.session_frame_origins``), and those a view sets on
  its response as ``lab_frame_ancestors`` (an LTI launch's own answer). ``frame_ancestors`` is the one place that
  decides them. A view whose forms post to another origin (the LTI deep-linking answer goes back to the
  platform) names it as ``lab_form_action``, added to ``form-action 'self'`` for that response only.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from modules.lti.selectors import session_frame_origins


def frame_ancestors(request: HttpRequest, response: HttpResponseBase) -> list[str]:
    """Origins besides the lab itself that may frame this response (LTI launches run in the platform's iframe)."""
    origins = list(settings.LAB_FRAME_ANCESTORS)
    extra = [*(session_frame_origins(request) or []), *getattr(response, "lab_frame_ancestors", [])]
    return origins + [o for i, o in enumerate(extra) if o not in origins and o not in extra[:i]]


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        origins = frame_ancestors(request, response)
        form_targets = list(getattr(response, "lab_form_action", []))
        if (origins or form_targets) and not report_only:
            update = dict(parts.update or {})
            if origins:
                update["frame-ancestors"] = [*update.get("frame-ancestors", []), *origins]
            if form_targets:
                update["form-action"] = [*update.get("form-action", []), *form_targets]
            parts.update = update
        return parts
