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
from modules.services import Conflict, InvalidInput, RateLimited, text_validate

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
    posts = list(thread.posts.order_by("created_at", "id").values_list("body", flat=True))
    search.thread_index(module=thread.module, thread_id=thread.pk, title=thread.title, posts=posts)


def post_create(*, author: User, thread: Thread, body: Any) -> Post:
    """Reply to ``thread`` (the caller checked ``access_thread_reply``); the thread moves to the top of lists."""
    body = _post_body_validate(body)
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
        thread_search_index(thread=thread)
    return post


def thread_resolve(*, thread: Thread) -> Thread:
    """Mark ``thread`` resolved (idempotent; the caller checked ``access_thread_resolve``)."""
    if thread.status != Thread.Status.RESOLVED:
        thread.status = Thread.Status.RESOLVED
        thread.updated_at = timezone.now()
        thread.save(update_fields=["status", "updated_at"])
    return thread
