"""Discussions and mentor review: every endpoint against the personas (anonymous, learner, other learner,
instructor), with happy path, wrong method, auth, ownership, bad input, missing object and locked module.

Fixture course: ``01-hello`` is open to every learner, ``02-next`` is locked until 01-hello passes.
"""

from __future__ import annotations

import pytest

from grading.discussions.models import Post, Thread
from modules.services import module_unlock

pytestmark = pytest.mark.django_db

THREADS = "/api/modules/01-hello/threads/"
LOCKED_THREADS = "/api/modules/02-next/threads/"
REVIEWS = "/api/reviews/"


def detail(thread_id: int) -> str:
    return f"/api/threads/{thread_id}/"


def posts(thread_id: int) -> str:
    return f"/api/threads/{thread_id}/posts/"


def resolve(thread_id: int) -> str:
    return f"/api/threads/{thread_id}/resolve/"


def ask(persona, title: str = "Why f-strings?", body: str = "Is `format` fine too?") -> dict:
    response = persona.post_json(THREADS, {"kind": "question", "title": title, "body": body})
    assert response.status_code == 201, response.content
    return response.json()


def request_review(persona, submission_id: int, body: str = "Is my greet idiomatic?") -> dict:
    response = persona.post_json(
        THREADS, {"kind": "review", "title": "Review my attempt", "body": body, "submission": submission_id}
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def question(course, learner) -> dict:
    return ask(learner)


@pytest.fixture
def review(course, learner, submit, hello) -> dict:
    return request_review(learner, submit(learner, hello).pk)


# --- creating threads ---------------------------------------------------------------------------------------------
def test_it_opens_a_question_with_its_first_post(course, learner):
    body = ask(learner)
    assert body["kind"] == "question" and body["status"] == "open" and body["author"] == "ada"
    assert body["module"] == "01-hello" and body["submission"] is None
    assert body["url"] == f"/modules/01-hello/#thread-{body['id']}"
    assert [p["author"] for p in body["posts"]] == ["ada"]
    assert body["posts"][0]["body_html"] == "<p>Is <code>format</code> fine too?</p>"
    assert body["posts"][0]["is_mentor"] is False
    assert body["can_reply"] is True and body["can_resolve"] is True


def test_it_opens_a_review_of_the_learners_own_attempt(course, learner, submit, hello):
    submission = submit(learner, hello)
    body = request_review(learner, submission.pk)
    assert body["kind"] == "review" and body["submission"] == submission.pk


def test_it_refuses_a_second_review_of_the_same_attempt(course, learner, submit, hello):
    submission = submit(learner, hello)
    request_review(learner, submission.pk)
    response = learner.post_json(
        THREADS, {"kind": "review", "title": "Again", "body": "please", "submission": submission.pk}
    )
    assert response.status_code == 409 and response.json()["code"] == "review_exists"


def test_it_rejects_a_review_of_someone_elses_attempt(course, learner, other_learner, submit, hello):
    theirs = submit(other_learner, hello)
    response = learner.post_json(
        THREADS, {"kind": "review", "title": "Mine?", "body": "look", "submission": theirs.pk}
    )
    assert response.status_code == 400 and response.json()["code"] == "submission_invalid"
    assert not Thread.objects.exists()


def test_it_rejects_a_review_of_an_attempt_on_another_module(course, learner, submit):
    module_unlock(user=learner.user, module=course["02-next"], reason="instructor")
    elsewhere = submit(learner, course["02-next"])
    response = learner.post_json(
        THREADS, {"kind": "review", "title": "Wrong module", "body": "look", "submission": elsewhere.pk}
    )
    assert response.status_code == 400 and response.json()["code"] == "submission_invalid"


@pytest.mark.parametrize("submission", [None, "12", True, 987654])
def test_it_rejects_a_review_without_a_valid_attempt_id(course, learner, submission):
    response = learner.post_json(
        THREADS, {"kind": "review", "title": "t", "body": "b", "submission": submission}
    )
    assert response.status_code == 400 and response.json()["code"] == "submission_invalid"


def test_it_rejects_a_question_that_names_an_attempt(course, learner, submit, hello):
    submission = submit(learner, hello)
    response = learner.post_json(
        THREADS, {"kind": "question", "title": "t", "body": "b", "submission": submission.pk}
    )
    assert response.status_code == 400 and response.json()["code"] == "submission_invalid"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"kind": "rant", "title": "t", "body": "b"}, "kind_invalid"),
        ({"title": "t", "body": "b"}, "kind_invalid"),
        ({"kind": "question", "title": "  ", "body": "b"}, "title_invalid"),
        ({"kind": "question", "title": "x" * 201, "body": "b"}, "too_large"),
        ({"kind": "question", "title": "t", "body": ""}, "body_invalid"),
        ({"kind": "question", "title": "t", "body": "   \n"}, "body_invalid"),
        ({"kind": "question", "title": "t", "body": 42}, "body_invalid"),
        ({"kind": "question", "title": "t", "body": "x" * 10_001}, "too_large"),
        ({"kind": "question", "title": "t", "body": "a\x00b"}, "binary_text"),
    ],
)
def test_it_rejects_a_bad_thread(course, learner, payload, code):
    response = learner.post_json(THREADS, payload)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Thread.objects.exists()


def test_it_accepts_a_body_of_exactly_the_maximum_size(course, learner):
    assert (
        learner.post_json(THREADS, {"kind": "question", "title": "t", "body": "x" * 10_000}).status_code
        == 201
    )


def test_the_body_cap_is_the_operators_setting_and_errors_speak_the_learners_language(
    course, learner, settings
):
    settings.LAB_POST_MAX_CHARS = 20
    response = learner.post_json(
        THREADS, {"kind": "question", "title": "t", "body": "x" * 21}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert (response.status_code, response.json()["code"]) == (400, "too_large")
    assert response.json()["detail"] == "一个帖子最多 20 个字符"
    assert learner.post_json(THREADS, {"kind": "question", "title": "t", "body": "x" * 20}).status_code == 201


def test_it_rejects_a_malformed_thread_body(course, learner):
    response = learner.post(THREADS, b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Thread.objects.exists()


def test_it_rate_limits_posts_per_author(course, learner, other_learner, settings):
    settings.LAB_POSTS_PER_MINUTE = 2
    thread = ask(learner)
    assert learner.post_json(posts(thread["id"]), {"body": "one more"}).status_code == 201
    response = learner.post_json(posts(thread["id"]), {"body": "and another"})
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert other_learner.post_json(posts(thread["id"]), {"body": "me too"}).status_code == 201


# --- listing ------------------------------------------------------------------------------------------------------
def test_it_lists_questions_to_every_learner_but_reviews_only_to_their_author(
    course, learner, other_learner, question, review
):
    mine = {t["id"] for t in learner.get(THREADS).json()["threads"]}
    theirs = {t["id"] for t in other_learner.get(THREADS).json()["threads"]}
    assert mine == {question["id"], review["id"]}
    assert theirs == {question["id"]}


def test_it_lists_every_review_to_instructors(course, instructor, question, review):
    listed = {t["id"] for t in instructor.get(f"{THREADS}?kind=review").json()["threads"]}
    assert listed == {review["id"]}


def test_it_filters_the_list_by_kind(course, learner, question, review):
    questions = learner.get(f"{THREADS}?kind=question").json()["threads"]
    reviews = learner.get(f"{THREADS}?kind=review").json()["threads"]
    assert [t["id"] for t in questions] == [question["id"]]
    assert [t["id"] for t in reviews] == [review["id"]]


def test_it_rejects_an_unknown_kind_filter(course, learner):
    response = learner.get(f"{THREADS}?kind=rant")
    assert response.status_code == 400 and response.json()["code"] == "kind_invalid"


def test_it_lists_the_most_recently_active_thread_first_with_its_post_count(course, learner, other_learner):
    first = ask(learner, title="first")
    second = ask(learner, title="second")
    other_learner.post_json(posts(first["id"]), {"body": "an answer"})
    listed = learner.get(THREADS).json()["threads"]
    assert [t["id"] for t in listed] == [first["id"], second["id"]]
    assert [t["post_count"] for t in listed] == [2, 1]


def test_it_lists_threads_in_one_fixed_number_of_queries(
    course, learner, other_learner, submit, hello, django_assert_num_queries
):
    for i in range(4):
        thread = ask(learner, title=f"q{i}")
        other_learner.post_json(posts(thread["id"]), {"body": "reply"})
    request_review(learner, submit(learner, hello).pk)
    # session + user + group check + module + threads
    with django_assert_num_queries(5):
        response = learner.get(THREADS)
    assert len(response.json()["threads"]) == 5


def test_it_refuses_thread_lists_to_anonymous(course, anonymous):
    assert anonymous.get(THREADS).status_code == 403
    assert anonymous.post_json(THREADS, {"kind": "question", "title": "t", "body": "b"}).status_code == 403


def test_it_refuses_threads_of_a_locked_module(course, learner):
    response = learner.get(LOCKED_THREADS)
    assert response.status_code == 403 and response.json()["detail"] == "this module is locked"
    response = learner.post_json(LOCKED_THREADS, {"kind": "question", "title": "t", "body": "b"})
    assert response.status_code == 403


def test_it_answers_404_for_threads_of_a_missing_or_retired_module(course, learner):
    assert learner.get("/api/modules/77-missing/threads/").status_code == 404
    course["01-hello"].status = "retired"
    course["01-hello"].save(update_fields=["status"])
    assert learner.get(THREADS).status_code == 404


def test_it_rejects_wrong_methods_on_thread_lists(course, learner):
    assert learner.put_json(THREADS, {}).status_code == 405
    assert learner.delete(THREADS).status_code == 405


# --- detail -------------------------------------------------------------------------------------------------------
def test_other_learners_see_a_question_and_may_reply_but_not_resolve(course, other_learner, question):
    body = other_learner.get(detail(question["id"])).json()
    assert body["title"] == "Why f-strings?"
    assert body["can_reply"] is True and body["can_resolve"] is False


def test_other_learners_cannot_see_a_review(course, other_learner, review):
    assert other_learner.get(detail(review["id"])).status_code == 404


def test_instructors_see_a_review_and_may_resolve_it(course, instructor, review):
    body = instructor.get(detail(review["id"])).json()
    assert body["kind"] == "review" and body["can_reply"] is True and body["can_resolve"] is True


def test_it_answers_404_for_a_missing_thread(course, learner):
    assert learner.get(detail(424242)).status_code == 404
    assert learner.post_json(posts(424242), {"body": "hi"}).status_code == 404
    assert learner.post_json(resolve(424242), {}).status_code == 404


def test_it_hides_a_question_on_a_module_the_learner_cannot_open(course, learner, instructor):
    response = instructor.post_json(LOCKED_THREADS, {"kind": "question", "title": "t", "body": "b"})
    assert response.status_code == 201
    thread_id = response.json()["id"]
    assert learner.get(detail(thread_id)).status_code == 404
    assert learner.post_json(posts(thread_id), {"body": "hi"}).status_code == 404


def test_it_hides_threads_of_a_retired_module(course, learner, question):
    course["01-hello"].status = "retired"
    course["01-hello"].save(update_fields=["status"])
    assert learner.get(detail(question["id"])).status_code == 404


def test_it_refuses_thread_details_to_anonymous(course, anonymous, question):
    assert anonymous.get(detail(question["id"])).status_code == 403


def test_it_rejects_wrong_methods_on_a_thread(course, learner, question):
    assert learner.post_json(detail(question["id"]), {}).status_code == 405
    assert learner.delete(detail(question["id"])).status_code == 405


def test_it_shows_a_thread_with_its_posts_in_a_fixed_number_of_queries(
    course, learner, other_learner, question, django_assert_num_queries
):
    for i in range(5):
        other_learner.post_json(posts(question["id"]), {"body": f"reply {i}"})
    # session + user + thread (module, author joined) + posts (authors joined) + group check (cached per request)
    with django_assert_num_queries(5):
        response = learner.get(detail(question["id"]))
    assert response.json()["post_count"] == 6


# --- markdown -----------------------------------------------------------------------------------------------------
def test_it_sanitizes_markdown_in_posts(course, learner, other_learner, question):
    response = other_learner.post_json(
        posts(question["id"]),
        {"body": "**ok** <script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3))"},
    )
    html = response.json()["body_html"]
    assert "<strong>ok</strong>" in html
    assert "<script" not in html and "alert(1)" not in html
    assert "onerror" not in html and "javascript:" not in html
    shown = learner.get(detail(question["id"])).json()["posts"][-1]["body_html"]
    assert shown == html


# --- replies ------------------------------------------------------------------------------------------------------
def test_any_learner_may_reply_to_a_question(course, learner, other_learner, question):
    response = other_learner.post_json(posts(question["id"]), {"body": "Both work."})
    assert response.status_code == 201
    assert response.json()["author"] == "bo" and response.json()["is_mentor"] is False
    assert [p["author"] for p in learner.get(detail(question["id"])).json()["posts"]] == ["ada", "bo"]


def test_other_learners_cannot_reply_to_a_review(course, other_learner, review):
    assert other_learner.post_json(posts(review["id"]), {"body": "sneaky"}).status_code == 404
    assert Post.objects.count() == 1


def test_an_instructors_reply_is_flagged_as_a_mentor_post(course, learner, instructor, review):
    response = instructor.post_json(posts(review["id"]), {"body": "Nice: use `str.title()` next."})
    assert response.status_code == 201 and response.json()["is_mentor"] is True
    body = learner.get(detail(review["id"])).json()
    assert [p["is_mentor"] for p in body["posts"]] == [False, True]
    assert body["mentor_answered"] is True


def test_it_rejects_a_bad_reply(course, learner, question):
    assert learner.post_json(posts(question["id"]), {"body": ""}).status_code == 400
    assert learner.post_json(posts(question["id"]), {"body": "x" * 10_001}).status_code == 400
    assert (
        learner.post(posts(question["id"]), b"{not json", content_type="application/json").status_code == 400
    )
    assert learner.post_json(posts(question["id"]), ["body"]).status_code == 400
    assert Post.objects.count() == 1


def test_it_refuses_replies_to_anonymous(course, anonymous, question):
    assert anonymous.post_json(posts(question["id"]), {"body": "hi"}).status_code == 403


def test_it_rejects_wrong_methods_on_replies(course, learner, question):
    assert learner.get(posts(question["id"])).status_code == 405


# --- resolving ----------------------------------------------------------------------------------------------------
def test_the_author_may_resolve_a_question(course, learner, question):
    response = learner.post_json(resolve(question["id"]), {})
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    assert Thread.objects.get(pk=question["id"]).status == "resolved"


def test_other_learners_cannot_resolve_a_question(course, other_learner, question):
    response = other_learner.post_json(resolve(question["id"]), {})
    assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert Thread.objects.get(pk=question["id"]).status == "open"


def test_other_learners_cannot_resolve_a_review_they_cannot_see(course, other_learner, review):
    assert other_learner.post_json(resolve(review["id"]), {}).status_code == 404


def test_an_instructor_may_resolve_any_question(course, instructor, question):
    assert instructor.post_json(resolve(question["id"]), {}).json()["status"] == "resolved"


def test_resolving_twice_keeps_the_thread_resolved(course, learner, question):
    learner.post_json(resolve(question["id"]), {})
    response = learner.post_json(resolve(question["id"]), {})
    assert response.status_code == 200 and response.json()["status"] == "resolved"


def test_it_refuses_resolving_to_anonymous(course, anonymous, question):
    assert anonymous.post_json(resolve(question["id"]), {}).status_code == 403


def test_it_rejects_wrong_methods_on_resolve(course, learner, question):
    assert learner.get(resolve(question["id"])).status_code == 405


# --- the mentors' queue -------------------------------------------------------------------------------------------
def test_it_lists_open_reviews_oldest_first_to_instructors(
    course, learner, other_learner, instructor, submit, hello, question
):
    older = request_review(learner, submit(learner, hello).pk)
    newer = request_review(other_learner, submit(other_learner, hello).pk)
    done = request_review(learner, submit(learner, hello).pk)
    instructor.post_json(resolve(done["id"]), {})
    instructor.post_json(posts(newer["id"]), {"body": "bumps updated_at, not the queue order"})
    reviews = instructor.get(REVIEWS).json()["reviews"]
    assert [r["id"] for r in reviews] == [older["id"], newer["id"]]
    assert [r["mentor_answered"] for r in reviews] == [False, True]
    assert reviews[0]["url"] == f"/modules/01-hello/#thread-{older['id']}"


def test_it_refuses_the_review_queue_to_learners(course, learner, review):
    response = learner.get(REVIEWS)
    assert response.status_code == 403 and response.json()["code"] == "not_mentor"


def test_it_refuses_the_review_queue_to_anonymous(course, anonymous):
    assert anonymous.get(REVIEWS).status_code == 403


def test_it_rejects_wrong_methods_on_the_review_queue(course, instructor):
    assert instructor.post_json(REVIEWS, {}).status_code == 405


def test_it_lists_the_review_queue_in_one_fixed_number_of_queries(
    course, learner, other_learner, instructor, submit, hello, django_assert_num_queries
):
    for persona in (learner, other_learner, learner):
        thread = request_review(persona, submit(persona, hello).pk)
        instructor.post_json(posts(thread["id"]), {"body": "see inline"})
    # session + user + group check + threads
    with django_assert_num_queries(4):
        response = instructor.get(REVIEWS)
    assert len(response.json()["reviews"]) == 3


# --- admin --------------------------------------------------------------------------------------------------------
def test_instructors_find_threads_and_their_posts_in_the_admin(course, instructor, review):
    changelist = instructor.get("/admin/discussions/thread/?kind__exact=review&status__exact=open")
    assert changelist.status_code == 200
    assert "Review my attempt" in changelist.content.decode()
    change = instructor.get(f"/admin/discussions/thread/{review['id']}/change/")
    assert change.status_code == 200
    assert "Is my greet idiomatic?" in change.content.decode()


def test_learners_cannot_open_threads_in_the_admin(course, learner, review):
    assert learner.get("/admin/discussions/thread/").status_code == 302
