"""Where a committed submission goes to be graded: the seam between writing submissions and grading them.

Design choices:
- ``grading.services.submission_create`` hands the new id to ``enqueue`` after commit. What grades it is
  ``grading.tasks.enqueue`` (Celery in production, the embedded worker threads otherwise), installed here by
  ``GradingConfig.ready``: the tasks call the services, so the services must not import the tasks.
- Enqueueing with no sender installed is a programming error, raised, never a silently dropped submission.
"""

from __future__ import annotations

from collections.abc import Callable

Sender = Callable[[int], None]

_sender: Sender | None = None


def sender_install(sender: Sender) -> None:
    """Make ``sender`` the grading queue (``GradingConfig.ready`` installs ``grading.tasks.enqueue``)."""
    global _sender
    _sender = sender


def enqueue(submission_id: int) -> None:
    """Hand a committed submission to the installed grading queue."""
    if _sender is None:
        raise RuntimeError("no grading queue installed: GradingConfig.ready installs grading.tasks.enqueue")
    _sender(submission_id)
