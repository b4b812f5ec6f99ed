"""The grading JSON API (parse, authorize through ``access_*``, call one service, respond) and the learner's
measurements page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from grading import gradebook, selectors, services
from modules import selectors as module_selectors
from modules.api import ERROR_REF, AuthenticatedHttpRequest, AuthenticatedRequest, LabAPIView, request_lang
from modules.services import Conflict, Forbidden, InvalidInput


class SubmissionListView(LabAPIView):
    """``GET /api/modules/<slug>/submissions/`` -> ``{"submissions": [attempt ...]}`` (newest first);
    ``POST`` ``{"files": {path: text}}`` -> 201 ``{"id", "status": "queued"}``."""

    openapi = {
        "get": {"responses": {200: "submission-list.schema.json"}},
        "post": {
            "responses": {201: "api.schema.json#/$defs/submission_created", 400: ERROR_REF, 429: ERROR_REF},
            "request": "api.schema.json#/$defs/files_request",
        },
    }

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        rows = selectors.submissions_for(user=request.user, module=module)
        return Response({"submissions": [selectors.submission_summary(s) for s in rows]})

    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        body = request.data if isinstance(request.data, dict) else {}
        submission = services.submission_create(user=request.user, module=module, files=body.get("files"))
        return Response({"id": submission.pk, "status": submission.status}, status=status.HTTP_201_CREATED)


class SubmissionDetailView(LabAPIView):
    """``GET /api/submissions/<id>/`` -> ``{id, module, status, created_at, started_at, finished_at, content_hash,
    files, result (schema-1 JSON | null), advice [{id, advice}], events [engine event ...]}``."""

    openapi = {"get": {"responses": {200: "submission-detail.schema.json"}}}

    def get(self, request: AuthenticatedRequest, submission_id: int) -> Response:
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

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/lint", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/code_request",
        }
    }

    def post(self, request: AuthenticatedRequest) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        return Response({"diagnostics": services.code_lint(path=body.get("path"), text=body.get("text"))})


class FormatView(LabAPIView):
    """``POST /api/tools/format/`` ``{"path", "text"}`` -> ``{"text": formatted}``; 400 ``format_failed`` on syntax
    errors."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/format", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/code_request",
        }
    }

    def post(self, request: AuthenticatedRequest) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        return Response({"text": services.code_format(path=body.get("path"), text=body.get("text"))})


class ReferenceView(LabAPIView):
    """``GET /api/modules/<slug>/reference/`` -> ``{"files": {path: text}, "steps": {step: {open, why, versions,
    needed}}}``: the reference, step by step (``modules.gates``). A step opens once its tests pass, or after
    ``needed`` different versions of its code; closed steps are cut as in the starter. 403 ``reference_locked``
    while no step is open (an untouched starter never opens anything)."""

    openapi = {"get": {"responses": {200: "api.schema.json#/$defs/reference"}}}

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        gate = selectors.reference_gate(user=request.user, module=module)
        if not gate.any_open:
            needed = next(iter(gate.steps.values())).needed if gate.steps else 0
            raise Forbidden(
                _(
                    "the reference opens per step: when its tests pass, or after %(n)d attempts that change its code"
                )
                % {"n": needed},
                code="reference_locked",
            )
        files = selectors.reference_files(user=request.user, module=module, gate=gate)
        return Response({"files": files, "steps": {s: g.as_dict() for s, g in gate.steps.items()}})


class SubmissionExportView(LabAPIView):
    """``GET /api/submissions/<id>/export/?as=gradescope|exercism|prairielearn`` -> the graded result in that
    autograder's ``results.json`` format (``grading.engine.exporters``); same access as the submission detail;
    400 ``format_invalid``, 409 ``not_graded`` while the run has no result. (``?format=`` is DRF's renderer
    override, hence ``as``.)"""

    openapi = {
        "get": {
            "responses": {
                200: {
                    "application/json": {
                        "schema": {"type": "object", "description": "results.json of the format"}
                    }
                },
                400: ERROR_REF,
                409: ERROR_REF,
            }
        }
    }

    def get(self, request: AuthenticatedRequest, submission_id: int) -> Response:
        submission = selectors.submission_get(submission_id=submission_id)
        if submission is None or not selectors.access_submission(user=request.user, submission=submission):
            raise NotFound(_("no such submission"))
        export_format = request.query_params.get("as", "")
        if export_format not in selectors.EXPORT_FORMATS:
            raise InvalidInput(
                _("unknown export format; use one of: %(formats)s")
                % {"formats": ", ".join(selectors.EXPORT_FORMATS)},
                code="format_invalid",
            )
        exported = selectors.submission_export(
            submission=submission,
            export_format=export_format,
            for_instructor=submission.user_id != request.user.pk,
        )
        if exported is None:
            raise Conflict(_("this submission has no result yet"), code="not_graded")
        return Response(exported)


class GradebookView(LabAPIView):
    """``GET /api/instructor/gradebook.csv`` -> every learner's standing in every active module as CSV
    (``grading.gradebook``); instructors only, others 403 ``not_instructor``."""

    openapi = {
        "get": {
            "responses": {
                200: {
                    "text/csv": {
                        "schema": {"type": "string", "description": "columns: grading.gradebook.COLUMNS"}
                    }
                }
            }
        }
    }

    def get(self, request: AuthenticatedRequest) -> HttpResponse:
        if not selectors.access_gradebook(user=request.user):
            raise Forbidden(_("the gradebook is for instructors"), code="not_instructor")
        response = HttpResponse(
            gradebook.gradebook_csv(gradebook.gradebook_rows()), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="gradebook.csv"'
        return response


# --- pages --------------------------------------------------------------------------------------------------------
@login_required
@require_GET
def measurements_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/measurements/``: the learner's own measurements per module beside the reference's plots. Renders
    ``grading/measurements.html`` with ``page_data`` (``page-measurements.schema.json``): ``user``, ``lang``,
    ``csrf_token`` and ``selectors.measurements_for``'s ``modules`` and ``producers``."""
    lang = request_lang(request)
    page_data = {
        "user": {
            "username": request.user.get_username(),
            "is_instructor": module_selectors.user_is_instructor(request.user),
        },
        "lang": lang,
        "csrf_token": get_token(request),
        **selectors.measurements_for(user=request.user, lang=lang),
    }
    return render(request, "grading/measurements.html", {"page_data": page_data})
