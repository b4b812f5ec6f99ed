"""Analytics endpoints: the instructors' page, a learner's drill-down and the CSV export (instructors only), and
the learner's micro-survey API."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from rest_framework.response import Response

from grading.analytics import selectors, services
from modules import selectors as module_selectors
from modules.api import ERROR_REF, AuthenticatedHttpRequest, AuthenticatedRequest, LabAPIView, request_lang
from modules.services import InvalidInput


def _instructor_only(request: AuthenticatedHttpRequest) -> None:
    if not selectors.access_analytics(user=request.user):
        raise PermissionDenied(_("Analytics are for instructors."))


def _chart_data(data: dict[str, Any]) -> dict[str, Any]:
    """What the page's charts draw (``frontend/src/analytics.ts``)."""
    return {
        "modules": [
            {
                key: row[key]
                for key in (
                    "order",
                    "title",
                    "completion_rate",
                    "pass_rate",
                    "avg_attempts_to_pass",
                    "median_seconds_to_pass",
                    "confidence_before",
                    "confidence_after",
                    "difficulty",
                    "helpfulness",
                )
            }
            for row in data["modules"]
        ],
        "tests": [
            {"name": r["name"], "module": r["module"], "pass_rate": r["pass_rate"]} for r in data["tests"]
        ],
        "cohorts": [
            {"week": r["week"], "retention_7": r["retention_7"], "retention_30": r["retention_30"]}
            for r in data["cohorts"]
        ],
    }


@login_required
@require_GET
def analytics_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/analytics/``: per module, the most-failed tests, cohorts' retention, survey comments and a learner
    search; filters ``route``, ``since``, ``until`` (sign-up days), ``module`` (the tests table)."""
    _instructor_only(request)
    lang = request_lang(request)
    try:
        filters = selectors.filters_parse(request.GET)
    except InvalidInput as exc:
        return render(
            request, "analytics/analytics.html", {"error": exc.message, **_choices(lang)}, status=400
        )
    data = selectors.overview(filters=filters, lang=lang)
    query = request.GET.get("learner", "")
    context = {
        **data,
        **_choices(lang),
        "filters": filters,
        "learner_query": query,
        "found": selectors.learner_find(query=query) if query else None,
        "export": {
            table: f"{reverse('analytics-export')}?{urlencode({'table': table, **filters.query()})}"
            for table in EXPORTS
        },
        "chart_data": _chart_data(data),
    }
    return render(request, "analytics/analytics.html", context)


def _choices(lang: str) -> dict[str, Any]:
    routes = module_selectors.routes_list()
    modules = selectors.modules_in(selectors.Filters())
    return {
        "routes": [module_selectors.route_to_dict(r, lang) for r in routes],
        "module_choices": [
            {"slug": m.slug, "title": module_selectors.localize(m.title, lang), "order": m.order}
            for m in modules
        ],
    }


@login_required
@require_GET
def learner_page(request: AuthenticatedHttpRequest, username: str) -> HttpResponse:
    """``/analytics/learners/<username>/``: one learner's attempts, notes, threads and survey answers."""
    _instructor_only(request)
    learner = User.objects.filter(username=username).first()
    if learner is None:
        raise Http404("no such learner")
    detail = selectors.learner_detail(user=learner, lang=request_lang(request))
    timeline = [
        {"at": a["at"].isoformat(), "order": a["order"], "title": a["module_title"], "status": a["status"]}
        for a in detail["attempts"]
    ]
    return render(
        request,
        "analytics/learner.html",
        {"learner": learner, **detail, "chart_data": {"attempts": timeline}},
    )


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _modules_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "module",
        "started",
        "passed",
        "completed",
        "pass_rate_pct",
        "completion_rate_pct",
        "avg_attempts_to_pass",
        "median_hours_to_pass",
        "confidence_before",
        "confidence_after",
        "difficulty",
        "helpfulness",
        "start_answered",
        "start_skipped",
        "after_answered",
        "after_skipped",
    ]
    rows = [
        [
            r["slug"],
            r["started"],
            r["passed"],
            r["completed"],
            _pct(r["pass_rate"]),
            _pct(r["completion_rate"]),
            _num(r["avg_attempts_to_pass"]),
            _num(r["median_seconds_to_pass"] / 3600 if r["median_seconds_to_pass"] is not None else None),
            _num(r["confidence_before"]),
            _num(r["confidence_after"]),
            _num(r["difficulty"]),
            _num(r["helpfulness"]),
            *r["survey_answered"][:1],
            *r["survey_skipped"][:1],
            *r["survey_answered"][1:],
            *r["survey_skipped"][1:],
        ]
        for r in data["modules"]
    ]
    return header, rows


def _tests_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["module", "test_id", "name", "runs", "failures", "pass_rate_pct", "latest_failure_message"]
    rows = [
        [r["module"], r["test_id"], r["name"], r["runs"], r["failures"], _pct(r["pass_rate"]), r["message"]]
        for r in data["tests"]
    ]
    return header, rows


def _cohorts_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["signup_week", "learners"]
    for days in selectors.RETENTION_DAYS:
        header += [f"eligible_{days}d", f"retained_{days}d", f"retention_{days}d_pct"]
    rows = []
    for r in data["cohorts"]:
        row: list[Any] = [r["week"], r["size"]]
        for days in selectors.RETENTION_DAYS:
            row += [r[f"eligible_{days}"], r[f"retained_{days}"], _pct(r[f"retention_{days}"])]
        rows.append(row)
    return header, rows


EXPORTS = {"modules": _modules_csv, "tests": _tests_csv, "cohorts": _cohorts_csv}


@login_required
@require_GET
def analytics_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/analytics/export.csv?table=modules|tests|cohorts`` (+ the page's filters): one table as CSV."""
    _instructor_only(request)
    table = request.GET.get("table", "modules")
    if table not in EXPORTS:
        return HttpResponse(
            _("table must be modules, tests or cohorts"), status=400, content_type="text/plain"
        )
    try:
        filters = selectors.filters_parse(request.GET)
    except InvalidInput as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    lang = request_lang(request)
    data = {
        "modules": selectors.module_rows(filters=filters, lang=lang) if table == "modules" else [],
        "tests": selectors.test_rows(filters=filters, lang=lang) if table == "tests" else [],
        "cohorts": selectors.cohort_rows(filters=filters) if table == "cohorts" else [],
    }
    header, rows = EXPORTS[table](data)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="analytics-{table}.csv"'
    return response


class SurveyView(LabAPIView):
    """``GET /api/modules/<slug>/survey/`` -> ``{due, questions, scale, answers}``; ``POST`` ``{stage, skipped}``
    or ``{stage, confidence, difficulty?, helpfulness?, comment?}`` (ratings 1–5) -> the same, after storing."""

    openapi = {
        "get": {"responses": {200: "analytics.schema.json#/$defs/survey"}},
        "post": {
            "responses": {200: "analytics.schema.json#/$defs/survey", 400: ERROR_REF, 409: ERROR_REF},
            "request": "analytics.schema.json#/$defs/survey_request",
        },
    }

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        return Response(selectors.survey_for(user=request.user, module=module, lang=request_lang(request)))

    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        services.survey_answer(user=request.user, module=module, body=request.data)
        return Response(selectors.survey_for(user=request.user, module=module, lang=request_lang(request)))
