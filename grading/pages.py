"""What grading adds to the module page (registered with ``modules.pages`` by ``GradingConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from grading import selectors
from grading.engine.runner import resolve_limits
from modules.pages import ModulePageContext


def call_seconds(limits: dict[str, Any]) -> float:
    """The per-call deadline the runner gives a call into this module's learner code (the module's
    ``call_seconds``, else the engine's default, at most the sandbox's wall time): what the page's countdown for a
    long test measures against."""
    return resolve_limits(limits)[1]


def module_page_data(page: ModulePageContext) -> dict[str, Any]:
    """``attempts`` (the learner's, newest first, 2 queries), ``reference_available`` (is any step of the
    reference open: ``modules.gates``, 1 query), ``call_seconds`` (the per-call time limit), ``ws_url`` and
    grading's endpoints in ``api``."""
    slug = page.module.slug
    gate = selectors.reference_gate(user=page.user, module=page.module)
    return {
        "reference_available": gate.any_open,
        "attempts": [
            selectors.submission_summary(s)
            for s in selectors.submissions_for(user=page.user, module=page.module)
        ],
        "call_seconds": call_seconds(dict(page.module.metadata.get("limits") or {})),
        "ws_url": "/ws/grading/",
        "api": {
            "submissions": reverse("api-module-submissions", args=[slug]),
            "reference": reverse("api-module-reference", args=[slug]),
            "submission_detail": "/api/submissions/{id}/",
            "lint": reverse("api-tools-lint"),
            "format": reverse("api-tools-format"),
        },
    }
