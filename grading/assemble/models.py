"""One assemble run: a learner's stage trained with their own files.

Design choices:
- The row is the queue, as for submissions (``grading.queues``): ``queued`` in its lane, ``running`` under the
  claim of the message that started it, then ``done`` or ``failed``. A learner has at most one run queued or
  running, all stages together (the database's own constraint, ``assemble_one_active_per_learner``): the
  per-learner cap of the lane, and fairness needs nothing more since nobody has a second run waiting.
- ``files`` freezes the learner's files per module at request time (their best passing submission of each module
  of the stage), so the model they chat with later was trained and is served with the same code.
- ``AssembleReply`` is one prompt to a learner's model and to the reference, queued the same way on the ``short``
  lane (a reply takes seconds); one per learner at a time (``assemble_reply_one_active_per_learner``). Its text
  streams over the websocket while the worker generates it; the row keeps both final answers.
- ``loss`` keeps the curve (``{series: {"x": [...], "y": [...]}}``, bounded by the engine) and ``progress`` the
  fraction done, so a page opened mid-run, or after it, draws the same thing the websocket streamed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from modules.spec import LANES


class AssembleRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    class Stage(models.TextChoices):
        BASE = "base", "base model"
        CHAT = "chat", "chat model"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assemble_runs")
    stage = models.CharField(max_length=8, choices=Stage.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    lane = models.CharField(max_length=8, choices=[(lane, lane) for lane in LANES], default="long")
    claim = models.CharField(max_length=64, blank=True, default="")
    files = models.JSONField(
        default=dict, help_text="module slug -> {path: text}: the learner's files it runs"
    )
    progress = models.FloatField(default=0.0)
    step = models.CharField(max_length=40, blank=True, default="", help_text="the pipeline step running")
    loss = models.JSONField(default=dict, help_text="series -> {x: [...], y: [...]}")
    message = models.TextField(blank=True, default="")
    wall_seconds = models.FloatField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    model_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["queued", "running"]),
                name="assemble_one_active_per_learner",
            )
        ]
        indexes = [models.Index(fields=["lane", "status", "created_at"], name="assemble_lane_queue")]

    def __str__(self) -> str:
        return f"assemble {self.stage} {self.pk} ({self.status})"


class AssembleReply(models.Model):
    Status = AssembleRun.Status

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assemble_replies"
    )
    run = models.ForeignKey(
        AssembleRun,
        on_delete=models.CASCADE,
        related_name="replies",
        help_text="the run whose files serve the model",
    )
    stage = models.CharField(max_length=8, choices=AssembleRun.Stage.choices)
    prompt = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    lane = models.CharField(max_length=8, choices=[(lane, lane) for lane in LANES], default="short")
    claim = models.CharField(max_length=64, blank=True, default="")
    mine = models.JSONField(null=True, blank=True, help_text="{ok, text, message}: the learner's model")
    reference = models.JSONField(null=True, blank=True, help_text="{ok, text, message}: the reference model")
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status__in=["queued", "running"]),
                name="assemble_reply_one_active_per_learner",
            )
        ]
        indexes = [models.Index(fields=["lane", "status", "created_at"], name="assemble_reply_lane_queue")]

    def __str__(self) -> str:
        return f"assemble reply {self.pk} ({self.status})"
