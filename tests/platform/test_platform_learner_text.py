"""What the platform keeps of a grading run: clean learner text, a bounded number of events, coarse hidden timings.

The engine already cleans and caps what it sends; these tests feed the services what a hostile or buggy run
could still hand them (through the grading task, as a worker does) and read it back through the API, the admin
and the websocket replay.  The same pages on PostgreSQL: tests/production/test_production_learner_text.py.
"""

import pytest
from django.contrib.auth.models import User
from platform_helpers import Persona, pass_result

from grading import tasks
from grading.models import Result, SubmissionEvent
from grading.selectors import submission_events
from grading.services import verdict_record

pytestmark = pytest.mark.django_db

BAD = "nul\x00 and half a pair \ud800 end"
CLEAN = "nul\ufffd and half a pair \ufffd end"


def fake_engine(events):
    def grade(module_dir, files, *, submission_id, **inputs):
        yield from events

    return grade


def hostile_result(slug):
    result = pass_result(slug, status="fail")
    result["message"] = BAD
    result["tests"][0]["output"] = BAD
    result["tests"][0]["message"] = BAD
    result["tests"][1]["duration_seconds"] = 2.7
    result["usage"] = {"wall_seconds": 3.25, "cpu_seconds": 1.4, "max_rss_bytes": 123_456_789}
    return result


def hostile_events(slug):
    return [
        {"type": "phase", "phase": "started", "seq": 0, "t": 0.0},
        {"type": "output", "stream": "stdout", "test_id": None, "data": BAD, "seq": 1, "t": 0.1},
        {"type": "verdict", "seq": 2, "t": 0.2, "result": hostile_result(slug)},
    ]


@pytest.fixture
def admin(db) -> Persona:
    return Persona(User.objects.create_superuser(username="root", password="correct horse battery"))


@pytest.fixture
def graded(course, learner, submit, monkeypatch):
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(hostile_events("01-hello")))
    submission = submit(learner, course["01-hello"])
    assert tasks.grade_next(lane="short") == "graded"
    return submission


def test_learner_text_is_stored_as_valid_unicode_without_nul(graded):
    output = SubmissionEvent.objects.get(submission=graded, type="output").event
    assert output["data"] == CLEAN
    result = Result.objects.get(submission=graded)
    assert (result.status, result.outcome) == ("fail", "tests_failed")
    assert result.result["message"] == CLEAN and result.result["tests"][0]["output"] == CLEAN
    verdict = SubmissionEvent.objects.get(submission=graded, type="verdict").event
    assert verdict["result"]["tests"][0]["message"] == CLEAN


def test_the_submission_api_and_the_admin_answer_on_hostile_text(graded, learner, admin):
    response = learner.get_json(f"/api/submissions/{graded.pk}/")
    assert response.status_code == 200 and CLEAN in response.content.decode()
    event = SubmissionEvent.objects.get(submission=graded, type="output")
    for url in (
        f"/admin/grading/submission/{graded.pk}/change/",
        f"/admin/grading/result/{graded.result.pk}/change/",
        f"/admin/grading/submissionevent/{event.pk}/change/",
        "/admin/grading/submissionevent/",
    ):
        assert admin.get(url).status_code == 200, url


def test_pages_answer_on_text_stored_before_it_was_cleaned(course, learner, instructor, submit, admin):
    """SQLite keeps whatever was written (PostgreSQL never took such text): reading it must not fail."""
    submission = submit(learner, course["01-hello"])
    verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    SubmissionEvent.objects.filter(submission=submission).update(
        event={"type": "output", "seq": 0, "t": 0.0, "stream": "stdout", "test_id": None, "data": BAD}
    )
    Result.objects.filter(submission=submission).update(result=hostile_result("01-hello"))
    event = SubmissionEvent.objects.get(submission=submission)
    for persona in (learner, instructor):
        response = persona.get_json(f"/api/submissions/{submission.pk}/")
        assert response.status_code == 200 and CLEAN in response.content.decode()
    for url in (
        f"/admin/grading/submission/{submission.pk}/change/",
        f"/admin/grading/result/{submission.result.pk}/change/",
        f"/admin/grading/submissionevent/{event.pk}/change/",
    ):
        assert admin.get(url).status_code == 200, url


def test_a_run_stores_at_most_the_event_cap_and_one_summary(course, learner, submit, settings, monkeypatch):
    settings.LAB_EVENTS_PER_SUBMISSION_MAX = 10
    flood = [
        {"type": "output", "stream": "stdout", "test_id": None, "data": "x", "seq": i, "t": 0.1}
        for i in range(50)
    ]
    verdict = {"type": "verdict", "seq": 50, "t": 1.0, "result": pass_result("01-hello")}
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine([*flood, verdict]))
    submission = submit(learner, course["01-hello"])
    assert tasks.grade_next(lane="short") == "graded"
    stored = list(SubmissionEvent.objects.filter(submission=submission).order_by("seq"))
    assert [e.type for e in stored] == ["output"] * 11 + ["verdict"]
    assert [e.event["data"] for e in stored[:10]] == ["x"] * 10
    assert "not stored" in stored[10].event["data"] and stored[10].event["seq"] == 10
    assert Result.objects.get(submission=submission).status == "pass"


def test_learner_views_show_hidden_timings_in_whole_seconds_and_instructors_exact(
    graded, learner, instructor
):
    body = learner.get_json(f"/api/submissions/{graded.pk}/").json()
    hidden = [t for t in body["result"]["tests"] if t["visibility"] == "hidden"][0]
    assert hidden["duration_seconds"] == 3.0
    assert body["result"]["usage"] == {"wall_seconds": 4.0, "cpu_seconds": 2.0, "max_rss_bytes": None}
    replayed = submission_events(submission=graded)[-1]["result"]
    assert [t["duration_seconds"] for t in replayed["tests"]] == [0.01, 3.0]
    staff = instructor.get_json(f"/api/submissions/{graded.pk}/").json()
    assert staff["result"]["tests"][1]["duration_seconds"] == 2.7
    assert staff["result"]["usage"]["max_rss_bytes"] == 123_456_789
