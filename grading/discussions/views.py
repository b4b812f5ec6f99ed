"""The discussions JSON API: parse, authorize through ``access_thread_*``, call one service, respond.

Design choice: a thread the user may not see is 404 (as someone else's submission is): a review's existence is
not revealed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from grading.discussions import selectors, services
from grading.discussions.models import Thread
from modules.api import ERROR_REF, AuthenticatedHttpRequest, AuthenticatedRequest, LabAPIView, request_lang
from modules.selectors import module_states
from modules.services import Forbidden


def thread_detail_data(*, user: Any, thread: Thread, lang: str) -> dict[str, Any]:
    """A thread with its posts and what ``user`` may do with it (``thread`` from ``selectors.thread_detail``)."""
    posts = list(thread.posts.all())
    return {
        **selectors.thread_to_dict(thread, lang),
        "post_count": len(posts),
        "mentor_answered": any(post.is_mentor for post in posts),
        "posts": [selectors.post_to_dict(post) for post in posts],
        "can_reply": selectors.access_thread_reply(user=user, thread=thread),
        "can_resolve": selectors.access_thread_resolve(user=user, thread=thread),
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
        return Response(selectors.post_to_dict(post), status=status.HTTP_201_CREATED)


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
