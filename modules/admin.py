"""Admin for authors (modules, routes) and instructors (progress, unlocks, reflections, hint use).

Analytics: the module list shows learners, passes and the pass rate per module (annotated, one query).
Content lives in ``content/`` and is loaded with ``sync_content``; authors adjust order/route/status on the module's
change page, and edit its titles, summaries, guides (with a live preview rendered by the learners' pipeline), hints
and reflection questions on its authoring page (``<id>/authoring/``, ``modules.forms``), where every save is a
revision (who, when, a diff per field) they can revert to, and where they export the edits back to ``content/`` or
resolve a conflict with it (``modules.authoring``).
Failed logins and sign-up requests (the throttles' rows) are listed read-only; deleting an account's failed logins
unlocks it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import markdown
import nh3
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from modules import authoring, services
from modules import forms as authoring_forms
from modules.api import AuthenticatedHttpRequest
from modules.models import (
    AuthAttempt,
    ContentRevision,
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
from modules.selectors import module_spec_of

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
        "authoring_state",
        "content_hash_short",
        "synced_at",
    )
    list_display_links = ("slug",)
    list_filter = ("status", "route")
    search_fields = ("slug",)
    readonly_fields = ("slug", "authoring_link", "title_shown", "summary_shown", "content_hash", "synced_at")
    fields = (
        "slug",
        "authoring_link",
        "order",
        "route",
        "status",
        "title_shown",
        "summary_shown",
        "content_hash",
        "synced_at",
    )
    actions = ("export_to_content",)

    def get_queryset(self, request):  # admin signature
        return (
            super()
            .get_queryset(request)
            .defer("payload", "files_document")
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

    @admin.display(description="content")
    def authoring_state(self, obj: Module) -> str:
        if obj.conflict:
            return _("conflict with content/")
        return _("edited, not exported") if obj.content_hash != obj.files_hash else _("as in content/")

    @admin.display(description="title")
    def title_shown(self, obj: Module) -> str:
        return " / ".join(str(obj.title.get(lang, "")) for lang in authoring.LANGS)

    @admin.display(description="summary")
    def summary_shown(self, obj: Module) -> str:
        return " / ".join(str(obj.summary.get(lang, "")) for lang in authoring.LANGS)

    @admin.display(description="content")
    def authoring_link(self, obj: Module) -> SafeString:
        return format_html(
            '<a class="button" href="{}">{}</a> {}',
            reverse("admin:modules_module_authoring", args=[obj.pk]),
            _("Edit guides, hints and reflection"),
            self.authoring_state(obj),
        )

    @admin.action(description="Export admin edits to content/", permissions=["change"])
    def export_to_content(self, request: HttpRequest, queryset) -> None:
        for module in queryset.defer(None):
            try:
                written = services.content_export(module=module)
            except services.ServiceError as exc:
                self.message_user(request, f"{module.slug}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{module.slug}: {', '.join(written) or _('no file changed')}")

    # --- the authoring page ------------------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view  # staff only, CSRF-protected, never cached
        return [
            path("<int:pk>/authoring/", view(self.authoring_view), name="modules_module_authoring"),
            path(
                "<int:pk>/authoring/preview/",
                view(require_POST(self.preview_view)),
                name="modules_module_authoring_preview",
            ),
            path(
                "<int:pk>/authoring/revert/<int:number>/",
                view(require_POST(self.revert_view)),
                name="modules_module_authoring_revert",
            ),
            path(
                "<int:pk>/authoring/export/",
                view(require_POST(self.export_view)),
                name="modules_module_authoring_export",
            ),
            path(
                "<int:pk>/authoring/take-files/",
                view(require_POST(self.take_files_view)),
                name="modules_module_authoring_take_files",
            ),
            *super().get_urls(),
        ]

    def _editable(self, request: HttpRequest, pk: int) -> Module:
        module = get_object_or_404(Module, pk=pk)
        if not self.has_change_permission(request, module):
            raise PermissionDenied
        return module

    def _authoring_url(self, module: Module) -> str:
        return reverse("admin:modules_module_authoring", args=[module.pk])

    def authoring_view(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
        module = self._editable(request, pk)
        steps = list(module_spec_of(module=module).step_ids)
        problems: list[str] = []
        if request.method == "POST":
            text = authoring_forms.ModuleTextForm(request.POST, prefix="text")
            hints = authoring_forms.HintFormSet(request.POST, prefix="hints", form_kwargs={"steps": steps})
            questions = authoring_forms.QuestionFormSet(request.POST, prefix="reflection")
            if text.is_valid() and hints.is_valid() and questions.is_valid():
                doc = authoring_forms.document_of(text, hints, questions)
                try:
                    revision = services.content_revise(module=module, author=request.user, document=doc)
                except services.AuthoringInvalid as exc:
                    problems = exc.problems
                else:
                    if revision is None:
                        self.message_user(request, _("Nothing changed."), messages.INFO)
                    else:
                        self.message_user(
                            request, _("Saved as revision %(n)d.") % {"n": revision.number}, messages.SUCCESS
                        )
                    return HttpResponseRedirect(self._authoring_url(module))
        else:
            initial = authoring_forms.initial_of(services.content_document(module=module))
            text = authoring_forms.ModuleTextForm(initial=initial["text"], prefix="text")
            hints = authoring_forms.HintFormSet(
                initial=initial["hints"], prefix="hints", form_kwargs={"steps": steps}
            )
            questions = authoring_forms.QuestionFormSet(initial=initial["reflection"], prefix="reflection")
        revisions = list(module.revisions.select_related("author", "reverted_from")[:50])
        context = {
            **self.admin_site.each_context(request),
            "title": _("Content of %(slug)s") % {"slug": module.slug},
            "opts": self.model._meta,
            "original": module,
            "module": module,
            "text_form": text,
            "hint_formset": hints,
            "question_formset": questions,
            "problems": problems,
            "revisions": revisions,
            "edited": module.content_hash != module.files_hash,
            "conflict_fields": [
                {"name": name, **value}
                for name, value in ((module.conflict or {}).get("fields") or {}).items()
            ],
            "preview_url": reverse("admin:modules_module_authoring_preview", args=[module.pk]),
            "learner_url": f"/modules/{module.slug}/",
        }
        return TemplateResponse(request, "admin/modules/module/authoring.html", context)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        module = self._editable(request, pk)
        try:
            rendered = services.content_preview(
                module=module, lang=request.POST.get("lang", ""), text=request.POST.get("text", "")
            )
        except services.InvalidInput as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        return JsonResponse({"html": rendered.html, "problems": rendered.problems})

    def revert_view(self, request: AuthenticatedHttpRequest, pk: int, number: int) -> HttpResponse:
        module = self._editable(request, pk)
        revision = get_object_or_404(ContentRevision, module=module, number=number)
        try:
            new = services.content_revert(module=module, revision=revision, author=request.user)
        except services.AuthoringInvalid as exc:
            self.message_user(request, "; ".join(exc.problems), messages.ERROR)
        else:
            if new is None:
                self.message_user(request, _("The content already is revision %(n)d.") % {"n": number})
            else:
                self.message_user(
                    request,
                    _("Reverted to revision %(old)d (saved as revision %(n)d).")
                    % {"old": number, "n": new.number},
                    messages.SUCCESS,
                )
        return HttpResponseRedirect(self._authoring_url(module))

    def export_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        module = self._editable(request, pk)
        try:
            written = services.content_export(module=module, force=request.POST.get("force") == "1")
        except services.ServiceError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                _("Exported to content/: %(files)s") % {"files": ", ".join(written) or _("no file changed")},
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._authoring_url(module))

    def take_files_view(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
        module = self._editable(request, pk)
        try:
            services.content_take_files(module=module, author=request.user)
        except services.ServiceError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request, _("The content/ version is the module's content again."), messages.SUCCESS
            )
        return HttpResponseRedirect(self._authoring_url(module))


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
