"""Fair grading queues: lanes, the per-learner cap (supersede or 429), round-robin claims, why a run waits.

The order runs are taken in is asserted through ``services.submission_claim`` (what every worker calls) and the
embedded worker's threads; nothing here measures time (bench/bench_queues.py does).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from platform_helpers import GOOD_HELLO, Persona, pass_result

from grading import selectors, services, tasks
from grading.models import Result, Submission, SubmissionEvent
from grading.queues import Waiting, fair_order
from modules.models import Progress
from modules.services import learner_create, reflection_submit

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ids(runs: list[Waiting]) -> list[int]:
    return [run.id for run in runs]


@pytest.fixture
def third_learner(db) -> Persona:
    return Persona(learner_create(username="cy", password="correct horse battery"))


def claim_order(lane: str = "short") -> list[int]:
    """Claim the lane empty, as a worker would, and say in which order the runs came."""
    order = []
    while (submission := services.submission_claim(lane=lane)) is not None:
        order.append(submission.pk)
    return order


def running(*submissions: Submission) -> None:
    Submission.objects.filter(pk__in=[s.pk for s in submissions]).update(status="running", started_at=at(0))


# --- the order: grading.queues.fair_order -------------------------------------------------------------------------
def test_fair_order_takes_every_learners_first_run_before_anyones_second():
    waiting = [
        Waiting(1, "ada", at(1)),
        Waiting(2, "ada", at(2)),
        Waiting(3, "ada", at(3)),
        Waiting(4, "bo", at(4)),
    ]
    assert ids(fair_order(waiting, {})) == [1, 4, 2, 3]


def test_fair_order_serves_learners_never_served_first_then_the_least_recently_served():
    waiting = [
        Waiting(1, "ada", at(10)),
        Waiting(2, "bo", at(11)),
        Waiting(3, "cy", at(12)),
        Waiting(4, "dee", at(9)),
    ]
    served = {"ada": at(8), "bo": at(5), "dee": None}
    assert ids(fair_order(waiting, served)) == [4, 3, 2, 1]


def test_fair_order_keeps_each_learners_runs_in_submission_order():
    waiting = [Waiting(7, "ada", at(3)), Waiting(5, "ada", at(1)), Waiting(6, "ada", at(1))]
    assert ids(fair_order(waiting, {"ada": at(0)})) == [5, 6, 7]


def test_serving_the_head_leaves_the_rest_of_the_order_as_it_was():
    waiting = [
        Waiting(1, "ada", at(1)),
        Waiting(2, "ada", at(2)),
        Waiting(3, "bo", at(3)),
        Waiting(4, "cy", at(4)),
    ]
    served: dict[str, datetime | None] = {"bo": at(0)}
    first = fair_order(waiting, served)
    served[first[0].learner] = at(100)
    assert ids(fair_order(first[1:], served)) == ids(first[1:])


# --- lanes --------------------------------------------------------------------------------------------------------
def test_a_submission_waits_in_its_modules_lane(course, learner, submit):
    module = course["01-hello"]
    assert submit(learner, module).lane == "short"
    module.metadata = {**module.metadata, "lane": "long"}
    module.save(update_fields=["metadata"])
    assert submit(learner, module).lane == "long"
    module.metadata = {**module.metadata, "limits": {"gpu": True}}
    module.save(update_fields=["metadata"])
    assert submit(learner, module).lane == "gpu"


def test_a_committed_submission_wakes_a_celery_worker_of_its_lane(
    course, learner, monkeypatch, settings, django_capture_on_commit_callbacks
):
    monkeypatch.undo()  # the installed queue, not the autouse recorder
    settings.LAB_GRADING_QUEUE = "celery"
    sent = []
    monkeypatch.setattr(tasks.grade_lane, "apply_async", lambda args, queue: sent.append((args, queue)))
    module = course["01-hello"]
    with django_capture_on_commit_callbacks(execute=True):
        first = learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}})
    module.metadata = {**module.metadata, "lane": "long"}
    module.save(update_fields=["metadata"])
    with django_capture_on_commit_callbacks(execute=True):
        second = learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}})
    assert (first.status_code, second.status_code) == (201, 201)
    assert sent == [(["short"], "short"), (["long"], "long")]


def test_each_lane_is_claimed_on_its_own(course, learner, other_learner, submit):
    module = course["01-hello"]
    short = submit(learner, module)
    module.metadata = {**module.metadata, "lane": "long"}
    module.save(update_fields=["metadata"])
    long = submit(other_learner, module)
    assert claim_order("long") == [long.pk]
    assert claim_order("gpu") == []
    assert claim_order("short") == [short.pk]


# --- round-robin claims -------------------------------------------------------------------------------------------
def test_a_second_learners_run_is_claimed_before_the_first_learners_later_runs(
    course, learner, other_learner, submit, settings
):
    settings.LAB_QUEUE_MAX_PER_LEARNER = 3
    module = course["01-hello"]
    first, second, third = (submit(learner, module) for _ in range(3))
    assert services.submission_claim(lane="short").pk == first.pk  # the flood's first run starts
    theirs = submit(other_learner, module)
    assert claim_order() == [theirs.pk, second.pk, third.pk]


def test_learners_take_turns_run_by_run(course, learner, other_learner, third_learner, submit, settings):
    settings.LAB_QUEUE_MAX_PER_LEARNER = 3
    module = course["01-hello"]
    a1, a2, a3 = (submit(learner, module) for _ in range(3))
    b1, b2 = (submit(other_learner, module) for _ in range(2))
    c1 = submit(third_learner, module)
    assert claim_order() == [a1.pk, b1.pk, c1.pk, a2.pk, b2.pk, a3.pk]


def test_a_learner_served_recently_waits_behind_one_served_longer_ago(course, learner, other_learner, submit):
    module = course["01-hello"]
    for persona, started in ((learner, at(50)), (other_learner, at(10))):
        earlier = submit(persona, module)
        Submission.objects.filter(pk=earlier.pk).update(status="done", started_at=started)
    mine = submit(learner, module)
    theirs = submit(other_learner, module)
    assert claim_order() == [theirs.pk, mine.pk]


def test_a_claim_that_loses_its_run_to_another_worker_takes_the_next(
    course, learner, other_learner, submit, monkeypatch
):
    module = course["01-hello"]
    mine, theirs = submit(learner, module), submit(other_learner, module)
    real = selectors.lane_snapshot

    def raced(*, lane):
        snapshot = real(lane=lane)
        # another worker claims the head between this worker's read and its update
        Submission.objects.filter(pk=snapshot.order[0].id).update(status="running", claim="other")
        monkeypatch.setattr(selectors, "lane_snapshot", real)
        return snapshot

    monkeypatch.setattr(selectors, "lane_snapshot", raced)
    claimed = services.submission_claim(lane="short", token="me")
    assert claimed.pk == theirs.pk and claimed.claim == "me" and claimed.runs == 1
    assert Submission.objects.get(pk=mine.pk).claim == "other"


def test_a_claim_starts_the_run_and_drops_events_of_an_interrupted_one(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    SubmissionEvent.objects.create(
        submission=submission, run=1, seq=0, type="phase", event={"type": "phase"}, created_at=at(0)
    )
    Submission.objects.filter(pk=submission.pk).update(runs=1)
    claimed = services.submission_claim(lane="short", token="m-1")
    assert (claimed.status, claimed.runs, claimed.claim) == ("running", 2, "m-1")
    assert claimed.started_at is not None
    assert not SubmissionEvent.objects.filter(submission=submission).exists()


# --- the cap ------------------------------------------------------------------------------------------------------
def test_a_run_past_the_cap_supersedes_the_learners_oldest_waiting_run_of_the_module(course, learner, submit):
    module = course["01-hello"]
    oldest, newer = submit(learner, module), submit(learner, module)
    newest = submit(learner, module)
    oldest.refresh_from_db()
    assert (oldest.status, oldest.superseded_by_id) == ("superseded", newest.pk)
    assert oldest.finished_at is not None and oldest.runs == 0
    assert Submission.objects.get(pk=newer.pk).status == "queued"
    assert claim_order() == [newer.pk, newest.pk]


def test_a_superseded_run_is_never_graded_and_has_no_verdict(course, learner, submit, monkeypatch):
    module = course["01-hello"]
    oldest = submit(learner, module)
    submit(learner, module)
    submit(learner, module)
    graded = []
    monkeypatch.setattr(tasks, "_grade", lambda submission: graded.append(submission.pk) or "graded")
    assert services.submission_start(submission_id=oldest.pk) is None  # a redelivered run: skipped
    with pytest.raises(services.InvalidInput):
        services.verdict_record(submission_id=oldest.pk, result=pass_result("01-hello"))
    assert graded == [] and not Result.objects.filter(submission=oldest).exists()
    assert not SubmissionEvent.objects.filter(submission=oldest).exists()


def test_the_history_shows_what_replaced_a_superseded_run_and_counts_it_as_an_attempt(
    course, learner, submit
):
    module = course["01-hello"]
    oldest, newer, newest = (submit(learner, module) for _ in range(3))
    attempts = learner.get("/api/modules/01-hello/submissions/").json()["submissions"]
    assert [(a["id"], a["status"], a["superseded_by"], a["result"]) for a in attempts] == [
        (newest.pk, "queued", None, None),
        (newer.pk, "queued", None, None),
        (oldest.pk, "superseded", newest.pk, None),
    ]
    detail = learner.get(f"/api/submissions/{oldest.pk}/").json()
    assert (detail["status"], detail["superseded_by"], detail["result"], detail["queue"]) == (
        "superseded",
        newest.pk,
        None,
        None,
    )
    progress = Progress.objects.get(user=learner.user, module=module)
    assert (progress.attempts, progress.last_submission_id) == (3, None)


def test_a_run_past_the_cap_while_the_learners_runs_are_going_is_refused_with_429(course, learner, submit):
    module = course["01-hello"]
    running(submit(learner, module), submit(learner, module))
    response = learner.post_json("/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}})
    assert response.status_code == 429
    assert response.json()["code"] == "queue_full"
    assert response.json()["detail"].startswith("2 of your runs are waiting or being graded (short queue)")
    assert Submission.objects.filter(user=learner.user).count() == 2


def test_a_run_past_the_cap_never_replaces_a_waiting_run_of_another_module(
    course, learner, submit, pass_module
):
    pass_module(learner, course["01-hello"])
    reflection_submit(user=learner.user, module=course["01-hello"], answers={"q1": "a", "q2": "x"})
    waiting = [submit(learner, course["02-next"]), submit(learner, course["02-next"])]
    with pytest.raises(services.QueueFull):
        submit(learner, course["01-hello"])
    assert [Submission.objects.get(pk=s.pk).status for s in waiting] == ["queued", "queued"]


def test_the_cap_counts_runs_per_learner_and_per_lane(course, learner, other_learner, submit):
    module = course["01-hello"]
    running(submit(learner, module), submit(learner, module))
    submit(other_learner, module)  # another learner: their own cap
    module.metadata = {**module.metadata, "lane": "long"}
    module.save(update_fields=["metadata"])
    assert submit(learner, module).status == "queued"  # another lane: its own cap


def test_the_cap_is_a_setting(course, learner, submit, settings):
    settings.LAB_QUEUE_MAX_PER_LEARNER = 1
    module = course["01-hello"]
    first = submit(learner, module)
    second = submit(learner, module)
    assert Submission.objects.get(pk=first.pk).superseded_by_id == second.pk


def test_a_run_taken_by_a_worker_while_the_cap_is_checked_is_counted_again(
    course, learner, submit, monkeypatch
):
    module = course["01-hello"]
    first, second = submit(learner, module), submit(learner, module)
    Submission.objects.filter(pk=first.pk).update(status="running")
    real_update = type(Submission.objects.all()).update

    def racing_update(queryset, **changes):
        if changes.get("status") == "superseded":  # a worker claims the victim just before the supersede
            Submission.objects.filter(pk=second.pk).update(status="running")
        return real_update(queryset, **changes)

    monkeypatch.setattr(type(Submission.objects.all()), "update", racing_update)
    with pytest.raises(services.QueueFull):  # both are running now: nothing of theirs waits
        submit(learner, module)
    # the refusal rolls back the request's transaction (here it also holds the stand-in worker's claim)
    assert Submission.objects.filter(user=learner.user).count() == 2
    assert Submission.objects.get(pk=second.pk).superseded_by_id is None


# --- why a run waits ----------------------------------------------------------------------------------------------
def test_the_detail_says_where_a_waiting_run_stands(course, learner, other_learner, third_learner, submit):
    module = course["01-hello"]
    running(submit(learner, module))
    mine = submit(learner, module)
    b = submit(other_learner, module)
    c = submit(third_learner, module)
    queue = {
        who: persona.get(f"/api/submissions/{s.pk}/").json()["queue"]
        for who, persona, s in (("ada", learner, mine), ("bo", other_learner, b), ("cy", third_learner, c))
    }
    assert queue["bo"] == {
        "lane": "short",
        "position": 1,
        "learners_ahead": 0,
        "waiting_for_own": False,
        "next_run_replaces": False,
        "cap": 2,
    }
    assert (queue["cy"]["position"], queue["cy"]["learners_ahead"]) == (2, 1)
    assert queue["ada"] == {
        "lane": "short",
        "position": 3,
        "learners_ahead": 2,
        "waiting_for_own": True,
        "next_run_replaces": True,
        "cap": 2,
    }


def test_a_run_that_is_not_waiting_has_no_queue_info(course, learner, submit):
    submission = submit(learner, course["01-hello"])
    services.submission_claim(lane="short")
    body = learner.get(f"/api/submissions/{submission.pk}/").json()
    assert (body["status"], body["queue"], body["superseded_by"]) == ("running", None, None)


def test_each_change_of_a_lane_pushes_every_waiting_learner_where_they_stand(
    course, learner, other_learner, submit, monkeypatch, django_capture_on_commit_callbacks
):
    pushed = []
    monkeypatch.setattr(services.events, "push_queue", lambda **frame: pushed.append(frame))
    module = course["01-hello"]
    with django_capture_on_commit_callbacks(execute=True):
        mine = submit(learner, module)
    with django_capture_on_commit_callbacks(execute=True):
        theirs = submit(other_learner, module)
    assert [(p["user_id"], p["submission_id"], p["queue"]["position"]) for p in pushed] == [
        (learner.user.pk, mine.pk, 1),
        (learner.user.pk, mine.pk, 1),
        (other_learner.user.pk, theirs.pk, 2),
    ]
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_claim(lane="short")
    assert [(p["submission_id"], p["queue"]["position"]) for p in pushed] == [(theirs.pk, 1)]
    pushed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        newer = submit(other_learner, module)
        newest = submit(other_learner, module)
    superseded = [p for p in pushed if p["status"] == "superseded"]
    assert [(p["submission_id"], p["superseded_by"], p["queue"]) for p in superseded] == [
        (theirs.pk, newest.pk, None)
    ]
    assert [(p["submission_id"], p["queue"]["position"]) for p in pushed[-2:]] == [
        (newer.pk, 1),
        (newest.pk, 2),
    ]


# --- the Celery task: a message wakes a worker; a redelivered one resumes its run ---------------------------------
def test_a_message_grades_the_lanes_next_run(course, learner, other_learner, submit, monkeypatch, settings):
    settings.LAB_QUEUE_MAX_PER_LEARNER = 3
    graded = []
    monkeypatch.setattr(tasks, "_grade", lambda submission: graded.append(submission.pk) or "graded")
    module = course["01-hello"]
    a1, a2 = submit(learner, module), submit(learner, module)
    b1 = submit(other_learner, module)
    assert [tasks.grade_next(lane="short", token=f"m{n}") for n in range(4)] == ["graded"] * 3 + ["idle"]
    assert graded == [a1.pk, b1.pk, a2.pk]


def test_a_redelivered_message_grades_the_run_its_dead_worker_had_claimed(
    course, learner, other_learner, submit, monkeypatch
):
    module = course["01-hello"]
    claimed = submit(learner, module)
    waiting = submit(other_learner, module)
    assert services.submission_claim(lane="short", token="message-1").pk == claimed.pk  # then the worker died
    graded = []
    monkeypatch.setattr(tasks, "_grade", lambda submission: graded.append((submission.pk, submission.runs)))
    tasks.grade_next(lane="short", token="message-1")
    assert graded == [(claimed.pk, 2)]
    assert Submission.objects.get(pk=waiting.pk).status == "queued"


def test_the_celery_task_claims_under_its_message_id(course, learner, submit, monkeypatch):
    submission = submit(learner, course["01-hello"])
    monkeypatch.setattr(tasks, "_grade", lambda submission: "graded")
    assert tasks.grade_lane.apply(args=["short"], task_id="message-7").result == "graded"
    assert Submission.objects.get(pk=submission.pk).claim == "message-7"


def test_a_submission_whose_wake_up_cannot_be_sent_is_accepted_and_waits(
    course, learner, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """The broker is restarting: the row is committed, so the learner gets their 201; the lane watch wakes it."""
    monkeypatch.undo()  # the installed queue, not the autouse recorder
    settings.LAB_GRADING_QUEUE = "celery"

    def broker_down(args, queue):
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.grade_lane, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = learner.post_json(
            "/api/modules/01-hello/submissions/", {"files": {"hello.py": GOOD_HELLO}}
        )
    assert response.status_code == 201
    assert Submission.objects.get(pk=response.json()["id"]).status == "queued"


def test_the_lane_watch_wakes_only_a_stalled_lane(course, learner, submit, monkeypatch, settings):
    settings.LAB_GRADING_REWAKE_SECONDS = 30
    sent = []
    monkeypatch.setattr(tasks.grade_lane, "apply_async", lambda args, queue: sent.append((args, queue)))
    submission = submit(learner, course["01-hello"])
    # it has just been submitted: its own wake-up is on its way
    assert tasks.lanes_rewake() == [] and sent == []
    Submission.objects.filter(pk=submission.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    assert tasks.lanes_rewake() == ["short"]
    assert sent == [(["short"], "short")]
    other = submit(learner, course["01-hello"])
    Submission.objects.filter(pk=other.pk).update(status="running", started_at=timezone.now())
    assert tasks.lanes_rewake() == [] and len(sent) == 1  # a worker took a run just now: it is not stalled
    Submission.objects.filter(pk=submission.pk).update(status="running")
    assert tasks.lanes_rewake() == []  # nothing waits


def test_a_job_that_loses_its_database_is_retried_without_a_verdict(course, learner, submit, monkeypatch):
    submission = submit(learner, course["01-hello"])

    def database_gone(**_):
        raise OperationalError("server closed the connection unexpectedly")

    stopped = []

    def engine(*args, **kwargs):
        try:
            yield {"type": "phase", "seq": 0, "t": 0.0}
            yield {"type": "phase", "seq": 1, "t": 0.1}
        finally:
            stopped.append(True)  # the engine's cleanup: its sandbox goes

    monkeypatch.setattr(tasks, "_engine_grade", engine)
    monkeypatch.setattr(services, "submission_event_record", database_gone)
    retries = []

    def retry(**options):  # Celery's own retry re-publishes the message; here it only says so
        retries.append(options)
        return Retry(exc=options["exc"], when=options["countdown"])

    monkeypatch.setattr(tasks.grade_lane, "retry", retry)
    result = tasks.grade_lane.apply(args=["short"], task_id="message-8")
    assert result.state == "RETRY"
    assert [type(options["exc"]) for options in retries] == [OperationalError]
    assert stopped == [True], "the run's sandbox is stopped before the retry"
    row = Submission.objects.get(pk=submission.pk)
    assert (row.status, row.claim, row.runs) == ("running", "message-8", 1)  # the retry (same id) resumes it
    assert not Result.objects.filter(submission=row).exists()


def test_recovery_requeues_interrupted_runs_and_gives_up_on_exhausted_ones(course, learner, submit, settings):
    settings.LAB_GRADING_MAX_RUNS = 2
    settings.LAB_QUEUE_MAX_PER_LEARNER = 5
    module = course["01-hello"]
    interrupted, exhausted, waiting = (submit(learner, module) for _ in range(3))
    Submission.objects.filter(pk=interrupted.pk).update(status="running", runs=1, claim="m")
    Submission.objects.filter(pk=exhausted.pk).update(status="running", runs=2)
    assert services.submissions_recover() == 2
    assert Submission.objects.get(pk=interrupted.pk).status == "queued"
    assert Result.objects.get(submission=exhausted).outcome == "platform_error"
    assert claim_order() == [interrupted.pk, waiting.pk]


# --- the embedded worker: threads per lane, taking runs from the queue --------------------------------------------
@pytest.fixture
def worker():
    embedded = tasks.EmbeddedWorker()
    yield embedded
    embedded.stop()


@pytest.mark.django_db(transaction=True)
def test_the_embedded_worker_grades_learners_round_robin(
    course, learner, other_learner, submit, monkeypatch, settings, worker
):
    settings.LAB_QUEUE_MAX_PER_LEARNER = 3
    graded = []
    monkeypatch.setattr(tasks, "_grade", lambda submission: graded.append(submission.pk) or "graded")
    module = course["01-hello"]
    a1, a2, a3 = (submit(learner, module) for _ in range(3))
    b1 = submit(other_learner, module)
    worker.start(threads=1)
    assert worker.join(timeout=30)
    assert graded == [a1.pk, b1.pk, a2.pk, a3.pk]


@pytest.mark.django_db(transaction=True)
def test_the_embedded_worker_requeues_unfinished_submissions_on_start(
    course, learner, submit, monkeypatch, worker
):
    queued = submit(learner, course["01-hello"])
    interrupted = submit(learner, course["01-hello"])
    Submission.objects.filter(pk=interrupted.pk).update(status="running", runs=1)
    graded = []
    monkeypatch.setattr(tasks, "_grade", lambda submission: graded.append((submission.pk, submission.runs)))
    worker.start(threads=1, recover=True)
    assert worker.join(timeout=30)
    assert graded == [(queued.pk, 1), (interrupted.pk, 2)]


@pytest.mark.django_db(transaction=True)
def test_the_embedded_worker_survives_a_failing_job(
    course, learner, other_learner, submit, monkeypatch, worker
):
    first, second = submit(learner, course["01-hello"]), submit(other_learner, course["01-hello"])
    graded = []

    def grade(submission):
        graded.append(submission.pk)
        if submission.pk == first.pk:
            raise RuntimeError("boom")
        return "graded"

    monkeypatch.setattr(tasks, "_grade", grade)
    worker.start(threads=1)
    assert worker.join(timeout=30)
    assert graded == [first.pk, second.pk]


@pytest.mark.django_db(transaction=True)
def test_the_embedded_worker_grades_a_short_run_while_a_long_one_is_going(
    course, learner, other_learner, submit, monkeypatch, worker
):
    module = course["01-hello"]
    module.metadata = {**module.metadata, "lane": "long"}
    module.save(update_fields=["metadata"])
    long = submit(learner, module)
    module.metadata = {**module.metadata, "lane": "short"}
    module.save(update_fields=["metadata"])
    long_started, short_done, graded = threading.Event(), threading.Event(), []

    def grade(submission):
        if submission.lane == "long":
            long_started.set()
            short_done.wait(30)  # the long run goes on until the short one has been graded
        graded.append(submission.pk)
        if submission.lane == "short":
            short_done.set()
        return "graded"

    monkeypatch.setattr(tasks, "_grade", grade)
    worker.start(threads=1)
    # Submit once the long run is being graded and the other lanes' first looks are over: the test database (SQLite
    # in memory, shared cache) refuses a write at once while another thread reads ("database table is locked").
    assert long_started.wait(30) and worker.join(timeout=30, lanes=["short", "gpu"])
    short = submit(other_learner, module)
    worker.wake("short")
    assert worker.join(timeout=60)
    assert graded == [short.pk, long.pk]


@pytest.mark.django_db(transaction=True)
def test_a_wake_up_makes_an_idle_embedded_worker_grade_a_new_run(
    course, learner, submit, monkeypatch, worker
):
    graded = []
    monkeypatch.setattr(tasks, "_grade", lambda submission: graded.append(submission.pk) or "graded")
    worker.start(threads=1)
    assert worker.join(timeout=30) and graded == []
    submission = submit(learner, course["01-hello"])
    worker.wake("short")
    assert worker.join(timeout=30)
    assert graded == [submission.pk]


def test_enqueue_wakes_the_embedded_worker_of_the_submissions_lane(course, learner, submit, monkeypatch):
    woken = []
    monkeypatch.setattr(tasks.embedded_worker, "wake", woken.append)
    tasks.enqueue(submit(learner, course["01-hello"]).pk)
    assert woken == ["short"]


# --- the web process's broker connection ---------------------------------------------------------------------------
def _broker_at(monkeypatch, url: str):
    from labplatform.celery import app

    monkeypatch.setattr(app.conf, "broker_url", url)
    monkeypatch.setattr(app, "_pool", None)  # a producer pool made for this URL, dropped after the test
    return app


def test_a_web_process_connects_to_the_broker_before_its_first_submit(monkeypatch):
    """A web process's first publish set up the producer and connected inside a learner's submit (0.40 s of
    0.56 s measured); ``publisher_warm`` does it at start, and the connection it made waits in the pool."""
    db = os.environ.get("LAB_TEST_REDIS_DB", "13")
    app = _broker_at(monkeypatch, f"redis://127.0.0.1:6379/{db}")
    try:
        assert tasks.publisher_warm() is True
        with app.producer_or_acquire() as producer:
            assert producer.connection.connected  # the warm one, taken back from the pool
    finally:
        app.pool.force_close_all()


def test_a_broker_that_is_away_costs_the_warm_up_nothing(monkeypatch):
    app = _broker_at(monkeypatch, "redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        assert tasks.publisher_warm() is False
    finally:
        app.pool.force_close_all()


def test_only_production_warms_a_publisher(settings, monkeypatch):
    started: list[str] = []
    monkeypatch.setattr(tasks.threading.Thread, "start", lambda self: started.append(self.name))
    settings.LAB_GRADING_QUEUE = "thread"
    tasks.publisher_warm_start()
    assert started == []
    settings.LAB_GRADING_QUEUE = "celery"
    tasks.publisher_warm_start()
    assert started == ["grading-publisher-warm"]
