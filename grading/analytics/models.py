"""Analytics: the micro-survey's answers and the aggregates the instructors' page reads.

Design choices:
- The module state machine (``modules.models.Progress``: not started → in progress → passed → completed) stays
  the one source of completion, pass and activity; nothing here copies a state.
- What the state machine does not keep is kept at grading, by the ``grading.services.verdict_recorded``
  listener, so the page never scans submissions (20 per learner and module in a large class):
  ``LearnerModuleStat`` counts a learner's graded attempts on a module and remembers how many it took to pass
  and how long from the first attempt; ``DailyTestCount`` counts runs and failures of each test per day, with the
  latest failure message.
- ``SurveyResponse``: one row per (learner, module, stage); a skip is a row too, so the prompt is not shown again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from modules.models import Module


class SurveyResponse(models.Model):
    class Stage(models.TextChoices):
        START = "start", "start"
        AFTER = "after", "after passing"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="survey_responses"
    )
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="survey_responses")
    stage = models.CharField(max_length=8, choices=Stage.choices)
    skipped = models.BooleanField(default=False)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–5")
    difficulty = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–5 (after passing)")
    helpfulness = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–5 (after passing)")
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "module", "stage"], name="analytics_one_survey_per_stage")
        ]
        indexes = [
            models.Index(fields=["module", "stage"], name="analytics_survey_module_stage"),
            # the page's latest comments, without sorting every answer
            models.Index(
                fields=["-created_at"], condition=~models.Q(comment=""), name="analytics_survey_comments"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.module_id}:{self.stage}"


class LearnerModuleStat(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="+")
    attempts = models.PositiveIntegerField(
        default=0, help_text="graded attempts (platform faults not counted)"
    )
    first_attempt_at = models.DateTimeField()
    attempts_to_pass = models.PositiveIntegerField(null=True, blank=True)
    seconds_to_pass = models.FloatField(null=True, blank=True, help_text="from the first attempt to the pass")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "module"], name="analytics_one_stat_per_module")
        ]
        indexes = [
            models.Index(fields=["module", "user"], name="analytics_stat_module_user"),
            # the page's mean attempts and median time to pass: an index-only scan in module order, no sort
            models.Index(
                fields=["module", "seconds_to_pass"],
                include=["attempts_to_pass", "user"],
                condition=models.Q(seconds_to_pass__isnull=False),
                name="analytics_stat_pass",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.module_id}"


class DailyTestCount(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="+")
    test_id = models.CharField(max_length=300, help_text="visible/test_x.py::test_y")
    name = models.CharField(max_length=300)
    day = models.DateField()
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, default="", help_text="the latest failure's message")

    class Meta:
        verbose_name_plural = "daily test counts"
        constraints = [
            models.UniqueConstraint(
                fields=["module", "test_id", "day"], name="analytics_one_test_row_per_day"
            )
        ]
        indexes = [models.Index(fields=["day", "module"], name="analytics_dailytestcount_day")]

    def __str__(self) -> str:
        return f"{self.module_id}:{self.test_id}:{self.day}"
