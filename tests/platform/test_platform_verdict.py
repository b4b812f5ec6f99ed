"""The verdict event carries what the module page shows after a run: advice, the attempt, progress, unlocks.

The page follows a run over the websocket alone, so the one verdict frame must hold everything it used to fetch
afterwards (grading.selectors.verdict_event, stored and pushed by grading.services.verdict_record).
"""

from __future__ import annotations

from typing import Any

import pytest
from platform_helpers import pass_result

from grading.models import SubmissionEvent
from grading.services import verdict_record

pytestmark = pytest.mark.django_db


def verdict(submission_id: int) -> dict[str, Any]:
    return SubmissionEvent.objects.get(submission_id=submission_id, type="verdict").event


def test_a_passing_verdict_carries_the_attempt_progress_and_the_module_it_opened(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    event = verdict(submission.pk)
    assert event["type"] == "verdict" and event["result"]["status"] == "pass"
    assert event["attempt"]["id"] == submission.pk
    assert event["attempt"]["status"] == "done"
    assert event["attempt"]["result"] == {"status": "pass", "outcome": "ok", "score": 2.0, "max_score": 2.0}
    assert event["progress"]["state"] == "passed"
    assert event["progress"]["attempts"] == 1 and event["progress"]["best_score"] == 2.0
    assert event["progress"]["passed_at"]
    assert event["unlocked"] == [], "a pass opens nothing until the reflection completes the module"
    assert event["next_module"] == {
        "slug": "02-next",
        "title": {"en": "Next", "zh": "下一步"},
        "url": "/modules/02-next/",
        "state": "locked",
    }
    assert event["advice"] == []


def test_a_pass_with_the_reflection_already_in_carries_the_module_it_opened(course, learner, submit):
    from modules.services import reflection_submit

    reflection_submit(user=learner.user, module=course["01-hello"], answers={"q1": "a", "q2": "x"})
    submission = submit(learner, course["01-hello"])
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    event = verdict(submission.pk)
    assert event["progress"]["state"] == "completed"
    assert event["unlocked"] == [
        {"slug": "02-next", "title": {"en": "Next", "zh": "下一步"}, "url": "/modules/02-next/"}
    ]
    assert event["next_module"] == {**event["unlocked"][0], "state": "unlocked"}


def test_a_failing_verdict_carries_both_languages_of_its_advice_and_opens_nothing(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    verdict_record(
        submission_id=submission.pk,
        result=pass_result("01-hello", status="fail", message="NotImplementedError: TODO(step1)"),
    )
    event = verdict(submission.pk)
    assert event["advice"] == [
        {"id": "not-implemented", "advice": {"en": "Replace the raise line.", "zh": "替换 raise 这一行。"}}
    ]
    assert event["progress"]["state"] == "unlocked" and event["progress"]["passed_at"] is None
    assert event["unlocked"] == []
    assert event["next_module"]["state"] == "locked"


def test_a_second_pass_opens_nothing_new(course, learner, pass_module, submit):
    pass_module(learner, course["01-hello"])
    again = submit(learner, course["01-hello"])
    verdict_record(submission_id=again.pk, result=pass_result("01-hello"))
    event = verdict(again.pk)
    assert event["unlocked"] == []
    assert event["progress"]["attempts"] == 2


def test_hidden_test_output_never_shapes_the_advice(course, learner, submit):
    module = course["01-hello"]
    rule = {
        "id": "leak",
        "match": {"status": "fail", "output_regex": "secret"},
        "advice": {"en": "x", "zh": "x"},
    }
    module.payload["feedback"] = [*module.payload.get("feedback", []), rule]
    module.save(update_fields=["payload"])
    submission = submit(learner, module)
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello", status="fail"))
    assert "leak" not in [a["id"] for a in verdict(submission.pk)["advice"]]
    assert "leak" not in [a["id"] for a in learner.get(f"/api/submissions/{submission.pk}/").json()["advice"]]


def test_the_submission_detail_localises_the_advice(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    verdict_record(
        submission_id=submission.pk,
        result=pass_result("01-hello", status="fail", message="NotImplementedError"),
    )
    zh = learner.get(f"/api/submissions/{submission.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = learner.get(f"/api/submissions/{submission.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert [a["advice"] for a in zh["advice"]] == ["替换 raise 这一行。"]
    assert [a["advice"] for a in en["advice"]] == ["Replace the raise line."]
