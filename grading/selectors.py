"""Reads for grading, including ``access_submission`` (one condition per line).

Design choices:
- A learner sees only their own submissions; instructors see everyone's (read-only, through the API and admin).
- What learners see of hidden tests is cut down here a second time (the engine already neutralises messages):
  no output, no metrics, and only the hidden tests' name/status/neutral message; their durations, the times of
  the events around them and the run's usage in whole seconds, no peak memory (``grading.engine.redact``).
- Stored events and results are handed out cleaned once more (``redact.clean_tree``), to learners and
  instructors alike: a row written before the services cleaned everything must still render.
- Feedback rules (``feedback.yaml``) are matched against the verdict here and returned as ``advice``.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from grading.engine.redact import clean_tree, coarse_duration, coarse_time, learner_usage
from grading.models import Result, Submission, SubmissionEvent
from modules.models import Module
from modules.selectors import localize, user_is_instructor


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


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _learner_view_of_test(test: dict[str, Any]) -> dict[str, Any]:
    if test.get("visibility") != "hidden":
        return test
    duration = coarse_duration(_seconds(test.get("duration_seconds")))
    return {**test, "output": "", "metrics": {}, "duration_seconds": duration}


def _about_hidden_timing(event: dict[str, Any]) -> bool:
    """Events whose time could tell how long a hidden test took: its own, and the run's phases and verdict."""
    test = event.get("test")
    hidden_test = isinstance(test, dict) and test.get("visibility") == "hidden"
    return event.get("type") in ("phase", "verdict") or event.get("visibility") == "hidden" or hidden_test


def learner_view_of_event(event: dict[str, Any]) -> dict[str, Any]:
    event = clean_tree(event)
    if _about_hidden_timing(event) and "t" in event:
        event["t"] = coarse_time(_seconds(event["t"]))
    if event.get("type") == "test_finished" and isinstance(event.get("test"), dict):
        return {**event, "test": _learner_view_of_test(event["test"])}
    if event.get("type") == "verdict" and isinstance(event.get("result"), dict):
        return {**event, "result": learner_view_of_result(event["result"])}
    return event


def learner_view_of_result(result: dict[str, Any]) -> dict[str, Any]:
    result = clean_tree(result)
    tests = result.get("tests")
    if not isinstance(tests, list):
        return result
    return {
        **result,
        "tests": [_learner_view_of_test(t) if isinstance(t, dict) else t for t in tests],
        "usage": learner_usage(result),
    }


def feedback_advice(*, module: Module, result: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """feedback.yaml rules whose ``match`` fits the verdict or one of its failing tests."""
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
            advice.append({"id": rule.get("id"), "advice": localize(rule.get("advice") or {}, lang)})
            break
    return advice


def submission_detail(*, submission: Submission, lang: str, for_instructor: bool = False) -> dict[str, Any]:
    """Files, the result (or null) and the events so far of the latest run."""
    result_row = getattr(submission, "result", None) if submission.status == Submission.Status.DONE else None
    stored = list(
        SubmissionEvent.objects.filter(submission=submission, run__gte=max(submission.runs, 1))
        .order_by("seq")
        .values_list("event", flat=True)
    )
    result = clean_tree(result_row.result) if result_row else None
    if for_instructor:
        stored = clean_tree(stored)
    else:
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
        "advice": feedback_advice(module=submission.module, result=result, lang=lang) if result else [],
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
        return clean_tree(stored)
    return [learner_view_of_event(e) for e in stored]
