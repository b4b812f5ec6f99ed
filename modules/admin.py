"""Admin for authors (modules, routes) and instructors (progress, unlocks, reflections, hint use).

Analytics: the module list shows learners, passes and the pass rate per module (annotated, one query).
Content itself is edited in ``content/`` and loaded with ``sync_content``; authors adjust order/route/status here.
Failed logins and sign-up requests (the throttles' rows) are listed read-only; deleting an account's failed logins
unlocks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import markdown
import nh3
from django.contrib import admin
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from modules.models import (
    AuthAttempt,
    Draft,
    HintReveal,
    Module,
    Note,
    Progress,
    Reflection,
    Route,
    Unlock,
    UpstreamReport,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class ModuleCounts(TypedDict):
    """What ``ModuleAdmin.get_queryset`` annotates each module with."""

    n_learners: int
    n_passed: int


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    """Authors compose the tracks learners choose in settings and on the dashboard: a track lists its modules
    (prerequisites are added for the learner); the default route is the full course and lists none."""

    list_display = ("slug", "route_title", "is_default", "position", "n_members")
    list_editable = ("position",)
    fields = ("slug", "title", "description", "is_default", "position", "members")
    filter_horizontal = ("members",)

    @admin.display(description="title")
    def route_title(self, obj: Route) -> str:
        return str(obj.title.get("en") or obj.slug)

    @admin.display(description="modules")
    def n_members(self, obj: Route) -> str:
        return "all" if obj.is_default else str(obj.members.count())


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = (
        "order",
        "slug",
        "status",
        "learners",
        "passed",
        "pass_rate",
        "content_hash_short",
        "synced_at",
    )
    list_display_links = ("slug",)
    list_filter = ("status", "route")
    search_fields = ("slug",)
    readonly_fields = ("slug", "content_hash", "metadata", "payload", "synced_at")
    fields = (
        "slug",
        "order",
        "route",
        "status",
        "title",
        "summary",
        "content_hash",
        "metadata",
        "payload",
        "synced_at",
    )

    def get_queryset(self, request):  # admin signature
        return (
            super()
            .get_queryset(request)
            .defer("payload")
            .annotate(
                n_learners=Count("progress", distinct=True),
                n_passed=Count(
                    "progress", filter=Q(progress__status__in=["passed", "completed"]), distinct=True
                ),
            )
        )

    @admin.display(description="learners", ordering="n_learners")
    def learners(self, obj: WithAnnotations[Module, ModuleCounts]) -> int:
        return obj.n_learners

    @admin.display(description="passed", ordering="n_passed")
    def passed(self, obj: WithAnnotations[Module, ModuleCounts]) -> int:
        return obj.n_passed

    @admin.display(description="pass rate")
    def pass_rate(self, obj: WithAnnotations[Module, ModuleCounts]) -> str:
        return f"{100 * obj.n_passed / obj.n_learners:.0f}%" if obj.n_learners else "—"

    @admin.display(description="hash")
    def content_hash_short(self, obj: Module) -> str:
        return obj.content_hash[:10]


@admin.register(Progress)
class ProgressAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "module",
        "status",
        "attempts",
        "best_score",
        "max_score",
        "passed_at",
        "updated_at",
    )
    list_filter = ("status", "module")
    search_fields = ("user__username",)
    list_select_related = ("user", "module")
    readonly_fields = [f.name for f in Progress._meta.fields]


@admin.register(Unlock)
class UnlockAdmin(admin.ModelAdmin):
    list_display = ("user", "module", "reason", "created_at")
    list_select_related = ("user", "module")
    autocomplete_fields = ("user",)


@admin.register(Reflection)
class ReflectionAdmin(admin.ModelAdmin):
    list_display = ("user", "module", "submitted_at")
    list_select_related = ("user", "module")
    readonly_fields = ("user", "module", "answers", "correct", "submitted_at")


@admin.register(HintReveal)
class HintRevealAdmin(admin.ModelAdmin):
    list_display = ("user", "module", "hint_id", "level", "revealed_at")
    list_filter = ("module", "level")
    list_select_related = ("user", "module")


admin.site.register(Draft)
admin.site.register(Note)


@admin.register(AuthAttempt)
class AuthAttemptAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "username", "address")
    list_filter = ("kind",)
    search_fields = ("username", "address")
    readonly_fields = ("kind", "username", "address", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(UpstreamReport)
class UpstreamReportAdmin(admin.ModelAdmin):
    """The upstream dashboard: each saved ``content_upstream_diff`` run, "N modules affected", and its report
    (steps with their diff hunks, facts, deviations, guide sections and tests) rendered for authors. Read-only:
    runs come from the command, never from a form."""

    list_display = ("created_at", "from_ref", "to_ref", "affected", "modules_checked")
    fields = ("affected", "from_commit", "to_commit", "created_at", "dashboard")
    readonly_fields = fields

    @admin.display(description="modules affected")
    def affected(self, obj: UpstreamReport) -> str:
        n = obj.modules_affected
        return f"{n} module{'s' if n != 1 else ''} affected"

    @admin.display(description="report")
    def dashboard(self, obj: UpstreamReport) -> SafeString:
        html = markdown.markdown(obj.markdown, extensions=["fenced_code", "tables"])
        clean = nh3.clean(
            html,
            tags={
                "h1",
                "h2",
                "h3",
                "p",
                "ul",
                "li",
                "table",
                "thead",
                "tbody",
                "tr",
                "th",
                "td",
                "code",
                "pre",
                "strong",
                "em",
            },
            attributes={"code": {"class"}},
        )
        return format_html('<div class="upstream-report">{}</div>', mark_safe(clean))  # nh3-cleaned above

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
