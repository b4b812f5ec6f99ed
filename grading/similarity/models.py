"""Similarity: ``SubmissionPrint`` (a passing submission's fingerprints per step) and ``Match`` (a pair that was
compared: a submission with the reference, or with another learner's passing submission).

Design choices:
- Fingerprints are stored once per passing submission, so a new pass is compared with the others without parsing
  their files again; they are 64-bit hashes (``grading.similarity.fingerprints``), kept per step as JSON lists.
- The comparison with the reference is always stored (the learner's self-check prompt reads it); a comparison with
  another learner only when it reaches ``LAB_SIMILARITY_THRESHOLD``, so the table holds what instructors look at.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from grading.models import Submission


class SubmissionPrint(models.Model):
    submission = models.OneToOneField(Submission, on_delete=models.CASCADE, related_name="similarity_print")
    module = models.ForeignKey("modules.Module", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    steps = models.JSONField(default=dict, help_text="step id -> [fingerprint hashes]")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["module", "-created_at"], name="similarity_print_module")]

    def __str__(self) -> str:
        return f"prints of submission {self.submission_id}"


class Match(models.Model):
    class Kind(models.TextChoices):
        REFERENCE = "reference", "learner ↔ reference"
        LEARNER = "learner", "learner ↔ learner"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="similarity_matches")
    other = models.ForeignKey(
        Submission,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="none: the reference",
    )
    module = models.ForeignKey("modules.Module", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    score = models.FloatField(db_index=True)
    steps = models.JSONField(default=list, help_text="[{step, shared, union, score}]")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-score", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission"],
                condition=models.Q(other__isnull=True),
                name="similarity_one_reference_match",
            ),
            models.UniqueConstraint(fields=["submission", "other"], name="similarity_one_match_per_pair"),
            models.CheckConstraint(
                condition=models.Q(kind="reference", other__isnull=True)
                | models.Q(kind="learner", other__isnull=False),
                name="similarity_kind_matches_other",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} match of {self.submission_id}: {self.score:.2f}"
