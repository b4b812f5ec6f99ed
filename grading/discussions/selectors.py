"""Reads for discussions, including the ``access_thread_*`` authorization selectors (one condition per line).

Design choices:
- A question is seen (and answered) by everyone who may open its module; a review only by its author and
  instructors. Thread lists take a fixed number of queries (post counts annotated, authors joined).
- Post bodies leave the server only as HTML rendered by ``markdown_to_safe_html`` (nh3), never as raw HTML.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse

from grading.discussions.models import Post, Thread
from modules.models import Module
from modules.rendering import markdown_to_safe_html
from modules.selectors import access_module_unlocked, localize, user_is_instructor


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


# --- reads --------------------------------------------------------------------------------------------------------
def _threads() -> QuerySet[Thread]:
    """Threads with what list items show: author, module (without its payload), post count, mentor answered."""
    return (
        Thread.objects.select_related("author", "module")
        .defer("module__payload", "module__metadata")
        .annotate(
            n_posts=Count("posts"),
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


def review_queue(*, limit: int = 200) -> list[Thread]:
    """Open review requests of every module, oldest first: the mentors' to-do list (one query)."""
    qs = _threads().filter(
        kind=Thread.Kind.REVIEW, status=Thread.Status.OPEN, module__status=Module.Status.ACTIVE
    )
    return list(qs.order_by("created_at", "id")[:limit])


def _thread(thread_id: int) -> QuerySet[Thread]:
    return Thread.objects.select_related("module", "author").defer("module__payload").filter(pk=thread_id)


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
        "post_count": getattr(thread, "n_posts", None),
        "mentor_answered": getattr(thread, "mentor_answered", None),
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "url": f"{reverse('module-page', args=[thread.module.slug])}#thread-{thread.pk}",
        "api_url": reverse("api-thread-detail", args=[thread.pk]),
    }


def post_to_dict(post: Post) -> dict[str, Any]:
    return {
        "id": post.pk,
        "author": post.author.get_username(),
        "is_mentor": post.is_mentor,
        "body_html": markdown_to_safe_html(post.body),
        "created_at": post.created_at.isoformat(),
    }
