"""Analytics writes: the aggregates kept at grading (``verdict_count``) and the learner's survey answers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from grading.analytics.models import DailyTestCount, LearnerModuleStat, SurveyResponse
from grading.models import Submission
from modules import selectors as module_selectors
from modules.models import Module, Progress
from modules.services import Conflict, InvalidInput

#: Survey answers are whole numbers on this scale.
SCALE = (1, 5)
COMMENT_MAX_CHARS = 2000
#: What each stage asks: the required ratings (the comment is optional, after passing only).
STAGE_FIELDS = {
    SurveyResponse.Stage.START: ("confidence",),
    SurveyResponse.Stage.AFTER: ("confidence", "difficulty", "helpfulness"),
}
PASSED_STATUSES = (Progress.Status.PASSED, Progress.Status.COMPLETED)


# --- kept at grading ----------------------------------------------------------------------------------------------
def verdict_count(*, submission: Submission, result: dict[str, Any]) -> None:
    """Count one verdict (``grading.services.verdict_recorded``, inside its transaction): the learner's graded
    attempts on the module (the first pass fixes attempts and time to pass) and each test's run and failure of
    the day. A platform fault (status ``error``) is no attempt of the learner's and is not counted."""
    if result.get("status") not in ("pass", "fail"):
        return
    now = timezone.now()
    stat, _created = LearnerModuleStat.objects.select_for_update().get_or_create(
        user_id=submission.user_id,
        module_id=submission.module_id,
        defaults={"first_attempt_at": submission.created_at},
    )
    stat.attempts += 1
    stat.first_attempt_at = min(stat.first_attempt_at, submission.created_at)
    if result["status"] == "pass" and stat.attempts_to_pass is None:
        stat.attempts_to_pass = stat.attempts
        stat.seconds_to_pass = max(0.0, (now - stat.first_attempt_at).total_seconds())
    stat.save(update_fields=["attempts", "first_attempt_at", "attempts_to_pass", "seconds_to_pass"])
    day = now.date()
    for test in result.get("tests") or []:
        if not isinstance(test, dict) or test.get("status") not in ("pass", "fail", "error"):
            continue  # skipped tests did not run
        test_run_record(
            module_id=submission.module_id,
            test_id=str(test.get("id") or test.get("name") or "?")[:300],
            name=str(test.get("name") or test.get("id") or "?")[:300],
            day=day,
            failed=test["status"] != "pass",
            message=str(test.get("message") or "")[:2000],
        )


def test_run_record(*, module_id: int, test_id: str, name: str, day: Any, failed: bool, message: str) -> None:
    """Add one run (and maybe one failure, with its message) to the test's row of ``day``."""
    changes: dict[str, Any] = {"runs": F("runs") + 1, "failures": F("failures") + int(failed)}
    if failed:
        changes["message"] = message
    rows = DailyTestCount.objects.filter(module_id=module_id, test_id=test_id, day=day)
    if rows.update(**changes):
        return
    try:
        with transaction.atomic():
            DailyTestCount.objects.create(
                module_id=module_id,
                test_id=test_id,
                name=name,
                day=day,
                runs=1,
                failures=int(failed),
                message=message if failed else "",
            )
    except IntegrityError:  # another verdict created the row first
        rows.update(**changes)


# --- the micro-survey ---------------------------------------------------------------------------------------------
def _rating(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    low, high = SCALE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            _("%(field)s must be a whole number from %(low)d to %(high)d")
            % {"field": key, "low": low, "high": high},
            code="rating_invalid",
        )
    return value


def survey_answer(*, user: User, module: Module, body: Any) -> SurveyResponse:
    """Store the learner's answer to one stage's prompt, or its skip (answering again replaces it).

    ``body``: ``{"stage": "start" | "after", "skipped": true}`` or the stage's ratings (1–5: ``confidence``; after
    passing also ``difficulty``, ``helpfulness`` and an optional ``comment``). The after-passing stage needs a
    passed module. Nothing waits on an answer: unlocking reads the module's state alone."""
    if not isinstance(body, dict):
        raise InvalidInput(_("the survey answer must be a JSON object"), code="survey_invalid")
    stage = body.get("stage")
    if stage not in STAGE_FIELDS:
        raise InvalidInput(_('stage must be "start" or "after"'), code="stage_invalid")
    allowed = {"stage", "skipped", *STAGE_FIELDS[stage], *(("comment",) if stage == "after" else ())}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(
            _("unknown fields for this stage: %(fields)s") % {"fields": ", ".join(unknown)},
            code="survey_invalid",
        )
    skipped = body.get("skipped", False)
    if not isinstance(skipped, bool):
        raise InvalidInput(_("skipped must be true or false"), code="survey_invalid")
    if stage == SurveyResponse.Stage.AFTER and module_selectors.module_state(
        user=user, module=module
    ) not in (PASSED_STATUSES):
        raise Conflict(_("the after-passing survey opens once the module is passed"), code="not_passed")
    values: dict[str, Any] = {"skipped": skipped, "confidence": None, "difficulty": None, "helpfulness": None}
    comment = ""
    if not skipped:
        values |= {key: _rating(body, key) for key in STAGE_FIELDS[stage]}
        comment = body.get("comment", "")
        if not isinstance(comment, str) or len(comment) > COMMENT_MAX_CHARS or "\x00" in comment:
            raise InvalidInput(
                _("comment must be text of at most %(max)d characters") % {"max": COMMENT_MAX_CHARS},
                code="comment_invalid",
            )
    row, _created = SurveyResponse.objects.update_or_create(
        user=user,
        module=module,
        stage=stage,
        defaults={**values, "comment": comment.strip(), "created_at": timezone.now()},
    )
    return row
