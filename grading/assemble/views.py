"""The assemble page and its JSON API: parse, authorize (``selectors.access_assemble`` in the services), call one
service, respond."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from grading.assemble import selectors, services
from modules.api import ERROR_REF, AuthenticatedHttpRequest, AuthenticatedRequest, LabAPIView, request_lang


@login_required
def assemble_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/assemble/``: per stage, the modules it needs, a run's progress and loss curve, and the chat."""
    page_data = {
        "stages": selectors.stages_for(user=request.user, lang=request_lang(request)),
        "ws_url": "/ws/grading/",
        "api": {
            "stages": "/api/assemble/",
            "runs": "/api/assemble/{stage}/runs/",
            "reply": "/api/assemble/{stage}/reply/",
            "reply_detail": "/api/assemble/replies/{id}/",
        },
    }
    return render(request, "assemble/assemble.html", {"page_data": page_data})


class StagesView(LabAPIView):
    """``GET /api/assemble/`` -> ``{"stages": [stage ...]}``."""

    openapi = {"get": {"responses": {200: "assemble.schema.json#/$defs/stages"}}}

    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"stages": selectors.stages_for(user=request.user, lang=request_lang(request))})


class RunCreateView(LabAPIView):
    """``POST /api/assemble/<stage>/runs/`` -> 201 the queued run; 403 locked, 409 one is already active."""

    openapi = {
        "post": {
            "responses": {
                201: "assemble.schema.json#/$defs/run",
                400: ERROR_REF,
                409: ERROR_REF,
            }
        }
    }

    def post(self, request: AuthenticatedRequest, stage: str) -> Response:
        run = services.assemble_create(user=request.user, stage=stage)
        return Response(selectors.run_summary(run), status=status.HTTP_201_CREATED)


class ReplyView(LabAPIView):
    """``POST /api/assemble/<stage>/reply/`` ``{"prompt"}`` -> 202 the queued reply (both answers stream over the
    websocket; ``GET /api/assemble/replies/<id>/`` has them once saved); 403 no model, 409 one is waiting."""

    openapi = {
        "post": {
            "responses": {202: "assemble.schema.json#/$defs/reply", 400: ERROR_REF, 409: ERROR_REF},
            "request": "assemble.schema.json#/$defs/reply_request",
        }
    }

    def post(self, request: AuthenticatedRequest, stage: str) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        reply = services.assemble_reply_create(user=request.user, stage=stage, prompt=body.get("prompt"))
        return Response(selectors.reply_summary(reply), status=status.HTTP_202_ACCEPTED)


class ReplyDetailView(LabAPIView):
    """``GET /api/assemble/replies/<id>/`` -> the learner's reply, both answers once done; 404 if not theirs."""

    openapi = {"get": {"responses": {200: "assemble.schema.json#/$defs/reply", 404: ERROR_REF}}}

    def get(self, request: AuthenticatedRequest, reply_id: int) -> Response:
        reply = selectors.reply_of(user=request.user, reply_id=reply_id)
        if reply is None:
            raise NotFound(_("no such reply"))
        return Response(selectors.reply_summary(reply))
