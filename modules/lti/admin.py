"""Platforms are registered here (issuer, client id, deployment ids, key set URL); links and owed scores are
read-only records for instructors."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from modules.lti import services
from modules.lti.models import Deployment, Passback, Platform, ResourceLink


class DeploymentInline(admin.TabularInline):
    model = Deployment
    extra = 1


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "issuer", "client_id", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "issuer", "client_id")
    inlines = [DeploymentInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # platforms speak https only
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        ("Platform", {"fields": ("issuer", "client_id", "key_set_url", "auth_login_url", "auth_token_url")}),
        ("Advanced", {"fields": ("auth_audience", "frame_origins")}),
    )


@admin.register(ResourceLink)
class ResourceLinkAdmin(admin.ModelAdmin):
    list_display = ("context_title", "module", "platform", "resource_link_id")
    list_filter = ("platform",)
    readonly_fields = [f.name for f in ResourceLink._meta.fields]
    actions = ["roster_sync"]

    @admin.action(description="Map roles from the course roster (Names and Role Provisioning)")
    def roster_sync(self, request: HttpRequest, queryset: QuerySet[ResourceLink]) -> None:
        updated = 0
        for link in queryset.select_related("platform"):
            try:
                updated += services.roster_sync(link=link)
            except Exception as exc:  # the platform refused or is down: say so, go on with the other links
                self.message_user(request, f"{link}: {exc}", level=messages.ERROR)
        self.message_user(request, f"Roles mapped for {updated} account(s).")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Passback)
class PassbackAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "module",
        "link",
        "score_given",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("status",)
    readonly_fields = [f.name for f in Passback._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
