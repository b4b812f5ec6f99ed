"""Reads for grading, including ``access_submission`` (one condition per line).

Design choices:
- A learner sees only their own submissions; instructors see everyone's (read-only, through the API and admin).
- What learners see of hidden tests is cut down here a second time (the engine already neutralises messages):
  no output, no metrics, and only the hidden tests' name/status/neutral message.
- Feedback rules (``feedback.yaml``) are matched against the verdict here and returned as ``advice``.
- The verdict event carries what the module page shows after a run (advice, the attempt, progress, the modules
  it opened, the next module), so a page follows a run over the websocket alone.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from grading.models import Result, Submission, SubmissionEvent
from modules.models import Module
from modules.selectors import bilingual, localize, module_standing, user_is_instructor


def access_submission(*, user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    if not user.is_authenticated:
        return False
    if submission.user_id == user.pk:
        return True
    return user_is_instructor(user)


def access_submission_subscribe(*, user: AbstractBaseUser | AnonymousUser, submission: Submission) -> bool:
    """Websocket subscriptions: strictly one's own submissions (the group is per learner)."""
    if not user.is_authenticated:
        return False
    return submission.user_id == user.pk


def submission_get(*, submission_id: int) -> Submission | None:
    return Submission.objects.select_related("module", "result").filter(pk=submission_id).first()


def submissions_for(*, user: AbstractBaseUser, module: Module, limit: int = 100) -> list[Submission]:
    """The learner's attempts at ``module``, newest first (2 queries: rows + their results)."""
    return list(
        Submission.objects.filter(user=user, module=module)
        .select_related("result")
        .defer("files", "result__result")
        .order_by("-created_at", "-id")[:limit]
    )


def _result_summary(result: Result | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "status": result.status,
        "outcome": result.outcome,
        "score": result.score,
        "max_score": result.max_score,
    }


def submission_summary(submission: Submission) -> dict[str, Any]:
    """One attempt in lists: {id, status, created_at, finished_at, result {status, outcome, score, max_score}|null}."""
    result = getattr(submission, "result", None) if submission.status == Submission.Status.DONE else None
    return {
        "id": submission.pk,
        "status": submission.status,
        "created_at": submission.created_at.isoformat(),
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        "result": _result_summary(result),
        "url": f"/api/submissions/{submission.pk}/",
    }


def _learner_view_of_test(test: dict[str, Any]) -> dict[str, Any]:
    if test.get("visibility") != "hidden":
        return test
    return {**test, "output": "", "metrics": {}}


def learner_view_of_event(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") == "test_finished" and isinstance(event.get("test"), dict):
        return {**event, "test": _learner_view_of_test(event["test"])}
    if event.get("type") == "verdict" and isinstance(event.get("result"), dict):
        return {**event, "result": learner_view_of_result(event["result"])}
    return event


def learner_view_of_result(result: dict[str, Any]) -> dict[str, Any]:
    tests = result.get("tests")
    if not isinstance(tests, list):
        return result
    return {**result, "tests": [_learner_view_of_test(t) if isinstance(t, dict) else t for t in tests]}


def feedback_advice(*, module: Module, result: dict[str, Any]) -> list[dict[str, Any]]:
    """feedback.yaml rules whose ``match`` fits the verdict or one of its failing tests: ``[{id, advice {en, zh}}]``
    (language-neutral; ``submission_detail`` localises, the verdict event leaves the choice to the page)."""
    advice = []
    tests = [t for t in result.get("tests") or [] if isinstance(t, dict)]
    for rule in module.payload.get("feedback", []):
        match = rule.get("match") or {}
        statuses = {match["status"]} if match.get("status") else {"fail", "error"}
        candidates = [(result.get("status"), result.get("message", ""), "")]
        candidates += [(t.get("status"), t.get("message", ""), t.get("output", "")) for t in tests]
        for status, message, output in candidates:
            if status not in statuses:
                continue
            if match.get("message_regex") and not re.search(match["message_regex"], str(message)[:8192]):
                continue
            if match.get("output_regex") and not re.search(match["output_regex"], str(output)[:8192]):
                continue
            advice.append({"id": str(rule.get("id")), "advice": bilingual(rule.get("advice") or {})})
            break
    return advice


def verdict_event(
    *, submission: Submission, result: dict[str, Any], seq: int, locked_before: set[str]
) -> dict[str, Any]:
    """The verdict as stored and pushed: ``{type, seq, result, advice, attempt, progress, unlocked, next_module}``,
    everything the module page updates after a run, in one frame and in no particular language
    (``events.schema.json#/$defs/verdict``). Called once progress and unlocks are recorded; ``locked_before`` is
    what was locked before. The advice is matched against the learner's view of the result, as the submission
    detail matches it, so hidden tests' output never shapes it."""
    return {
        "type": "verdict",
        "seq": seq,
        "result": result,
        "advice": feedback_advice(module=submission.module, result=learner_view_of_result(result)),
        "attempt": submission_summary(submission),
        **module_standing(user=submission.user, module=submission.module, locked_before=locked_before),
    }


def submission_detail(*, submission: Submission, lang: str, for_instructor: bool = False) -> dict[str, Any]:
    """Files, the result (or null) and the events so far of the latest run."""
    result_row = getattr(submission, "result", None) if submission.status == Submission.Status.DONE else None
    stored = list(
        SubmissionEvent.objects.filter(submission=submission, run__gte=max(submission.runs, 1))
        .order_by("seq")
        .values_list("event", flat=True)
    )
    result = result_row.result if result_row else None
    if not for_instructor:
        stored = [learner_view_of_event(e) for e in stored]
        result = learner_view_of_result(result) if result else None
    return {
        "id": submission.pk,
        "module": submission.module.slug,
        "status": submission.status,
        "created_at": submission.created_at.isoformat(),
        "started_at": submission.started_at.isoformat() if submission.started_at else None,
        "finished_at": submission.finished_at.isoformat() if submission.finished_at else None,
        "content_hash": submission.content_hash,
        "files": submission.files,
        "result": result,
        "advice": [
            {"id": a["id"], "advice": localize(a["advice"], lang)}
            for a in (feedback_advice(module=submission.module, result=result) if result else [])
        ],
        "events": stored,
    }


def submission_events(*, submission: Submission, for_instructor: bool = False) -> list[dict[str, Any]]:
    """Stored events of the latest run, for websocket replay."""
    stored = list(
        SubmissionEvent.objects.filter(submission=submission, run__gte=max(submission.runs, 1))
        .order_by("seq")
        .values_list("event", flat=True)
    )
    if for_instructor:
        return stored
    return [learner_view_of_event(e) for e in stored]
