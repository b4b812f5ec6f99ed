"""Instructors see certificates and study time in the admin (read-only: both are earned, never typed in)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grading.milestones.models import Certificate, StudyDay


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ("user", "scope", "code", "issued_at")
    search_fields = ("user__username", "code")
    list_filter = ("scope",)


@admin.register(StudyDay)
class StudyDayAdmin(ReadOnlyAdmin):
    list_display = ("user", "day", "seconds")
    search_fields = ("user__username",)
    date_hierarchy = "day"
