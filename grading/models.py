"""Submissions, their verdicts and the engine events streamed while grading.

Design choices:
- ``Submission`` keeps the submitted files (JSON path -> text) and the module's ``content_hash`` at submit time,
  so a later content change never rewrites history.
- ``Result`` is one-to-one with ``Submission``: the database itself forbids a second verdict; ``verdict_record``
  is idempotent on top of that. ``result`` is the engine's result JSON (schema_version 1) verbatim; ``status``,
  ``outcome`` and ``score`` are denormalised copies for lists and analytics.
- ``SubmissionEvent`` stores every engine event for replay (a page opened mid-grading, a reconnecting socket).
  A job that is re-run after a worker died starts a new ``run``; the events of the interrupted run are dropped.
- ``Submission`` rows are the grading queue (``grading.queues``): ``status`` queued, running (``claim`` names the
  Celery message that started the run, so a redelivered message resumes it), done (it has its Result) or
  superseded (a newer run of the learner replaced it while it waited: no run, no Result, ``superseded_by`` names
  the newer one). ``lane`` is the module's grading lane when it was submitted.
- ``Learner`` is a proxy of the user model so the admin can show per-learner analytics without a second table.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models

from modules.spec import DEFAULT_LANE, LANES


class Submission(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        SUPERSEDED = "superseded", "superseded"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    module = models.ForeignKey("modules.Module", on_delete=models.PROTECT, related_name="submissions")
    files = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    lane = models.CharField(max_length=8, choices=[(lane, lane) for lane in LANES], default=DEFAULT_LANE)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="the newer run"
    )
    claim = models.CharField(
        max_length=64, blank=True, default="", help_text="the queue message that started the current run"
    )
    content_hash = models.CharField(max_length=64)
    runs = models.PositiveIntegerField(default=0, help_text="how many times a worker started grading it")
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "module", "-created_at"], name="submission_user_module"),
            models.Index(fields=["lane", "status", "created_at"], name="submission_lane_queue"),
            models.Index(fields=["user", "lane", "started_at"], name="submission_user_lane_started"),
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.status})"


class Result(models.Model):
    class Status(models.TextChoices):
        PASS = "pass", "pass"
        FAIL = "fail", "fail"
        ERROR = "error", "error"

    submission = models.OneToOneField(Submission, on_delete=models.CASCADE, related_name="result")
    status = models.CharField(max_length=8, choices=Status.choices, db_index=True)
    outcome = models.CharField(max_length=32)
    score = models.FloatField(default=0.0)
    max_score = models.FloatField(default=0.0)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"result {self.submission_id}: {self.status}/{self.outcome}"


class SubmissionEvent(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    run = models.PositiveIntegerField(default=1)
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=32)
    event = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["submission", "run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "run", "seq"], name="event_submission_run_seq")
        ]


class Learner(User):
    """Users seen as learners, for the instructors' analytics in the admin."""

    class Meta:
        proxy = True
        verbose_name = "learner"
