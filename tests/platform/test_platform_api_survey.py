"""The micro-survey API: ``/api/modules/<slug>/survey/`` — which prompt is due, answers and skips, clear 400s for
bad input, and that learning never waits on it."""

from __future__ import annotations

import pytest

from grading.analytics.models import SurveyResponse

URL = "/api/modules/01-hello/survey/"


def test_a_fresh_module_asks_the_start_question_with_the_default_text(course, learner):
    body = learner.get(URL).json()
    assert body["due"] == "start"
    assert body["questions"]["confidence_before"] == "How confident are you about Hello?"
    assert body["answers"] == {"start": None, "after": None}


def test_the_questions_follow_the_language(course, learner):
    learner.cookies["django_language"] = "zh-hans"
    assert learner.get(URL).json()["questions"]["difficulty"] == "这个模块有多难？"


def test_an_authored_topic_fills_the_question(course, learner, settings, tmp_path):
    from modules.models import Module

    hello = Module.objects.get(slug="01-hello")
    hello.metadata["survey"] = {"topic": {"en": "greeting people", "zh": "打招呼"}}
    hello.save(update_fields=["metadata"])
    body = learner.get(URL).json()
    assert body["questions"]["confidence_before"] == "How confident are you about greeting people?"
    assert (
        body["questions"]["confidence_after"]
        == "Now that you passed: how confident are you about greeting people?"
    )


def test_answering_the_start_question_stores_it_and_nothing_is_due(course, learner):
    res = learner.post_json(URL, {"stage": "start", "confidence": 3})
    assert res.status_code == 200
    assert res.json()["due"] is None
    assert res.json()["answers"]["start"] == {
        "skipped": False,
        "confidence": 3,
        "difficulty": None,
        "helpfulness": None,
        "comment": "",
    }
    row = SurveyResponse.objects.get(user=learner.user)
    assert (row.stage, row.confidence, row.skipped) == ("start", 3, False)


def test_a_skip_is_stored_and_the_prompt_is_not_shown_again(course, learner):
    assert learner.post_json(URL, {"stage": "start", "skipped": True}).json()["due"] is None
    assert learner.get(URL).json()["answers"]["start"]["skipped"] is True


def test_after_passing_the_after_survey_is_due_and_takes_every_rating(course, learner, pass_module, hello):
    pass_module(learner, hello)
    assert learner.get(URL).json()["due"] == "after"
    res = learner.post_json(
        URL, {"stage": "after", "confidence": 5, "difficulty": 2, "helpfulness": 4, "comment": "  Clear!  "}
    )
    assert res.status_code == 200, res.json()
    assert res.json()["answers"]["after"] == {
        "skipped": False,
        "confidence": 5,
        "difficulty": 2,
        "helpfulness": 4,
        "comment": "Clear!",
    }
    assert res.json()["due"] is None


def test_answering_again_replaces_the_answer(course, learner):
    learner.post_json(URL, {"stage": "start", "skipped": True})
    learner.post_json(URL, {"stage": "start", "confidence": 1})
    assert SurveyResponse.objects.get(user=learner.user).confidence == 1


def test_the_after_survey_waits_for_a_pass(course, learner):
    res = learner.post_json(URL, {"stage": "after", "confidence": 5, "difficulty": 2, "helpfulness": 4})
    assert (res.status_code, res.json()["code"]) == (409, "not_passed")


@pytest.mark.parametrize(
    "body, code, words",
    [
        ({}, "stage_invalid", 'stage must be "start" or "after"'),
        ({"stage": "middle"}, "stage_invalid", "stage must be"),
        ({"stage": "start"}, "rating_invalid", "confidence must be a whole number from 1 to 5"),
        ({"stage": "start", "confidence": 0}, "rating_invalid", "from 1 to 5"),
        ({"stage": "start", "confidence": 6}, "rating_invalid", "from 1 to 5"),
        ({"stage": "start", "confidence": "3"}, "rating_invalid", "whole number"),
        ({"stage": "start", "confidence": 2.5}, "rating_invalid", "whole number"),
        ({"stage": "start", "confidence": True}, "rating_invalid", "whole number"),
        (
            {"stage": "start", "confidence": 3, "difficulty": 2},
            "survey_invalid",
            "unknown fields for this stage: difficulty",
        ),
        ({"stage": "start", "confidence": 3, "comment": "hi"}, "survey_invalid", "comment"),
        ({"stage": "start", "skipped": "yes"}, "survey_invalid", "skipped must be true or false"),
    ],
)
def test_bad_input_is_a_clear_400(course, learner, body, code, words):
    res = learner.post_json(URL, body)
    assert res.status_code == 400
    assert res.json()["code"] == code
    assert words in res.json()["detail"]
    assert not SurveyResponse.objects.exists()


def test_a_body_that_is_no_object_is_a_400(course, learner):
    res = learner.post_json(URL, [1, 2])
    assert (res.status_code, res.json()["code"]) == (400, "survey_invalid")


def test_an_overlong_or_binary_comment_is_refused(course, learner, pass_module, hello):
    pass_module(learner, hello)
    base = {"stage": "after", "confidence": 5, "difficulty": 2, "helpfulness": 4}
    for comment in ("x" * 2001, "a\x00b", 7):
        res = learner.post_json(URL, base | {"comment": comment})
        assert (res.status_code, res.json()["code"]) == (400, "comment_invalid")


def test_it_refuses_anonymous_locked_and_missing_modules(course, learner, anonymous):
    assert anonymous.get(URL).status_code == 403
    assert anonymous.post_json(URL, {"stage": "start", "skipped": True}).status_code == 403
    locked = learner.post_json("/api/modules/02-next/survey/", {"stage": "start", "confidence": 3})
    assert (locked.status_code, locked.json()["detail"]) == (403, "this module is locked")
    assert learner.get("/api/modules/nope/survey/").status_code == 404


def test_it_refuses_other_methods(course, learner):
    assert learner.put_json(URL, {"stage": "start", "confidence": 3}).status_code == 405


def test_each_learner_sees_only_their_own_answers(course, learner, other_learner):
    learner.post_json(URL, {"stage": "start", "confidence": 2})
    assert other_learner.get(URL).json()["answers"]["start"] is None


def test_unlocking_never_waits_on_the_survey(course, learner, pass_module, hello):
    from modules.services import reflection_submit

    pass_module(learner, hello)
    reflection_submit(user=learner.user, module=hello, answers={"q1": "a", "q2": "greetings"})
    assert not SurveyResponse.objects.exists()
    assert learner.get("/api/modules/02-next/survey/").json()["due"] == "start"
    nxt = next(m for m in learner.get("/api/modules/").json()["modules"] if m["slug"] == "02-next")
    assert nxt["state"] == "unlocked"
