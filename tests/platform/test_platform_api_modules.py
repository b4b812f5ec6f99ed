"""GET /api/modules/ and GET /api/modules/<slug>/ for every persona."""

import pytest

pytestmark = pytest.mark.django_db


def test_it_lists_modules_in_order_with_their_state(course, learner):
    response = learner.get("/api/modules/")
    assert response.status_code == 200
    modules = response.json()["modules"]
    assert [(m["slug"], m["state"]) for m in modules] == [("01-hello", "unlocked"), ("02-next", "locked")]
    assert modules[0]["title"] == "Hello"
    assert modules[0]["progress"] == {
        "status": "not_started",
        "attempts": 0,
        "best_score": 0.0,
        "max_score": 0.0,
        "passed_at": None,
    }


def test_it_localizes_titles_for_chinese(course, learner):
    response = learner.get("/api/modules/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.json()["modules"][0]["title"] == "你好"


def test_it_refuses_the_module_list_to_anonymous(course, anonymous):
    assert anonymous.get("/api/modules/").status_code == 403


def test_it_rejects_posting_to_the_module_list(course, learner):
    assert learner.post_json("/api/modules/", {}).status_code == 405


def test_the_next_module_opens_only_once_the_prerequisite_is_passed_and_reflected(
    course, learner, pass_module
):
    pass_module(learner, course["01-hello"])
    states = {m["slug"]: m["state"] for m in learner.get("/api/modules/").json()["modules"]}
    assert states == {"01-hello": "passed", "02-next": "locked"}, "a pass alone does not complete a module"
    answer = learner.post_json(
        "/api/modules/01-hello/reflection/", {"answers": {"q1": "a", "q2": "f-strings"}}
    )
    assert answer.status_code == 200
    assert answer.json()["state"] == "completed"
    assert [m["slug"] for m in answer.json()["unlocked"]] == ["02-next"]
    states = {m["slug"]: m["state"] for m in learner.get("/api/modules/").json()["modules"]}
    assert states == {"01-hello": "completed", "02-next": "unlocked"}


def test_a_reflection_before_the_pass_completes_the_module_at_the_pass(course, learner, pass_module):
    first = learner.post_json(
        "/api/modules/01-hello/reflection/", {"answers": {"q1": "b", "q2": "not much yet"}}
    )
    assert first.json()["unlocked"] == [] and first.json()["state"] == "unlocked"
    pass_module(learner, course["01-hello"])
    states = {m["slug"]: m["state"] for m in learner.get("/api/modules/").json()["modules"]}
    assert states == {"01-hello": "completed", "02-next": "unlocked"}


def test_it_keeps_one_learners_pass_from_unlocking_for_another(course, learner, other_learner, pass_module):
    pass_module(learner, course["01-hello"])
    states = {m["slug"]: m["state"] for m in other_learner.get("/api/modules/").json()["modules"]}
    assert states["02-next"] == "locked"


def test_it_shows_instructors_every_module_unlocked(course, instructor):
    states = {m["slug"]: m["state"] for m in instructor.get("/api/modules/").json()["modules"]}
    assert states == {"01-hello": "unlocked", "02-next": "unlocked"}


def test_it_reports_the_latest_result_in_the_list(course, learner, pass_module):
    submission = pass_module(learner, course["01-hello"], status="fail")
    item = learner.get("/api/modules/").json()["modules"][0]
    assert item["latest_result"]["submission_id"] == submission.pk
    assert item["latest_result"]["status"] == "fail"
    assert item["progress"]["attempts"] == 1


def test_it_lists_modules_in_a_fixed_number_of_queries(course, learner, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert learner.get("/api/modules/").status_code == 200


def test_it_returns_module_detail_with_sanitized_guide_and_starter(course, learner):
    response = learner.get("/api/modules/01-hello/")
    assert response.status_code == 200
    body = response.json()
    assert body["module"]["slug"] == "01-hello"
    assert "<h1" in body["guide_html"] and "<script" not in body["guide_html"]
    assert body["steps"] == [{"id": "step1", "title": "Greet"}]
    assert body["files"][0]["path"] == "hello.py"
    assert "NotImplementedError" in body["files"][0]["starter"]
    assert body["files"][0]["draft"] is None
    assert body["next_module"] == {"slug": "02-next", "title": "Next", "url": "/modules/02-next/"}


def test_it_serves_the_chinese_guide_to_chinese_readers(course, learner):
    body = learner.get("/api/modules/01-hello/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert "你好" in body["guide_html"]


def test_it_refuses_a_locked_module_detail(course, learner):
    response = learner.get("/api/modules/02-next/")
    assert response.status_code == 403


def test_it_answers_404_for_a_missing_module(course, learner):
    assert learner.get("/api/modules/99-nothing/").status_code == 404


def test_it_refuses_module_detail_to_anonymous(course, anonymous):
    assert anonymous.get("/api/modules/01-hello/").status_code == 403


def test_it_rejects_deleting_a_module(course, learner):
    assert learner.delete("/api/modules/01-hello/").status_code == 405
