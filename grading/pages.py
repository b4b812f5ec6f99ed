"""What grading adds to the module page (registered with ``modules.pages`` by ``GradingConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from grading import selectors
from modules.pages import ModulePageContext


def module_page_data(page: ModulePageContext) -> dict[str, Any]:
    """``attempts`` (the learner's, newest first, 2 queries), ``ws_url`` and grading's endpoints in ``api``."""
    slug = page.module.slug
    return {
        "attempts": [
            selectors.submission_summary(s)
            for s in selectors.submissions_for(user=page.user, module=page.module)
        ],
        "ws_url": "/ws/grading/",
        "api": {
            "submissions": reverse("api-module-submissions", args=[slug]),
            "submission_detail": "/api/submissions/{id}/",
            "lint": reverse("api-tools-lint"),
            "format": reverse("api-tools-format"),
        },
    }
