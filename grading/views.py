"""The module page and the grading JSON API: parse, authorize through ``access_*``, call one service, respond.

Design choice: the module page lives here, on floor 2, because it composes module data (floor 1) with the
learner's attempts (grading); the modules app never imports grading.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from grading import selectors, services
from modules import selectors as module_selectors
from modules.api import LabAPIView, request_lang
from modules.views import module_detail_data


@login_required
def module_page(request: HttpRequest, slug: str) -> HttpResponse:
    """``/modules/<slug>/``: renders ``modules/module_detail.html`` with ``page_data``:

    ``user`` {username, is_instructor}; ``lang``; ``module`` {slug, order, title, summary, goals, prerequisites,
    state, limits, runtime, content_hash}; ``guide_html`` (sanitised HTML); ``steps`` [{id, title}]; ``files``
    [{path, starter, draft (str|null), language}]; ``next_module`` {slug, title, url} | null; ``hints`` {revealed: [{id, step, level, text}], levels: [int]};
    ``reflection`` {questions: [{id, kind, prompt, choices: [{id, text}]}], answers: {qid: answer} | null};
    ``attempts`` [{id, status, created_at, finished_at, result {status, outcome, score, max_score} | null, url}];
    ``reference_available`` bool; ``ws_url`` ("/ws/grading/", a path: prefix ws(s)://host); ``api`` {module, draft,
    submissions, submission_detail ("/api/submissions/{id}/" — replace {id}), reference, hints_reveal, reflection,
    notes, lint, format}; ``urls`` {dashboard, logout, setlang}; ``csrf_token``.
    Locked modules answer 403, unknown or retired ones 404.
    """
    module = module_selectors.module_get(slug=slug)
    if module is None or not module_selectors.access_module_visible(user=request.user, module=module):
        raise Http404(_("no such module"))
    if not module_selectors.access_module_unlocked(user=request.user, module=module):
        raise DjangoPermissionDenied(_("this module is locked"))
    lang = request_lang(request)
    user = request.user
    state = module_selectors.module_state(user=user, module=module)
    reflection = module_selectors.reflection_get(user=user, module=module)
    page_data = {
        "user": {"username": user.get_username(), "is_instructor": module_selectors.user_is_instructor(user)},
        "lang": lang,
        **module_detail_data(user=user, module=module, lang=lang, state=state),
        "hints": {
            "revealed": module_selectors.hints_revealed(user=user, module=module, lang=lang),
            "levels": module_selectors.hint_levels(module=module),
        },
        "reflection": {
            "questions": module_selectors.reflection_questions(module=module, lang=lang),
            "answers": reflection.answers if reflection else None,
        },
        "attempts": [
            selectors.submission_summary(s) for s in selectors.submissions_for(user=user, module=module)
        ],
        "reference_available": module_selectors.access_module_reference(user=user, module=module),
        "ws_url": "/ws/grading/",
        "api": {
            "module": reverse("api-module-detail", args=[slug]),
            "draft": reverse("api-module-draft", args=[slug]),
            "submissions": reverse("api-module-submissions", args=[slug]),
            "submission_detail": "/api/submissions/{id}/",
            "reference": reverse("api-module-reference", args=[slug]),
            "hints_reveal": reverse("api-module-hints-reveal", args=[slug]),
            "reflection": reverse("api-module-reflection", args=[slug]),
            "notes": reverse("api-notes"),
            "lint": reverse("api-tools-lint"),
            "format": reverse("api-tools-format"),
        },
        "urls": {
            "dashboard": reverse("dashboard"),
            "logout": reverse("logout"),
            "setlang": reverse("set_language"),
        },
        "csrf_token": get_token(request),
    }
    return render(request, "modules/module_detail.html", {"page_data": page_data})


class SubmissionListView(LabAPIView):
    """``GET /api/modules/<slug>/submissions/`` -> ``{"submissions": [attempt ...]}`` (newest first);
    ``POST`` ``{"files": {path: text}}`` -> 201 ``{"id", "status": "queued"}``."""

    def get(self, request: Request, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        rows = selectors.submissions_for(user=request.user, module=module)
        return Response({"submissions": [selectors.submission_summary(s) for s in rows]})

    def post(self, request: Request, slug: str) -> Response:
        module = self.get_module(slug)
        body = request.data if isinstance(request.data, dict) else {}
        submission = services.submission_create(user=request.user, module=module, files=body.get("files"))
        return Response({"id": submission.pk, "status": submission.status}, status=status.HTTP_201_CREATED)


class SubmissionDetailView(LabAPIView):
    """``GET /api/submissions/<id>/`` -> ``{id, module, status, created_at, started_at, finished_at, content_hash,
    files, result (schema-1 JSON | null), advice [{id, advice}], events [engine event ...]}``."""

    def get(self, request: Request, submission_id: int) -> Response:
        submission = selectors.submission_get(submission_id=submission_id)
        if submission is None or not selectors.access_submission(user=request.user, submission=submission):
            raise NotFound(_("no such submission"))
        instructor = submission.user_id != request.user.pk
        detail = selectors.submission_detail(
            submission=submission, lang=request_lang(request), for_instructor=instructor
        )
        return Response(detail)


class LintView(LabAPIView):
    """``POST /api/tools/lint/`` ``{"path", "text"}`` -> ``{"diagnostics": [{code, message, line, column, end_line,
    end_column, severity, fixable}]}``."""

    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        return Response({"diagnostics": services.code_lint(path=body.get("path"), text=body.get("text"))})


class FormatView(LabAPIView):
    """``POST /api/tools/format/`` ``{"path", "text"}`` -> ``{"text": formatted}``; 400 ``format_failed`` on syntax
    errors."""

    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        return Response({"text": services.code_format(path=body.get("path"), text=body.get("text"))})
