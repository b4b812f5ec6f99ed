"""Writes for discussions: open a thread (a question, or a review request for one of the author's attempts),
reply, resolve.

Design choices:
- Keyword-only arguments; invalid input raises the ``ServiceError`` subclasses of ``modules.services``, which the
  API answers with their HTTP status.
- Every post (a thread's first one included) passes ``_post_body_validate`` (text, at most ``LAB_POST_MAX_CHARS``)
  and a per-author rate limit (``LAB_POSTS_PER_MINUTE``), both settings read at call time. Authorization (who
  may see, reply, resolve) is the caller's ``access_thread_*`` question, not repeated here.
- A review request notifies the mentors, a reply the thread's author (``grading.milestones``), in the same
  transaction as the post.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grading.discussions.models import Post, Thread
from grading.milestones import services as milestones
from grading.models import Submission
from modules import search
from modules.models import Module
from modules.selectors import user_is_instructor
from modules.services import Conflict, InvalidInput, RateLimited, progress_review_accept, text_validate

THREAD_TITLE_MAX_CHARS = 200


def _post_body_validate(body: Any) -> str:
    return text_validate(
        body,
        max_chars=settings.LAB_POST_MAX_CHARS,
        empty=_("a post needs some text"),
        empty_code="body_invalid",
        too_long=_("a post holds at most %(max)d characters"),
    )


def _post_rate_check(*, author: User) -> None:
    """At most ``LAB_POSTS_PER_MINUTE`` posts a minute per author (call inside the writing transaction)."""
    limit = settings.LAB_POSTS_PER_MINUTE
    since = timezone.now() - timedelta(seconds=60)
    if Post.objects.filter(author=author, created_at__gte=since).count() >= limit:
        raise RateLimited(_("at most %(n)d posts a minute; try again shortly") % {"n": limit})


def _review_submission(*, author: User, module: Module, submission: Any) -> Submission:
    """The author's own attempt on ``module`` with id ``submission``."""
    if isinstance(submission, bool) or not isinstance(submission, int):
        raise InvalidInput(_("a review needs the id of one of your attempts"), code="submission_invalid")
    row = Submission.objects.filter(pk=submission, user=author, module=module).first()
    if row is None:
        raise InvalidInput(_("that is not one of your attempts on this module"), code="submission_invalid")
    return row


def thread_kind_validate(kind: Any) -> str:
    """``question`` or ``review`` (a new thread's kind, or a list filter), else 400 ``kind_invalid``."""
    if kind not in Thread.Kind.values:
        raise InvalidInput(_("kind must be question or review"), code="kind_invalid")
    return str(kind)


def thread_create(
    *, author: User, module: Module, kind: Any, title: Any, body: Any, submission: Any = None
) -> Thread:
    """Open a question, or a review request for one of the author's attempts, with its first post."""
    thread_kind_validate(kind)
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput(_("a thread needs a title"), code="title_invalid")
    if len(title.strip()) > THREAD_TITLE_MAX_CHARS:
        raise InvalidInput(
            _("a title holds at most %(max)d characters") % {"max": THREAD_TITLE_MAX_CHARS}, code="too_large"
        )
    body = _post_body_validate(body)
    if kind == Thread.Kind.QUESTION and submission is not None:
        raise InvalidInput(_("only a review refers to an attempt"), code="submission_invalid")
    attempt = (
        _review_submission(author=author, module=module, submission=submission)
        if kind == Thread.Kind.REVIEW
        else None
    )
    with transaction.atomic():
        _post_rate_check(author=author)
        if attempt is not None and Thread.objects.filter(submission=attempt).exists():
            raise Conflict(_("a review of this attempt was already requested"), code="review_exists")
        now = timezone.now()
        thread = Thread.objects.create(
            module=module,
            author=author,
            title=title.strip(),
            kind=kind,
            submission=attempt,
            created_at=now,
            updated_at=now,
        )
        Post.objects.create(
            thread=thread, author=author, body=body, is_mentor=user_is_instructor(author), created_at=now
        )
        if thread.kind == Thread.Kind.REVIEW:
            milestones.review_request_notify(
                thread_id=thread.pk, author=author, module_slug=module.slug, title=thread.title
            )
        thread_search_index(thread=thread)
    return thread


def thread_search_index(*, thread: Thread) -> None:
    """Put a question thread (title and posts) into global search; review requests are private and never are."""
    if thread.kind != Thread.Kind.QUESTION:
        return
    posts = list(
        thread.posts.filter(hidden=False).order_by("created_at", "id").values_list("body", flat=True)
    )
    search.thread_index(module=thread.module, thread_id=thread.pk, title=thread.title, posts=posts)


def post_create(*, author: User, thread: Thread, body: Any) -> Post:
    """Reply to ``thread`` (the caller checked ``access_thread_reply``); the thread moves to the top of lists. A
    locked thread takes no new posts."""
    body = _post_body_validate(body)
    if thread.locked:
        raise Conflict(_("this thread is locked: it takes no new posts"), code="thread_locked")
    with transaction.atomic():
        _post_rate_check(author=author)
        now = timezone.now()
        post = Post.objects.create(
            thread=thread, author=author, body=body, is_mentor=user_is_instructor(author), created_at=now
        )
        thread.updated_at = now
        thread.save(update_fields=["updated_at"])
        milestones.reply_notify(
            thread_id=thread.pk,
            module_slug=thread.module.slug,
            thread_author=thread.author,
            replier=author,
            is_mentor=post.is_mentor,
            post_id=post.pk,
            title=thread.title,
        )
        if thread.assignee is not None and thread.assignee_id not in (author.pk, thread.author_id):
            # the mentor who took a review hears of every reply in it
            milestones.reply_notify(
                thread_id=thread.pk,
                module_slug=thread.module.slug,
                thread_author=thread.assignee,
                replier=author,
                is_mentor=post.is_mentor,
                post_id=post.pk,
                title=thread.title,
            )
        thread_search_index(thread=thread)
    return post


def post_edit(*, post: Post, body: Any) -> Post:
    """Replace a post's text (the caller checked ``access_post_edit``: its author, within
    ``LAB_POST_EDIT_SECONDS`` of posting)."""
    body = _post_body_validate(body)
    post.body = body
    post.edited_at = timezone.now()
    with transaction.atomic():
        post.save(update_fields=["body", "edited_at"])
        thread_search_index(thread=post.thread)
    return post


# --- moderation (the caller checked ``access_thread_moderate``) ---------------------------------------------------
MODERATION_ACTIONS = ("pin", "unpin", "lock", "unlock", "accept", "unaccept")


def thread_moderate(*, thread: Thread, action: Any, post: Any = None) -> Thread:
    """Pin or unpin, lock or unlock ``thread``, or mark ``post`` (an id of one of its visible posts) as the accepted
    answer (``unaccept`` clears it)."""
    if action not in MODERATION_ACTIONS:
        raise InvalidInput(
            _("action must be one of: %(actions)s") % {"actions": ", ".join(MODERATION_ACTIONS)},
            code="action_invalid",
        )
    fields: list[str] = []
    if action in ("pin", "unpin"):
        thread.pinned = action == "pin"
        fields.append("pinned")
    elif action in ("lock", "unlock"):
        thread.locked = action == "lock"
        fields.append("locked")
    elif action == "accept":
        if isinstance(post, bool) or not isinstance(post, int):
            raise InvalidInput(_("name the post to accept"), code="post_invalid")
        answer = Post.objects.filter(pk=post, thread=thread, hidden=False).first()
        if answer is None:
            raise InvalidInput(_("that is not a visible post of this thread"), code="post_invalid")
        thread.accepted_post = answer
        fields.append("accepted_post")
    else:
        thread.accepted_post = None
        fields.append("accepted_post")
    thread.save(update_fields=fields)
    return thread


def post_hide(*, post: Post, hidden: Any) -> Post:
    """Hide a post from everyone but its author and instructors (or show it again); a hidden accepted answer stops
    being the accepted one."""
    if not isinstance(hidden, bool):
        raise InvalidInput("hidden must be true or false", code="hidden_invalid")
    with transaction.atomic():
        post.hidden = hidden
        post.save(update_fields=["hidden"])
        if hidden:
            Thread.objects.filter(pk=post.thread_id, accepted_post=post).update(accepted_post=None)
        thread_search_index(thread=post.thread)
    return post


# --- mentor review (the caller checked ``access_review_manage``) --------------------------------------------------
def review_assign(*, thread: Thread, assignee: Any) -> Thread:
    """Give review ``thread`` to the mentor with id ``assignee`` (None: nobody); the new assignee is notified."""
    if thread.kind != Thread.Kind.REVIEW:
        raise InvalidInput(_("only a review request is assigned"), code="not_review")
    mentor = None
    if assignee is not None:
        if isinstance(assignee, bool) or not isinstance(assignee, int):
            raise InvalidInput(_("name a mentor to assign"), code="assignee_invalid")
        mentor = User.objects.filter(pk=assignee, is_active=True).first()
        if mentor is None or not user_is_instructor(mentor):
            raise InvalidInput(_("only a mentor can take a review"), code="assignee_invalid")
    with transaction.atomic():
        thread.assignee = mentor
        thread.save(update_fields=["assignee"])
        if mentor is not None:
            milestones.review_assigned_notify(
                thread_id=thread.pk, mentor=mentor, module_slug=thread.module.slug, title=thread.title
            )
    return thread


def review_verdict_record(*, thread: Thread, mentor: User, verdict: Any, rubric: Any) -> Thread:
    """A mentor's verdict on a review: ``accepted`` (every rubric item met) or ``changes_requested``, with the rubric
    ``{item id: met}``. An acceptance counts for the module's completion where its gates ask for one
    (``modules.services.progress_review_accept``); the learner is notified."""
    from grading.discussions.selectors import review_rubric

    if thread.kind != Thread.Kind.REVIEW:
        raise InvalidInput(_("only a review request gets a verdict"), code="not_review")
    if verdict not in (Thread.Verdict.ACCEPTED, Thread.Verdict.CHANGES_REQUESTED):
        raise InvalidInput(_("verdict must be accepted or changes_requested"), code="verdict_invalid")
    items = {item["id"] for item in review_rubric(module=thread.module, lang="en")}
    if (
        not isinstance(rubric, dict)
        or set(rubric) != items
        or not all(isinstance(v, bool) for v in rubric.values())
    ):
        raise InvalidInput(_("the rubric needs a yes or no for every item"), code="rubric_invalid")
    if verdict == Thread.Verdict.ACCEPTED and not all(rubric.values()):
        raise InvalidInput(_("a review is accepted only when every rubric item is met"), code="rubric_unmet")
    now = timezone.now()
    with transaction.atomic():
        thread.verdict, thread.rubric, thread.reviewed_by, thread.reviewed_at = verdict, rubric, mentor, now
        thread.updated_at = now
        thread.save(update_fields=["verdict", "rubric", "reviewed_by", "reviewed_at", "updated_at"])
        if verdict == Thread.Verdict.ACCEPTED:
            progress_review_accept(user=thread.author, module=thread.module)
        milestones.review_verdict_notify(
            thread_id=thread.pk,
            learner=thread.author,
            module_slug=thread.module.slug,
            title=thread.title,
            accepted=verdict == Thread.Verdict.ACCEPTED,
        )
    return thread


def thread_resolve(*, thread: Thread) -> Thread:
    """Mark ``thread`` resolved (idempotent; the caller checked ``access_thread_resolve``)."""
    if thread.status != Thread.Status.RESOLVED:
        thread.status = Thread.Status.RESOLVED
        thread.updated_at = timezone.now()
        thread.save(update_fields=["status", "updated_at"])
    return thread
