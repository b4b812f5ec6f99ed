"""The discussions JSON API: parse, authorize through ``access_thread_*``, call one service, respond.

Design choice: a thread the user may not see is 404 (as someone else's submission is): a review's existence is
not revealed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from grading.discussions import selectors, services
from grading.discussions.models import Post, Thread
from grading.similarity import selectors as similarity
from modules.api import ERROR_REF, AuthenticatedHttpRequest, AuthenticatedRequest, LabAPIView, request_lang
from modules.selectors import module_states
from modules.services import Forbidden, ServiceError, completion_needs_review


def thread_detail_data(*, user: Any, thread: Thread, lang: str) -> dict[str, Any]:
    """A thread with its posts and what ``user`` may do with it (``thread`` from ``selectors.thread_detail``)."""
    posts = [post for post in thread.posts.all() if selectors.access_post_view(user=user, post=post)]
    for post in posts:
        post.thread = thread  # the access checks read the thread; it is this one
    manage = selectors.access_review_manage(user=user, thread=thread)
    return {
        **selectors.thread_to_dict(thread, lang),
        "post_count": len(posts),
        "mentor_answered": any(post.is_mentor for post in posts),
        "posts": [selectors.post_to_dict(post, user=user) for post in posts],
        "can_reply": selectors.access_thread_reply(user=user, thread=thread) and not thread.locked,
        "can_resolve": selectors.access_thread_resolve(user=user, thread=thread),
        "can_moderate": selectors.access_thread_moderate(user=user, thread=thread),
        "review_url": reverse("mentor-review", args=[thread.pk]) if manage else None,
    }


class ThreadAPIView(LabAPIView):
    """Adds ``get_thread``: 404 for a missing thread and for one the user may not see."""

    def get_thread(self, thread_id: int, *, with_posts: bool = False) -> Thread:
        get = selectors.thread_detail if with_posts else selectors.thread_get
        thread = get(thread_id=thread_id)
        if thread is None or not selectors.access_thread_view(user=self.request.user, thread=thread):
            raise NotFound(_("no such thread"))
        return thread

    def detail_response(self, thread: Thread, *, created: bool = False) -> Response:
        """``thread`` as ``get_thread(..., with_posts=True)`` loaded it."""
        data = thread_detail_data(user=self.request.user, thread=thread, lang=request_lang(self.request))
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ThreadListView(ThreadAPIView):
    """``GET /api/modules/<slug>/threads/?kind=question|review`` -> ``{"threads": [thread ...]}`` (those the user
    may see, most recently active first); ``POST`` ``{"kind", "title", "body", "submission"?: id}`` -> 201 thread
    with posts."""

    openapi = {
        "get": {
            "parameters": [{"name": "kind", "in": "query", "schema": {"enum": ["question", "review"]}}],
            "responses": {200: "api.schema.json#/$defs/threads", 400: ERROR_REF},
        },
        "post": {
            "responses": {201: "api.schema.json#/$defs/thread_detail", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/thread_request",
        },
    }

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        kind = request.query_params.get("kind")
        if kind is not None:
            services.thread_kind_validate(kind)
        threads = selectors.thread_list_for_module(user=request.user, module=module, kind=kind)
        lang = request_lang(request)
        return Response({"threads": [selectors.thread_to_dict(t, lang) for t in threads]})

    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        body = request.data if isinstance(request.data, dict) else {}
        thread = services.thread_create(
            author=request.user,
            module=module,
            kind=body.get("kind"),
            title=body.get("title"),
            body=body.get("body"),
            submission=body.get("submission"),
        )
        return self.detail_response(self.get_thread(thread.pk, with_posts=True), created=True)


class ThreadDetailView(ThreadAPIView):
    """``GET /api/threads/<id>/`` -> thread with ``posts`` [{id, author, is_mentor, body_html, created_at}],
    ``can_reply``, ``can_resolve``."""

    openapi = {"get": {"responses": {200: "api.schema.json#/$defs/thread_detail"}}}

    def get(self, request: AuthenticatedRequest, thread_id: int) -> Response:
        return self.detail_response(self.get_thread(thread_id, with_posts=True))


class ThreadPostView(ThreadAPIView):
    """``POST /api/threads/<id>/posts/`` ``{"body"}`` -> 201 post."""

    openapi = {
        "post": {
            "responses": {201: "api.schema.json#/$defs/post", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/post_request",
        }
    }

    def post(self, request: AuthenticatedRequest, thread_id: int) -> Response:
        thread = self.get_thread(thread_id)
        if not selectors.access_thread_reply(user=request.user, thread=thread):
            raise NotFound(_("no such thread"))
        body = request.data if isinstance(request.data, dict) else {}
        post = services.post_create(author=request.user, thread=thread, body=body.get("body"))
        return Response(selectors.post_to_dict(post, user=request.user), status=status.HTTP_201_CREATED)


class ThreadModerateView(ThreadAPIView):
    """``POST /api/threads/<id>/moderate/`` ``{"action": pin|unpin|lock|unlock|accept|unaccept, "post"?: id}`` ->
    the thread (instructors; others 403)."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/thread_detail", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/moderate_request",
        }
    }

    def post(self, request: AuthenticatedRequest, thread_id: int) -> Response:
        thread = self.get_thread(thread_id)
        if not selectors.access_thread_moderate(user=request.user, thread=thread):
            raise Forbidden(_("only a mentor may moderate"), code="not_mentor")
        body = request.data if isinstance(request.data, dict) else {}
        services.thread_moderate(thread=thread, action=body.get("action"), post=body.get("post"))
        return self.detail_response(self.get_thread(thread_id, with_posts=True))


class PostAPIView(ThreadAPIView):
    def get_post(self, post_id: int) -> Post:
        """404 for a missing post and one the user may not see (nor its thread)."""
        post = selectors.post_get(post_id=post_id)
        if (
            post is None
            or not selectors.access_thread_view(user=self.request.user, thread=post.thread)
            or not selectors.access_post_view(user=self.request.user, post=post)
        ):
            raise NotFound(_("no such post"))
        return post


class PostEditView(PostAPIView):
    """``POST /api/posts/<id>/edit/`` ``{"body"}`` -> the post (its author, within ``LAB_POST_EDIT_SECONDS``;
    otherwise 403 ``edit_closed``)."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/post", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/post_request",
        }
    }

    def post(self, request: AuthenticatedRequest, post_id: int) -> Response:
        post = self.get_post(post_id)
        if not selectors.access_post_edit(user=request.user, post=post):
            raise Forbidden(_("this post can no longer be edited"), code="edit_closed")
        body = request.data if isinstance(request.data, dict) else {}
        post = services.post_edit(post=post, body=body.get("body"))
        return Response(selectors.post_to_dict(post, user=request.user))


class PostHideView(PostAPIView):
    """``POST /api/posts/<id>/hide/`` ``{"hidden": bool}`` -> the post (instructors; others 403)."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/post", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/hide_request",
        }
    }

    def post(self, request: AuthenticatedRequest, post_id: int) -> Response:
        post = self.get_post(post_id)
        if not selectors.access_thread_moderate(user=request.user, thread=post.thread):
            raise Forbidden(_("only a mentor may moderate"), code="not_mentor")
        body = request.data if isinstance(request.data, dict) else {}
        post = services.post_hide(post=post, hidden=body.get("hidden"))
        return Response(selectors.post_to_dict(post, user=request.user))


class ReviewAssignView(ThreadAPIView):
    """``POST /api/threads/<id>/assign/`` ``{"assignee": user id | null}`` -> the thread (mentors; others 403)."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/thread_detail", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/assign_request",
        }
    }

    def post(self, request: AuthenticatedRequest, thread_id: int) -> Response:
        thread = self.get_thread(thread_id)
        if not selectors.access_review_manage(user=request.user, thread=thread):
            raise Forbidden(_("only a mentor may assign a review"), code="not_mentor")
        body = request.data if isinstance(request.data, dict) else {}
        services.review_assign(thread=thread, assignee=body.get("assignee"))
        return self.detail_response(self.get_thread(thread_id, with_posts=True))


class ReviewVerdictView(ThreadAPIView):
    """``POST /api/threads/<id>/verdict/`` ``{"verdict": accepted|changes_requested, "rubric": {item: bool}}`` ->
    the thread (mentors; others 403)."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/thread_detail", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/verdict_request",
        }
    }

    def post(self, request: AuthenticatedRequest, thread_id: int) -> Response:
        thread = self.get_thread(thread_id)
        if not selectors.access_review_manage(user=request.user, thread=thread):
            raise Forbidden(_("only a mentor may judge a review"), code="not_mentor")
        body = request.data if isinstance(request.data, dict) else {}
        services.review_verdict_record(
            thread=thread, mentor=request.user, verdict=body.get("verdict"), rubric=body.get("rubric")
        )
        return self.detail_response(self.get_thread(thread_id, with_posts=True))


class ThreadResolveView(ThreadAPIView):
    """``POST /api/threads/<id>/resolve/`` -> the thread, now resolved (author or instructor; others 403)."""

    openapi = {"post": {"responses": {200: "api.schema.json#/$defs/thread_detail"}}}

    def post(self, request: AuthenticatedRequest, thread_id: int) -> Response:
        thread = self.get_thread(thread_id, with_posts=True)
        if not selectors.access_thread_resolve(user=request.user, thread=thread):
            raise Forbidden(_("only the author or a mentor may resolve this"), code="not_allowed")
        return self.detail_response(services.thread_resolve(thread=thread))


class ReviewQueueView(LabAPIView):
    """``GET /api/reviews/`` -> ``{"reviews": [thread ...]}``: open review requests, oldest first (instructors)."""

    openapi = {"get": {"responses": {200: "api.schema.json#/$defs/reviews"}}}

    def get(self, request: AuthenticatedRequest) -> Response:
        if not selectors.access_review_queue(user=request.user):
            raise Forbidden(_("the review queue is for mentors"), code="not_mentor")
        lang = request_lang(request)
        return Response({"reviews": [selectors.thread_to_dict(t, lang) for t in selectors.review_queue()]})


@login_required
def discussions_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/discussions/``: the threads of every module the learner can open, most recently active first, each
    linking to its module page (``#thread-<id>``), where it is read and answered."""
    lang = request_lang(request)
    open_ids = {s.module.pk for s in module_states(user=request.user) if s.state != "locked"}
    threads = selectors.thread_list_across_modules(user=request.user, open_module_ids=open_ids)
    return render(
        request,
        "discussions/discussions.html",
        {"threads": [selectors.thread_to_dict(t, lang) for t in threads]},
    )


# --- the mentors' pages -------------------------------------------------------------------------------------------
def _age_text(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    days, hours = divmod(hours, 24)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": rest // 60}
    return _("%(m)d min") % {"m": rest // 60}


@login_required
def mentor_queue_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/mentor/reviews/`` (``?mine=1``: those assigned to me): open review requests, oldest first, each with its
    age, module, learner, attempt, assignee and links to its diff against the reference and to the admin.
    ``POST`` ``thread``, ``assignee`` (a user id, ``me`` or empty) assigns one and comes back here."""
    if not selectors.access_review_queue(user=request.user):
        raise PermissionDenied
    if request.method == "POST":
        thread = selectors.thread_get(thread_id=_int(request.POST.get("thread")))
        if thread is None or not selectors.access_review_manage(user=request.user, thread=thread):
            raise Http404("no such review")
        raw = request.POST.get("assignee") or ""
        assignee = request.user.pk if raw == "me" else (_int(raw) if raw else None)
        services.review_assign(thread=thread, assignee=assignee)
        return redirect(request.get_full_path())
    mine = request.GET.get("mine") == "1"
    lang = request_lang(request)
    now = timezone.now()
    rows = [
        {
            **selectors.thread_to_dict(thread, lang),
            "age": _age_text((now - thread.created_at).total_seconds()),
            "assignee_id": thread.assignee_id,
            "mine": thread.assignee_id == request.user.pk,
            "review_url": reverse("mentor-review", args=[thread.pk]),
            "admin_url": reverse("admin:discussions_thread_change", args=[thread.pk]),
            "attempt_status": _attempt_status(thread),
        }
        for thread in selectors.review_queue(assignee=request.user if mine else None)
    ]
    return render(
        request,
        "discussions/mentor_queue.html",
        {"rows": rows, "mine": mine, "mentors": selectors.mentors_list()},
    )


def _attempt_status(thread: Thread) -> str | None:
    submission = thread.submission
    if submission is None:
        return None
    result = getattr(submission, "result", None)
    return result.status if result is not None else submission.status


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("no such review") from None


@login_required
def mentor_review_page(request: AuthenticatedHttpRequest, thread_id: int) -> HttpResponse:
    """``/mentor/reviews/<id>/``: one review request: the attempt side by side with the reference, the rubric and
    the verdict form. ``POST`` ``verdict`` and ``rubric-<item>`` (checked: met) records the verdict."""
    thread = selectors.thread_detail(thread_id=thread_id)
    if thread is None or not selectors.access_review_manage(user=request.user, thread=thread):
        raise Http404("no such review")
    lang = request_lang(request)
    rubric = selectors.review_rubric(module=thread.module, lang=lang)
    error = None
    if request.method == "POST":
        answers = {item["id"]: request.POST.get(f"rubric-{item['id']}") == "met" for item in rubric}
        try:
            services.review_verdict_record(
                thread=thread, mentor=request.user, verdict=request.POST.get("verdict"), rubric=answers
            )
        except ServiceError as exc:
            error = exc.message
        else:
            return redirect(reverse("mentor-review", args=[thread.pk]))
    submission = thread.submission
    return render(
        request,
        "discussions/mentor_review.html",
        {
            "thread": thread,
            "data": selectors.thread_to_dict(thread, lang),
            "rubric": [{**item, "met": bool((thread.rubric or {}).get(item["id"]))} for item in rubric],
            "error": error,
            "files": similarity.submission_vs_reference(submission=submission) if submission else [],
            "learner": thread.author.get_username(),
            "admin_url": reverse("admin:discussions_thread_change", args=[thread.pk]),
            "needs_review": completion_needs_review(module=thread.module),
            "material_html": selectors.review_material_html(thread=thread),
        },
    )
