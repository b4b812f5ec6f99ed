"""Milestone endpoints: the bell (list, mark read), study heartbeats, note upload; the public certificate page and
the learner's Markdown downloads (weekly report, learning log)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from grading.milestones import selectors, services
from modules import selectors as module_selectors
from modules import services as module_services
from modules.api import ERROR_REF, AuthenticatedHttpRequest, AuthenticatedRequest, LabAPIView, request_lang


class NotificationListView(LabAPIView):
    """``GET /api/notifications/`` -> ``{unread, items}`` (newest first)."""

    openapi = {"get": {"responses": {200: "milestones.schema.json#/$defs/notifications"}}}

    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(selectors.notifications_for(user=request.user, lang=request_lang(request)))


class NotificationReadView(LabAPIView):
    """``POST /api/notifications/read/`` ``{"ids"?: [id]}`` (none: all) -> ``{unread, items}``."""

    openapi = {
        "post": {
            "responses": {200: "milestones.schema.json#/$defs/notifications", 400: ERROR_REF},
            "request": "milestones.schema.json#/$defs/notifications_read_request",
        }
    }

    def post(self, request: AuthenticatedRequest) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        services.notifications_read(user=request.user, ids=body.get("ids"))
        return Response(selectors.notifications_for(user=request.user, lang=request_lang(request)))


class HeartbeatView(LabAPIView):
    """``POST /api/activity/heartbeat/`` (a page the learner is active on, once a minute) -> ``{today_seconds}``."""

    openapi = {"post": {"responses": {200: "milestones.schema.json#/$defs/heartbeat"}}}

    def post(self, request: AuthenticatedRequest) -> Response:
        row = services.study_heartbeat(user=request.user)
        return Response({"today_seconds": row.seconds})


class NoteUploadView(LabAPIView):
    """``POST /api/notes/upload/`` multipart ``file`` (Markdown or text), ``module``? slug -> 201 note."""

    parser_classes = [MultiPartParser]
    openapi = {"post": {"responses": {201: "common.schema.json#/$defs/note", 400: ERROR_REF, 404: ERROR_REF}}}

    def post(self, request: AuthenticatedRequest) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise module_services.InvalidInput(
                _("choose a Markdown or text file to upload"), code="file_missing"
            )
        module = None
        slug = request.POST.get("module")
        if slug:
            module = self.get_module(str(slug), unlocked=False, with_payload=False)
        # one byte past the cap is enough to know the file is too large, without reading all of it
        data = upload.read(module_services.NOTE_UPLOAD_MAX_BYTES + 1)
        note = module_services.note_upload(
            user=request.user, name=upload.name or "", data=data, module=module
        )
        return Response(
            module_selectors.note_to_dict(note, request_lang(request)), status=status.HTTP_201_CREATED
        )


@require_GET
def certificate_page(request: HttpRequest, code: str) -> HttpResponse:
    """``/certificates/<code>/``: the printable certificate; public, so anyone given the link can verify it."""
    certificate = selectors.certificate_get(code=code)
    if certificate is None:
        raise Http404("no such certificate")
    lang = request_lang(request)
    context = {
        "certificate": certificate,
        "title": module_selectors.localize(certificate.title, lang),
        "modules": [
            {"title": module_selectors.localize(m.get("title"), lang), "slug": m.get("slug")}
            for m in certificate.modules
        ],
        "verify_url": request.build_absolute_uri(reverse("certificate", args=[certificate.code])),
    }
    return render(request, "milestones/certificate.html", context)


def _markdown(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def weekly_report_download(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/me/weekly-report.md``: this week's report as a Markdown download."""
    lang = request_lang(request)
    report = selectors.weekly_report(user=request.user, lang=lang)
    labels = {
        "heading": _("Weekly report"),
        "week_of": _("Week of"),
        "passed": _("Modules passed"),
        "completed": _("Modules completed"),
        "attempts": _("Attempts"),
        "study": _("Time studied"),
        "days": _("Days studied"),
        "streak": _("Streak (days)"),
        "total": _("Time studied in all"),
    }
    text = selectors.weekly_report_markdown(user=request.user, report=report, labels=labels)
    return _markdown(text, f"weekly-report-{report['week_start']}.md")


@login_required
@require_GET
def learning_log_download(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/me/learning-log.md``: every note and reflection as one Markdown document."""
    labels = {
        "heading": _("Learning log"),
        "notes": _("Notes"),
        "reflections": _("Reflections"),
        "none": _("None yet."),
    }
    text = selectors.learning_log_markdown(user=request.user, lang=request_lang(request), labels=labels)
    return _markdown(text, f"learning-log-{timezone.localdate():%Y-%m-%d}.md")
