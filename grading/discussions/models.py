"""Discussions: ``Thread`` (a question on a module, or a review request for one attempt) and its ``Post``s.

Design choices:
- One model serves both per-module Q&A and mentor review of one attempt (``kind``).
- ``Thread.submission`` points at the ``grading.Submission`` a review is about; this app sits above grading, so
  it names the model directly. At most one review thread per attempt (unique ``submission``; questions have none,
  and NULLs never collide); a check constraint ties ``kind`` to having a submission.
- Moderation lives on the rows: a thread may be pinned, locked and have an accepted answer; a post may be hidden
  (its author and instructors still see it, marked hidden). A review carries its assignee and the mentor's verdict
  with its rubric.
- No logic in ``save()``: services write, selectors read.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from grading.models import Submission
from modules.models import Module


class Thread(models.Model):
    """A discussion on one module: a ``question`` anyone who may open the module sees, or a ``review``, a learner's
    request that a mentor look at one of their own attempts (seen by its author and instructors only)."""

    class Kind(models.TextChoices):
        QUESTION = "question", "question"
        REVIEW = "review", "review"

    class Status(models.TextChoices):
        OPEN = "open", "open"
        RESOLVED = "resolved", "resolved"

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="threads")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="threads")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.CASCADE, related_name="review_threads"
    )

    class Verdict(models.TextChoices):
        NONE = "", "not reviewed"
        ACCEPTED = "accepted", "accepted"
        CHANGES_REQUESTED = "changes_requested", "changes requested"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    # moderation (instructors)
    pinned = models.BooleanField(default=False, help_text="listed first in its module")
    locked = models.BooleanField(default=False, help_text="no new posts")
    accepted_post = models.ForeignKey(
        "Post",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the accepted answer",
    )
    # mentor review
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_reviews",
        help_text="the mentor who takes this review",
    )
    verdict = models.CharField(max_length=20, choices=Verdict.choices, default=Verdict.NONE, blank=True)
    rubric = models.JSONField(
        default=dict, blank=True, help_text="rubric item id -> met (a review's verdict)"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-pinned", "-updated_at", "-id"]
        indexes = [
            models.Index(fields=["module", "kind", "-updated_at"], name="discussions_thread_module_kind")
        ]
        constraints = [
            models.UniqueConstraint(fields=["submission"], name="discussions_one_review_per_submission"),
            models.CheckConstraint(
                condition=models.Q(kind="review", submission__isnull=False)
                | models.Q(kind="question", submission__isnull=True),
                name="discussions_review_has_submission",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}: {self.title}"


class Post(models.Model):
    """One Markdown message in a thread. ``is_mentor`` records that an instructor wrote it, at the time of writing
    (a later role change does not rewrite history, and lists need no group query per author)."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts")
    body = models.TextField()
    is_mentor = models.BooleanField(default=False)
    hidden = models.BooleanField(
        default=False, help_text="hidden by an instructor: only its author and instructors see it"
    )
    created_at = models.DateTimeField(db_index=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"post {self.pk} in thread {self.thread_id}"
