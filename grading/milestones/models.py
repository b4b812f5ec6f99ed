"""Milestones: ``Notification`` (what the bell lists), ``Certificate`` (issued once per learner and scope, verified
by its code), ``StudyDay`` (seconds of measured activity per learner and day).

Design choices:
- A notification has a ``key`` unique per learner (``badge:first-pass``, ``unlock:05-gpt``, ``post:42``): the
  services that create them are idempotent, so re-running a sync never notifies twice.
- Texts are stored in both languages (``{en, zh}``) when created, so the bell needs no knowledge of what made them.
- A certificate's ``scope`` is ``course`` or ``route:<slug>``; its ``code`` is random and unguessable, and the
  verification page shows only what the certificate itself states.
- Study time is credited from heartbeats the open pages send while the learner is active: each beat adds the time
  since the previous one, capped (``STUDY_BEAT_CAP_SECONDS``), so a tab left open or a gap away adds nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from modules.models import Route


class Notification(models.Model):
    class Kind(models.TextChoices):
        BADGE = "badge", "badge"
        UNLOCK = "unlock", "unlock"
        CERTIFICATE = "certificate", "certificate"
        MENTOR_REPLY = "mentor_reply", "mentor reply"
        REPLY = "reply", "reply"
        REVIEW_REQUEST = "review_request", "review request"
        SUMMARY = "summary", "summary"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=200)
    title = models.JSONField(default=dict, help_text="{en, zh}")
    url = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="milestones_one_notification_per_key")
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="milestones_notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.key}"


class Certificate(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certificates")
    scope = models.CharField(max_length=80, help_text="course | route:<slug>")
    route = models.ForeignKey(Route, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=150, help_text="the learner's name as printed")
    title = models.JSONField(default=dict, help_text="{en, zh}: what was completed")
    modules = models.JSONField(default=list, help_text="[{slug, title {en, zh}, completed_at}]")
    issued_at = models.DateTimeField()

    class Meta:
        ordering = ["issued_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "scope"], name="milestones_one_certificate_per_scope")
        ]

    def __str__(self) -> str:
        return f"{self.scope} certificate {self.code}"


class StudyDay(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_days")
    day = models.DateField()
    seconds = models.PositiveIntegerField(default=0)
    last_beat = models.DateTimeField()

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="milestones_one_study_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.seconds} s"
