"""What milestones adds to the dashboard (registered with ``modules.pages`` by ``MilestonesConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from grading.milestones import selectors
from modules.pages import DashboardContext


def dashboard_data(page: DashboardContext) -> dict[str, Any]:
    """``milestones`` (``milestones.schema.json#/$defs/milestones``): this week's report, the learner's
    certificates and the download/upload endpoints (7 queries)."""
    return {
        "milestones": {
            "weekly": selectors.weekly_report(user=page.user, lang=page.lang),
            "certificates": selectors.certificates_for(user=page.user, lang=page.lang),
            "urls": {
                "weekly_report": reverse("weekly-report"),
                "learning_log": reverse("learning-log"),
                "note_upload": reverse("api-notes-upload"),
            },
        }
    }
