"""Admin for instructors: submissions, results (read-only) and per-learner analytics (attempts, passes).

Stored results and events hold text that learner code chose; they are shown through ``_json``, cleaned again,
so a row written before the services cleaned everything still renders.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin
from django.db.models import Count, Max, Q

from grading.engine.redact import clean_tree
from grading.models import Learner, Result, Submission, SubmissionEvent

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class LearnerCounts(TypedDict):
    """What ``LearnerAdmin.get_queryset`` annotates each learner with."""

    n_attempts: int
    n_passed: int
    last_at: datetime | None


RESULT_FIELDS = ("status", "outcome", "score", "max_score", "result_json", "created_at")


def _json(value: Any) -> str:
    return json.dumps(clean_tree(value), indent=2, ensure_ascii=False)


class ResultJson:
    @admin.display(description="result")
    def result_json(self, obj: Result) -> str:
        return _json(obj.result)


class ResultInline(ResultJson, admin.StackedInline):
    model = Result
    can_delete = False
    fields = readonly_fields = RESULT_FIELDS
    extra = 0


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "module", "lane", "status", "verdict", "score", "runs", "created_at")
    list_filter = ("status", "lane", "module", "result__status")
    search_fields = ("user__username", "module__slug")
    list_select_related = ("user", "module", "result")
    readonly_fields = (
        "user",
        "module",
        "files",
        "status",
        "lane",
        "superseded_by",
        "claim",
        "content_hash",
        "runs",
        "created_at",
        "started_at",
        "finished_at",
    )
    inlines = [ResultInline]

    @admin.display(description="verdict", ordering="result__status")
    def verdict(self, obj: Submission) -> str:
        result = getattr(obj, "result", None)
        return f"{result.status}/{result.outcome}" if result else "—"

    @admin.display(description="score")
    def score(self, obj: Submission) -> str:
        result = getattr(obj, "result", None)
        return f"{result.score:g}/{result.max_score:g}" if result else "—"


@admin.register(Result)
class ResultAdmin(ResultJson, admin.ModelAdmin):
    list_display = ("submission", "status", "outcome", "score", "max_score", "created_at")
    list_filter = ("status", "outcome")
    list_select_related = ("submission",)
    fields = readonly_fields = ("submission", *RESULT_FIELDS)


@admin.register(SubmissionEvent)
class SubmissionEventAdmin(admin.ModelAdmin):
    list_display = ("submission", "run", "seq", "type", "created_at")
    list_filter = ("type",)
    fields = readonly_fields = ("submission", "run", "seq", "type", "event_json", "created_at")

    @admin.display(description="event")
    def event_json(self, obj: SubmissionEvent) -> str:
        return _json(obj.event)


@admin.register(Learner)
class LearnerAdmin(admin.ModelAdmin):
    """Attempts per learner, modules passed and last activity (annotated: one query per page)."""

    list_display = ("username", "attempts", "passed_modules", "last_attempt")
    search_fields = ("username",)
    fields = ("username", "email", "date_joined", "last_login")
    readonly_fields = fields

    def get_queryset(self, request):  # admin signature
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_attempts=Count("submissions", distinct=True),
                n_passed=Count(
                    "progress", filter=Q(progress__status__in=["passed", "completed"]), distinct=True
                ),
                last_at=Max("submissions__created_at"),
            )
        )

    @admin.display(description="attempts", ordering="n_attempts")
    def attempts(self, obj: WithAnnotations[Learner, LearnerCounts]) -> int:
        return obj.n_attempts

    @admin.display(description="modules passed", ordering="n_passed")
    def passed_modules(self, obj: WithAnnotations[Learner, LearnerCounts]) -> int:
        return obj.n_passed

    @admin.display(description="last attempt", ordering="last_at")
    def last_attempt(self, obj: WithAnnotations[Learner, LearnerCounts]) -> datetime | None:
        return obj.last_at

    def has_add_permission(self, request) -> bool:
        return False
