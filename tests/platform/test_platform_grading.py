"""The grading task and verdict service: events stored and pushed, one verdict, progress, platform faults."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from platform_helpers import GOOD_HELLO, pass_result

from grading import tasks
from grading.engine.schema import validate_result
from grading.models import Result, Submission, SubmissionEvent
from grading.services import verdict_record
from modules import services
from modules.models import Progress, Unlock
from modules.selectors import module_state

pytestmark = pytest.mark.django_db


def fake_engine(events):
    def grade(module_dir, files, *, submission_id, **inputs):
        yield from events

    return grade


def engine_events(slug, status="pass"):
    return [
        {"type": "phase", "phase": "started", "seq": 0, "t": 0.0},
        {"type": "output", "stream": "stdout", "test_id": None, "data": "hi", "seq": 1, "t": 0.1},
        {"type": "verdict", "seq": 2, "t": 0.2, "result": pass_result(slug, status=status)},
    ]


def test_it_stores_events_and_one_verdict(course, learner, submit, monkeypatch):
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")))
    submission = submit(learner, course["01-hello"])
    assert tasks.grade_next(lane="short") == "graded"
    submission.refresh_from_db()
    assert submission.status == "done" and submission.runs == 1
    assert submission.result.status == "pass"
    assert list(SubmissionEvent.objects.filter(submission=submission).values_list("type", flat=True)) == [
        "phase",
        "output",
        "verdict",
    ]


def test_it_marks_progress_on_pass_and_unlocks_the_next_module_on_completion(
    course, learner, submit, monkeypatch
):
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")))
    submit(learner, course["01-hello"])
    tasks.grade_next(lane="short")
    progress = Progress.objects.get(user=learner.user, module=course["01-hello"])
    assert progress.status == "passed" and progress.best_score == 2
    assert module_state(user=learner.user, module=course["02-next"]) == "locked", "passed is not completed"
    services.reflection_submit(user=learner.user, module=course["01-hello"], answers={"q1": "a", "q2": "x"})
    assert module_state(user=learner.user, module=course["02-next"]) == "unlocked"
    assert not Unlock.objects.exists(), "the prerequisite rule is computed, never stored"


def test_a_module_stays_locked_while_its_prerequisite_is_not_passed(course, learner):
    assert module_state(user=learner.user, module=course["02-next"]) == "locked"


def test_a_message_redelivered_after_its_verdict_grades_nothing_again(course, learner, submit, monkeypatch):
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")))
    submission = submit(learner, course["01-hello"])
    assert tasks.grade_next(lane="short", token="message-1") == "graded"
    assert tasks.grade_next(lane="short", token="message-1") == "idle"
    assert Result.objects.filter(submission=submission).count() == 1
    assert SubmissionEvent.objects.filter(submission=submission, type="verdict").count() == 1


def test_it_reruns_an_interrupted_job_and_drops_its_stale_events(course, learner, submit, monkeypatch):
    submission = submit(learner, course["01-hello"])
    # a first worker claimed the job for message-1, streamed an event, and died
    Submission.objects.filter(pk=submission.pk).update(status="running", runs=1, claim="message-1")
    SubmissionEvent.objects.create(
        submission=submission,
        run=1,
        seq=0,
        type="phase",
        event={"type": "phase"},
        created_at=submission.created_at,
    )
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")))
    assert tasks.grade_next(lane="short", token="message-1") == "graded"  # the broker redelivered it
    submission.refresh_from_db()
    assert submission.runs == 2
    assert set(SubmissionEvent.objects.filter(submission=submission).values_list("run", flat=True)) == {2}


def test_it_gives_up_on_a_job_that_keeps_killing_its_workers(course, learner, submit, monkeypatch, settings):
    settings.LAB_GRADING_MAX_RUNS = 2
    submission = submit(learner, course["01-hello"])
    Submission.objects.filter(pk=submission.pk).update(status="running", runs=2, claim="message-1")
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")))
    assert tasks.grade_next(lane="short", token="message-1") == "idle"
    result = Result.objects.get(submission=submission)
    assert (result.status, result.outcome) == ("error", "platform_error")
    assert "interrupted 2 times" in result.result["message"]


def test_it_records_exactly_one_verdict_when_asked_twice(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    first, created_first = verdict_record(submission_id=submission.pk, result=pass_result("01-hello"))
    second, created_second = verdict_record(
        submission_id=submission.pk, result=pass_result("01-hello", status="fail")
    )
    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk and second.status == "pass"
    assert Progress.objects.get(user=learner.user, module=course["01-hello"]).attempts == 1


def test_it_turns_an_engine_crash_into_a_platform_error_verdict(course, learner, submit, monkeypatch):
    def broken(module_dir, files, *, submission_id, **inputs):
        yield {"type": "phase", "phase": "started", "seq": 0, "t": 0.0}
        raise RuntimeError("sandbox exploded")

    monkeypatch.setattr(tasks, "_engine_grade", broken)
    submission = submit(learner, course["01-hello"])
    assert tasks.grade_next(lane="short") == "platform_error"
    result = Result.objects.get(submission=submission)
    assert (result.status, result.outcome, result.result["fault"]) == ("error", "platform_error", "platform")
    assert "sandbox exploded" not in result.result["message"]
    validate_result(result.result)  # the engine's schema, its version included


def test_it_gives_a_verdict_when_the_engine_stops_without_one(course, learner, submit, monkeypatch):
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")[:2]))
    submission = submit(learner, course["01-hello"])
    assert tasks.grade_next(lane="short") == "platform_error"
    assert Result.objects.get(submission=submission).outcome == "platform_error"


def test_it_caps_streamed_output(course, learner, submit, monkeypatch, settings):
    settings.LAB_EVENT_OUTPUT_MAX_CHARS = 300
    events = engine_events("01-hello")
    events[1]["data"] = "x" * 10_000
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(events))
    submission = submit(learner, course["01-hello"])
    tasks.grade_next(lane="short")
    stored = SubmissionEvent.objects.get(submission=submission, type="output").event["data"]
    assert len(stored) < 400 and stored.endswith("(output truncated)")


def test_it_pushes_each_event_to_the_learners_group(
    course, learner, submit, monkeypatch, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"grading.user.{learner.user.pk}", channel)
    monkeypatch.setattr(tasks, "_engine_grade", fake_engine(engine_events("01-hello")))
    submission = submit(learner, course["01-hello"])
    with django_capture_on_commit_callbacks(execute=True):
        tasks.grade_next(lane="short")
    received = [async_to_sync(layer.receive)(channel) for _ in range(3)]
    assert [m["event"]["type"] for m in received] == ["phase", "output", "verdict"]
    assert {m["submission_id"] for m in received} == {submission.pk}


@pytest.mark.slow
def test_it_grades_a_submission_with_the_real_engine(course, learner, django_capture_on_commit_callbacks):
    """Through the API, the task and the real engine (bubblewrap sandbox) on the fixture module."""
    response = learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}})
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.grade_next(lane="short") == "graded"
    body = learner.get(f"/api/submissions/{response.json()['id']}/").json()
    assert body["status"] == "done"
    assert body["result"]["status"] == "pass", body["result"]["message"]
    assert {t["visibility"] for t in body["result"]["tests"]} == {"visible", "hidden"}
    assert [e["type"] for e in body["events"]][-1] == "verdict"
    assert "test_started" in {e["type"] for e in body["events"]}


@pytest.mark.slow
def test_it_reports_a_failing_submission_from_the_real_engine(course, learner, submit):
    submission = submit(learner, course["01-hello"], "def greet(name):\n    return 'nope'\n")
    assert tasks.grade_next(lane="short") == "graded"
    result = Result.objects.get(submission=submission)
    assert (result.status, result.result["fault"]) == ("fail", "learner")
