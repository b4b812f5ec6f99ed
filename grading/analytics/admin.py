"""Instructors see survey answers in the admin (read-only: learners give them); the analytics page is
``/analytics/``."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grading.analytics.models import SurveyResponse


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "module",
        "stage",
        "skipped",
        "confidence",
        "difficulty",
        "helpfulness",
        "created_at",
    )
    list_filter = ("stage", "skipped", "module")
    search_fields = ("user__username", "comment")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
