"""Similarity writes: fingerprint a passing submission and record how alike it is to the reference and to other
learners' passing submissions of the module (``docs/similarity.md``).

Runs in the grading worker after the verdict is committed (``grading.tasks``), never in a web request; idempotent
(a second run of the same submission finds its prints and matches and writes nothing new).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from grading.models import Result, Submission
from grading.similarity import fingerprints as fp
from grading.similarity.models import Match, SubmissionPrint
from grading.similarity.selectors import threshold
from modules.selectors import module_spec_of

log = logging.getLogger(__name__)


def _steps_json(prints: dict[str, fp.Fingerprints]) -> dict[str, list[int]]:
    return {step: sorted(hashes) for step, hashes in prints.items()}


def _steps_of(row: SubmissionPrint) -> dict[str, fp.Fingerprints]:
    return {step: frozenset(hashes) for step, hashes in (row.steps or {}).items()}


def _scores_json(scores: list[fp.StepScore]) -> list[dict[str, Any]]:
    return [
        {"step": s.step, "shared": s.shared, "union": s.union, "score": round(s.score, 4)} for s in scores
    ]


def submission_similarity_record(*, submission_id: int) -> int:
    """Fingerprint a passing submission and store its matches; returns how many matches were written (0 for a
    submission that did not pass, or was done before)."""
    submission = Submission.objects.select_related("module").filter(pk=submission_id).first()
    if submission is None or SubmissionPrint.objects.filter(submission=submission).exists():
        return 0
    if not Result.objects.filter(submission=submission, status=Result.Status.PASS).exists():
        return 0
    module = submission.module
    spec = module_spec_of(module=module)
    payload = module.payload or {}
    references = payload.get("references", {})
    mine = fp.submission_fingerprints(spec, submission.files or {}, references=references)
    starter = fp.submission_fingerprints(spec, payload.get("starters", {}), references=references)
    reference = fp.submission_fingerprints(spec, references, references=references)
    now = timezone.now()
    matches = [
        Match(
            submission=submission,
            other=None,
            module=module,
            kind=Match.Kind.REFERENCE,
            score=fp.pooled(scores := fp.submissions_compare(mine, reference, starter=starter)),
            steps=_scores_json(scores),
            created_at=now,
        )
    ]
    latest_per_learner = (
        SubmissionPrint.objects.filter(module=module)
        .exclude(user_id=submission.user_id)
        .values("user_id")
        .annotate(last=Max("id"))
        .values("last")
    )
    peers = SubmissionPrint.objects.filter(pk__in=latest_per_learner).order_by("-id")[
        : settings.LAB_SIMILARITY_PEERS_MAX
    ]
    for peer in peers:
        scores = fp.submissions_compare(mine, _steps_of(peer), starter=starter)
        score = fp.pooled(scores)
        if score >= threshold():
            matches.append(
                Match(
                    submission=submission,
                    other_id=peer.submission_id,
                    module=module,
                    kind=Match.Kind.LEARNER,
                    score=score,
                    steps=_scores_json(scores),
                    created_at=now,
                )
            )
    try:
        with transaction.atomic():
            SubmissionPrint.objects.create(
                submission=submission,
                module=module,
                user_id=submission.user_id,
                steps=_steps_json(mine),
                created_at=now,
            )
            Match.objects.bulk_create(matches)
    except IntegrityError:  # a concurrent run recorded it first
        return 0
    return len(matches)
