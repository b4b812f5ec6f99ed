"""Reads for discussions, including the ``access_thread_*`` authorization selectors (one condition per line).

Design choices:
- A question is seen (and answered) by everyone who may open its module; a review only by its author and
  instructors. Thread lists take a fixed number of queries (post counts annotated, authors joined).
- Post bodies leave the server only as HTML rendered by ``markdown_to_safe_html`` (nh3), never as raw HTML.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from grading.discussions.models import Post, Thread
from modules.models import Module
from modules.rendering import markdown_to_safe_html
from modules.roles import INSTRUCTOR_GROUP
from modules.selectors import access_module_unlocked, localize, module_spec_of, user_is_instructor


# --- authorization ------------------------------------------------------------------------------------------------
def access_thread_view(*, user: User | AnonymousUser, thread: Thread) -> bool:
    if not access_module_unlocked(user=user, module=thread.module):
        return False
    if thread.kind == Thread.Kind.QUESTION:
        return True
    if thread.author_id == user.pk:
        return True
    return user_is_instructor(user)


def access_thread_reply(*, user: User | AnonymousUser, thread: Thread) -> bool:
    """Whoever may see a thread may answer it (resolved threads included: a late "thanks" is fine)."""
    return access_thread_view(user=user, thread=thread)


def access_thread_resolve(*, user: User | AnonymousUser, thread: Thread) -> bool:
    if not access_thread_view(user=user, thread=thread):
        return False
    if thread.author_id == user.pk:
        return True
    return user_is_instructor(user)


def access_review_queue(*, user: User | AnonymousUser) -> bool:
    return user_is_instructor(user)


def access_thread_moderate(*, user: User | AnonymousUser, thread: Thread) -> bool:
    """Pin, lock, hide posts, accept an answer: instructors."""
    if not access_thread_view(user=user, thread=thread):
        return False
    return user_is_instructor(user)


def access_review_manage(*, user: User | AnonymousUser, thread: Thread) -> bool:
    """Assign a review, record its verdict: instructors (mentors)."""
    if thread.kind != Thread.Kind.REVIEW:
        return False
    return user_is_instructor(user)


def access_post_view(*, user: User | AnonymousUser, post: Post) -> bool:
    """A hidden post is seen by its author and instructors only (the thread's access is checked apart)."""
    if not post.hidden:
        return True
    if post.author_id == user.pk:
        return True
    return user_is_instructor(user)


def access_post_edit(*, user: User | AnonymousUser, post: Post, now: datetime | None = None) -> bool:
    """Its author, within ``LAB_POST_EDIT_SECONDS`` of posting, in a thread that is not locked."""
    if post.author_id != user.pk:
        return False
    if post.thread.locked:
        return False
    now = now or timezone.now()
    return now - post.created_at <= timedelta(seconds=settings.LAB_POST_EDIT_SECONDS)


# --- reads --------------------------------------------------------------------------------------------------------
def _threads() -> QuerySet[Thread]:
    """Threads with what list items show: author, module (without its payload), post count, mentor answered."""
    return (
        Thread.objects.select_related("author", "module", "assignee")
        .defer("module__payload", "module__metadata")
        .annotate(
            n_posts=Count("posts", filter=Q(posts__hidden=False)),
            mentor_answered=Exists(Post.objects.filter(thread=OuterRef("pk"), is_mentor=True)),
        )
    )


def thread_list_for_module(
    *, user: User, module: Module, kind: str | None = None, limit: int = 200
) -> list[Thread]:
    """The module's threads ``user`` may see, most recently active first (one query)."""
    qs = _threads().filter(module=module)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if not user_is_instructor(user):
        qs = qs.filter(Q(kind=Thread.Kind.QUESTION) | Q(author=user))
    return list(qs[:limit])


def thread_list_across_modules(*, user: User, open_module_ids: set[int], limit: int = 100) -> list[Thread]:
    """Threads of every module ``user`` can open (``open_module_ids``) that they may see, most recently active
    first (one query): questions, and their own review requests (instructors: every review request too)."""
    qs = _threads().filter(module_id__in=open_module_ids, module__status=Module.Status.ACTIVE)
    if not user_is_instructor(user):
        qs = qs.filter(Q(kind=Thread.Kind.QUESTION) | Q(author=user))
    return list(qs[:limit])


def review_queue(*, limit: int = 200, assignee: User | None = None) -> list[Thread]:
    """Open review requests of every module, oldest first: the mentors' to-do list (one query); only those given
    to ``assignee`` when named."""
    qs = _threads().filter(
        kind=Thread.Kind.REVIEW, status=Thread.Status.OPEN, module__status=Module.Status.ACTIVE
    )
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    return list(
        qs.select_related("assignee", "submission__result")
        .defer("submission__files")
        .order_by("created_at", "id")[:limit]
    )


def mentors_list() -> list[User]:
    """Active instructors and superusers: who a review may be assigned to."""
    return list(
        User.objects.filter(Q(is_superuser=True) | Q(groups__name=INSTRUCTOR_GROUP), is_active=True)
        .distinct()
        .order_by("username")
    )


def review_rubric(*, module: Module, lang: str) -> list[dict[str, str]]:
    """What a mentor checks before accepting a review of ``module``: its goals (``g1``...) and its reflection's
    open questions (by their ids), each ``{id, text}`` in ``lang``."""
    goals = localize(module.metadata.get("goals") or {}, lang) or []
    items = [{"id": f"g{n}", "text": str(text)} for n, text in enumerate(goals, 1)]
    for question in (module.payload or {}).get("reflection", []):
        if question.get("kind") == "text":
            items.append({"id": str(question["id"]), "text": str(localize(question.get("prompt"), lang))})
    return items


def review_material_html(*, thread: Thread) -> str:
    """What the reviewed attempt's run wrote for its reviewer, as safe HTML ("" when there is none): the output of
    the module's ``review_material`` test in that attempt's result (the capstone's summary and probe table). Only a
    visible test's output counts; hidden tests keep none."""
    test_id = module_spec_of(module=thread.module).review_material
    result = getattr(thread.submission, "result", None) if thread.submission_id else None
    if not test_id or result is None:
        return ""
    for test in (result.result or {}).get("tests", []):
        if test.get("id") == test_id and test.get("visibility") == "visible" and test.get("output"):
            return markdown_to_safe_html(str(test["output"]))
    return ""


@dataclass(frozen=True)
class Turnaround:
    """Review turnaround: from a request to the first reply of a mentor other than its author."""

    requests: int  # review requests opened in the period
    answered: int  # of which a mentor has answered
    median_seconds: float | None
    p90_seconds: float | None


def review_turnaround(
    *, since: datetime | None = None, until: datetime | None = None, module: Module | None = None
) -> Turnaround:
    """Turnaround of the review requests opened in ``[since, until)`` (of ``module``, when named): how many, how
    many a mentor answered, the median and 90th percentile of request → first mentor reply, in seconds (one
    query)."""
    first_reply = (
        Post.objects.filter(thread=OuterRef("pk"), is_mentor=True)
        .exclude(author=OuterRef("author"))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    qs = Thread.objects.filter(kind=Thread.Kind.REVIEW)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if module is not None:
        qs = qs.filter(module=module)
    rows = list(qs.annotate(first_reply=Subquery(first_reply)).values_list("created_at", "first_reply"))
    waits = sorted((reply - asked).total_seconds() for asked, reply in rows if reply is not None)
    return Turnaround(
        requests=len(rows),
        answered=len(waits),
        median_seconds=statistics.median(waits) if waits else None,
        p90_seconds=waits[min(len(waits) - 1, int(0.9 * len(waits)))] if waits else None,
    )


def _thread(thread_id: int) -> QuerySet[Thread]:
    return Thread.objects.select_related("module", "author", "assignee").filter(pk=thread_id)


def thread_get(*, thread_id: int) -> Thread | None:
    """One thread with its module (for the access checks), without posts."""
    return _thread(thread_id).first()


def thread_detail(*, thread_id: int) -> Thread | None:
    """One thread with its module and its posts (authors joined) in two queries."""
    posts = Prefetch("posts", queryset=Post.objects.select_related("author"))
    return _thread(thread_id).prefetch_related(posts).first()


def thread_to_dict(thread: Thread, lang: str) -> dict[str, Any]:
    """A thread in lists; ``post_count`` and ``mentor_answered`` need the annotations of ``_threads``."""
    return {
        "id": thread.pk,
        "module": thread.module.slug,
        "module_title": localize(thread.module.title, lang),
        "kind": thread.kind,
        "title": thread.title,
        "status": thread.status,
        "author": thread.author.get_username(),
        "submission": thread.submission_id,
        "pinned": thread.pinned,
        "locked": thread.locked,
        "accepted_post": thread.accepted_post_id,
        "assignee": thread.assignee.get_username() if thread.assignee_id and thread.assignee else None,
        "verdict": thread.verdict or None,
        "post_count": getattr(thread, "n_posts", None),
        "mentor_answered": getattr(thread, "mentor_answered", None),
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "url": f"{reverse('module-page', args=[thread.module.slug])}#thread-{thread.pk}",
        "api_url": reverse("api-thread-detail", args=[thread.pk]),
    }


def post_to_dict(post: Post, *, user: User | AnonymousUser | None = None) -> dict[str, Any]:
    """A post; with ``user``, also whether they may still edit it (and then its Markdown, ``body``, to edit)."""
    can_edit = access_post_edit(user=user, post=post) if user is not None else False
    return {
        "id": post.pk,
        "author": post.author.get_username(),
        "is_mentor": post.is_mentor,
        "hidden": post.hidden,
        "body_html": markdown_to_safe_html(post.body),
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "can_edit": can_edit,
        "body": post.body if can_edit else None,
    }


def post_get(*, post_id: int) -> Post | None:
    return (
        Post.objects.select_related("thread__module", "thread__author", "author").filter(pk=post_id).first()
    )
