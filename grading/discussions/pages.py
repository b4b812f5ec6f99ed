"""What discussions adds to the dashboard (registered with ``modules.pages`` by ``DiscussionsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from grading.discussions import selectors
from modules.pages import DashboardContext

#: How many open review requests an instructor's dashboard lists (the full queue is on the module pages).
MENTOR_QUEUE_ON_DASHBOARD = 8


def dashboard_data(page: DashboardContext) -> dict[str, Any]:
    """``mentor_queue`` [thread]: for instructors the oldest open review requests (one query), else empty."""
    mentor = selectors.access_review_queue(user=page.user)
    queue = selectors.review_queue(limit=MENTOR_QUEUE_ON_DASHBOARD) if mentor else []
    return {"mentor_queue": [selectors.thread_to_dict(thread, page.lang) for thread in queue]}
