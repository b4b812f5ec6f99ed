"""Moderation (pin, lock, hide, accepted answer, the author's edit window), mentor work (notifications, the queue
page, assignment, turnaround) and the capstone rule (completed only with an accepted review) through their
endpoints, against the personas."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from platform_helpers import pass_result

from grading.discussions.models import Post, Thread
from grading.discussions.selectors import review_rubric, review_turnaround
from grading.milestones.models import Notification
from modules.models import Progress

pytestmark = pytest.mark.django_db

THREADS = "/api/modules/01-hello/threads/"


def ask(persona) -> dict:
    response = persona.post_json(THREADS, {"kind": "question", "title": "Why?", "body": "Because?"})
    assert response.status_code == 201, response.content
    return response.json()


def review_of(persona, submission_id: int) -> dict:
    response = persona.post_json(
        THREADS, {"kind": "review", "title": "Review me", "body": "Please", "submission": submission_id}
    )
    assert response.status_code == 201, response.content
    return response.json()


def reply(persona, thread_id: int, body: str = "An answer"):
    return persona.post_json(f"/api/threads/{thread_id}/posts/", {"body": body})


# --- moderation ---------------------------------------------------------------------------------------------------
def test_an_instructor_pins_a_thread_and_it_is_listed_first(course, learner, instructor):
    first = ask(learner)
    ask(learner)
    response = instructor.post_json(f"/api/threads/{first['id']}/moderate/", {"action": "pin"})
    assert response.status_code == 200 and response.json()["pinned"] is True
    listed = learner.get_json(THREADS).json()["threads"]
    assert listed[0]["id"] == first["id"]


def test_a_locked_thread_takes_no_new_posts(course, learner, other_learner, instructor):
    thread = ask(learner)
    instructor.post_json(f"/api/threads/{thread['id']}/moderate/", {"action": "lock"})
    response = reply(other_learner, thread["id"])
    assert response.status_code == 409 and response.json()["code"] == "thread_locked"
    assert learner.get_json(f"/api/threads/{thread['id']}/").json()["can_reply"] is False
    instructor.post_json(f"/api/threads/{thread['id']}/moderate/", {"action": "unlock"})
    assert reply(other_learner, thread["id"]).status_code == 201


def test_a_hidden_post_is_seen_only_by_its_author_and_instructors(course, learner, other_learner, instructor):
    thread = ask(learner)
    post_id = reply(other_learner, thread["id"], "spam spam").json()["id"]
    response = instructor.post_json(f"/api/posts/{post_id}/hide/", {"hidden": True})
    assert response.status_code == 200 and response.json()["hidden"] is True
    seen_by = {
        name: [p["id"] for p in persona.get_json(f"/api/threads/{thread['id']}/").json()["posts"]]
        for name, persona in (("learner", learner), ("author", other_learner), ("instructor", instructor))
    }
    assert post_id not in seen_by["learner"]
    assert post_id in seen_by["author"] and post_id in seen_by["instructor"]
    marked = [
        p for p in instructor.get_json(f"/api/threads/{thread['id']}/").json()["posts"] if p["id"] == post_id
    ]
    assert marked[0]["hidden"] is True


def test_an_instructor_marks_the_accepted_answer(course, learner, other_learner, instructor):
    thread = ask(learner)
    post_id = reply(other_learner, thread["id"]).json()["id"]
    response = instructor.post_json(
        f"/api/threads/{thread['id']}/moderate/", {"action": "accept", "post": post_id}
    )
    assert response.status_code == 200 and response.json()["accepted_post"] == post_id
    # hiding the accepted answer clears it
    instructor.post_json(f"/api/posts/{post_id}/hide/", {"hidden": True})
    assert Thread.objects.get(pk=thread["id"]).accepted_post is None


def test_moderation_rejects_bad_input_and_learners(course, learner, instructor):
    thread = ask(learner)
    url = f"/api/threads/{thread['id']}/moderate/"
    assert instructor.post_json(url, {"action": "explode"}).status_code == 400
    assert instructor.post_json(url, {"action": "accept", "post": 999999}).status_code == 400
    assert learner.post_json(url, {"action": "pin"}).status_code == 403
    post_id = thread["posts"][0]["id"]
    assert learner.post_json(f"/api/posts/{post_id}/hide/", {"hidden": True}).status_code == 403
    assert instructor.post_json(f"/api/posts/{post_id}/hide/", {"hidden": "yes"}).status_code == 400
    assert instructor.post_json("/api/threads/999999/moderate/", {"action": "pin"}).status_code == 404


def test_an_author_edits_a_post_within_the_window_only(course, learner, other_learner, settings):
    settings.LAB_POST_EDIT_SECONDS = 900
    thread = ask(learner)
    post_id = thread["posts"][0]["id"]
    assert thread["posts"][0]["can_edit"] is True and thread["posts"][0]["body"] == "Because?"
    seen = other_learner.get_json(f"/api/threads/{thread['id']}/").json()["posts"][0]
    assert seen["can_edit"] is False and seen["body"] is None
    response = learner.post_json(f"/api/posts/{post_id}/edit/", {"body": "Because **why**?"})
    assert response.status_code == 200 and "<strong>why</strong>" in response.json()["body_html"]
    assert response.json()["edited_at"] is not None
    assert other_learner.post_json(f"/api/posts/{post_id}/edit/", {"body": "mine now"}).status_code == 403
    Post.objects.filter(pk=post_id).update(created_at=timezone.now() - timedelta(seconds=901))
    late = learner.post_json(f"/api/posts/{post_id}/edit/", {"body": "too late"})
    assert late.status_code == 403 and late.json()["code"] == "edit_closed"


# --- mentor work --------------------------------------------------------------------------------------------------
def test_a_mentor_reply_notifies_the_learner_as_a_mentor_reply(course, learner, instructor, submit, hello):
    thread = review_of(learner, submit(learner, hello).pk)
    reply(instructor, thread["id"], "Look at the comma")
    note = Notification.objects.get(user=learner.user)
    assert note.kind == "mentor_reply" and note.title["en"] == "A mentor replied: Review me"
    assert note.url == f"/modules/01-hello/#thread-{thread['id']}"


def test_assigning_a_review_notifies_the_mentor_who_then_hears_of_replies(
    course, learner, instructor, submit, hello
):
    thread = review_of(learner, submit(learner, hello).pk)
    response = instructor.post_json(f"/api/threads/{thread['id']}/assign/", {"assignee": instructor.user.pk})
    assert response.status_code == 200 and response.json()["assignee"] == "prof"
    assert Notification.objects.filter(user=instructor.user, key__startswith="review-assigned:").exists()
    reply(learner, thread["id"], "I added a test")
    assert Notification.objects.filter(user=instructor.user, kind="reply").count() == 1


def test_a_review_is_assigned_only_to_a_mentor(course, learner, other_learner, instructor, submit, hello):
    thread = review_of(learner, submit(learner, hello).pk)
    url = f"/api/threads/{thread['id']}/assign/"
    assert instructor.post_json(url, {"assignee": other_learner.user.pk}).status_code == 400
    assert (
        learner.post_json(url, {"assignee": instructor.user.pk}).status_code == 403
    )  # their own review, which they may not assign
    question = ask(learner)
    assert (
        instructor.post_json(f"/api/threads/{question['id']}/assign/", {"assignee": None}).status_code == 403
    )


def test_the_queue_page_lists_reviews_and_assigns_them(course, learner, instructor, submit, hello):
    thread = review_of(learner, submit(learner, hello).pk)
    page = instructor.get("/mentor/reviews/").content.decode()
    assert (
        f'data-thread="{thread["id"]}"' in page
        and f"/admin/discussions/thread/{thread['id']}/change/" in page
    )
    assert f"/mentor/reviews/{thread['id']}/" in page
    response = instructor.post("/mentor/reviews/?mine=1", {"thread": thread["id"], "assignee": "me"})
    assert response.status_code == 302
    mine = instructor.get("/mentor/reviews/?mine=1").content.decode()
    assert 'data-testid="assigned-to-me"' in mine and f'data-thread="{thread["id"]}"' in mine
    assert learner.get("/mentor/reviews/").status_code == 403


def test_the_review_page_shows_the_attempt_against_the_reference(course, learner, instructor, submit, hello):
    thread = review_of(learner, submit(learner, hello, 'def greet(name):\n    return "Hi " + name\n').pk)
    page = instructor.get(f"/mentor/reviews/{thread['id']}/").content.decode()
    assert "return &quot;Hi &quot; + name" in page and "return f&quot;Hello, {name}!&quot;" in page
    assert learner.get(f"/mentor/reviews/{thread['id']}/").status_code == 404


SUMMARY = "## Probes\n\n| question | expect | before | after |\n|---|---|---|---|\n| Who made you? | Karpathy | miss | hit |\n"


def _with_material(module, test_id: str) -> None:
    module.metadata = {**module.metadata, "review_material": {"test": test_id}}
    module.save(update_fields=["metadata"])


def _graded(submit, persona, module, output: str, visibility: str = "visible"):
    from grading.services import verdict_record

    submission = submit(persona, module)
    result = pass_result(module.slug)
    result["tests"][0]["output"], result["tests"][0]["visibility"] = output, visibility
    verdict_record(submission_id=submission.pk, result=result)
    return submission


def test_the_review_page_shows_what_the_run_wrote_for_review_beside_the_rubric(
    course, learner, instructor, submit, hello
):
    _with_material(hello, "visible/test_hello.py::test_greet_greets_by_name")
    thread = review_of(learner, _graded(submit, learner, hello, SUMMARY + "<script>alert(1)</script>").pk)
    page = instructor.get(f"/mentor/reviews/{thread['id']}/").content.decode()
    material = page.split('data-testid="review-material"', 1)[1].split("</section>", 1)[0]
    assert "<table>" in material and "<td>Who made you?</td>" in material and "<td>hit</td>" in material
    assert "<script>" not in material  # learner output is sanitised
    assert page.index('data-testid="verdict-form"') < page.index('data-testid="review-material"')


def test_the_review_page_shows_no_material_without_the_test_or_from_a_hidden_one(
    course, learner, instructor, submit, hello
):
    plain = review_of(learner, _graded(submit, learner, hello, SUMMARY).pk)
    assert (
        'data-testid="review-material"'
        not in instructor.get(f"/mentor/reviews/{plain['id']}/").content.decode()
    )
    _with_material(hello, "visible/test_hello.py::test_greet_greets_by_name")
    hidden = review_of(learner, _graded(submit, learner, hello, SUMMARY, visibility="hidden").pk)
    page = instructor.get(f"/mentor/reviews/{hidden['id']}/").content.decode()
    assert 'data-testid="review-material"' not in page


def test_review_turnaround_measures_request_to_first_mentor_reply(course, learner, instructor, submit, hello):
    answered = review_of(learner, submit(learner, hello).pk)
    review_of(learner, submit(learner, hello).pk)  # never answered
    reply(learner, answered["id"], "bump")  # the learner's own reply does not count
    Thread.objects.filter(pk=answered["id"]).update(created_at=timezone.now() - timedelta(hours=2))
    reply(instructor, answered["id"])
    turnaround = review_turnaround()
    assert turnaround.requests == 2 and turnaround.answered == 1
    assert 7190 < turnaround.median_seconds < 7300
    assert review_turnaround(since=timezone.now() + timedelta(days=1)).requests == 0


# --- the capstone rule --------------------------------------------------------------------------------------------
def needs_review(module) -> None:
    module.metadata = {**module.metadata, "gates": {"accepted_review": True}}
    module.save(update_fields=["metadata"])


def test_a_module_that_needs_a_review_is_completed_only_once_one_is_accepted(
    course, hello, learner, instructor, pass_module
):
    needs_review(hello)
    submission = pass_module(learner, hello)
    answers = {
        q["id"]: (q["choices"][0]["id"] if q["kind"] == "choice" else "because")
        for q in hello.payload["reflection"]
    }
    assert learner.post_json("/api/modules/01-hello/reflection/", {"answers": answers}).status_code in (
        200,
        201,
    )
    assert Progress.objects.get(user=learner.user, module=hello).status == "passed"
    thread = review_of(learner, submission.pk)
    rubric_ids = [item["id"] for item in review_rubric(module=hello, lang="en")]
    verdict = f"/api/threads/{thread['id']}/verdict/"
    changes = instructor.post_json(
        verdict, {"verdict": "changes_requested", "rubric": {i: False for i in rubric_ids}}
    )
    assert changes.status_code == 200 and changes.json()["verdict"] == "changes_requested"
    assert Progress.objects.get(user=learner.user, module=hello).status == "passed"
    unmet = instructor.post_json(verdict, {"verdict": "accepted", "rubric": {i: False for i in rubric_ids}})
    assert unmet.status_code == 400 and unmet.json()["code"] == "rubric_unmet"
    accepted = instructor.post_json(verdict, {"verdict": "accepted", "rubric": {i: True for i in rubric_ids}})
    assert accepted.status_code == 200
    progress = Progress.objects.get(user=learner.user, module=hello)
    assert progress.status == "completed" and progress.review_accepted_at is not None
    assert Notification.objects.filter(
        user=learner.user, title__en="Your review was accepted: Review me"
    ).exists()
    assert learner.post_json(verdict, {"verdict": "accepted", "rubric": {}}).status_code == 403


def test_an_accepted_review_before_the_reflection_completes_at_the_reflection(
    course, hello, learner, instructor, pass_module
):
    needs_review(hello)
    submission = pass_module(learner, hello)
    thread = review_of(learner, submission.pk)
    rubric = {item["id"]: True for item in review_rubric(module=hello, lang="en")}
    instructor.post_json(f"/api/threads/{thread['id']}/verdict/", {"verdict": "accepted", "rubric": rubric})
    assert Progress.objects.get(user=learner.user, module=hello).status == "passed"
    answers = {
        q["id"]: (q["choices"][0]["id"] if q["kind"] == "choice" else "because")
        for q in hello.payload["reflection"]
    }
    learner.post_json("/api/modules/01-hello/reflection/", {"answers": answers})
    assert Progress.objects.get(user=learner.user, module=hello).status == "completed"


def test_a_module_without_the_gate_completes_on_pass_and_reflection(course, hello, learner, pass_module):
    pass_module(learner, hello)
    answers = {
        q["id"]: (q["choices"][0]["id"] if q["kind"] == "choice" else "because")
        for q in hello.payload["reflection"]
    }
    learner.post_json("/api/modules/01-hello/reflection/", {"answers": answers})
    assert Progress.objects.get(user=learner.user, module=hello).status == "completed"


def test_the_capstone_asks_for_an_accepted_review():
    from pathlib import Path

    from modules import spec

    capstone = spec.load(Path(__file__).resolve().parents[2] / "content" / "16-capstone")
    assert capstone.gates.get("accepted_review") is True
