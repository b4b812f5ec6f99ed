"""The learner pages of the left navigation beside the dashboard: my progress, references, settings, search.

Design choices:
- Server-rendered Django templates (they work without JavaScript); the ``site`` Vite entry only loads the
  stylesheet and the navigation's phone menu.
- Settings is one page of three forms told apart by ``action``: preferences (route, language, editor), e-mail
  (asks for the current password) and password (Django's ``PasswordChangeForm``, the session survives). Saving
  the language sets Django's language cookie, which is where the language lives for every page.
- The route the learner follows (``modules.selectors.route_of``) decides which modules the dashboard, the map and
  my progress show; unlocking itself never depends on the route.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods

from modules import selectors, services
from modules.api import AuthenticatedHttpRequest, request_lang
from modules.models import LearnerSettings


def route_choices(lang: str) -> list[tuple[str, str]]:
    return [(r.slug, selectors.localize(r.title, lang) or r.slug) for r in selectors.routes_list()]


class PreferencesForm(forms.Form):
    route = forms.ChoiceField(label=_lazy("Route"), choices=[])
    language = forms.ChoiceField(label=_lazy("Language"), choices=[])
    editor_font_size = forms.TypedChoiceField(
        label=_lazy("Editor font size"),
        coerce=int,
        choices=[(n, f"{n} px") for n in services.EDITOR_FONT_SIZES],
    )
    editor_tab_size = forms.TypedChoiceField(
        label=_lazy("Tab width"), coerce=int, choices=[(n, str(n)) for n in services.EDITOR_TAB_SIZES]
    )
    editor_minimap = forms.BooleanField(label=_lazy("Show the minimap"), required=False)

    def __init__(self, *args: Any, lang: str, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        route, language = self.fields["route"], self.fields["language"]
        assert isinstance(route, forms.ChoiceField) and isinstance(language, forms.ChoiceField)
        route.choices = route_choices(lang)
        language.choices = list(settings.LANGUAGES)


class EmailForm(forms.Form):
    email = forms.EmailField(label=_lazy("New e-mail address"))
    password = forms.CharField(label=_lazy("Current password"), widget=forms.PasswordInput)


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/settings/``: preferences (route, language, editor font size / tab width / minimap), e-mail, password."""
    lang = request_lang(request)
    user = request.user
    current = selectors.learner_settings_get(user=user)
    route = selectors.route_of(user=user)
    initial = {
        "route": route.slug if route else "",
        "language": lang,
        "editor_font_size": current.editor_font_size,
        "editor_tab_size": current.editor_tab_size,
        "editor_minimap": current.editor_minimap,
    }
    action = request.POST.get("action") if request.method == "POST" else None
    preferences = PreferencesForm(
        request.POST if action == "preferences" else None, initial=initial, lang=lang
    )
    email = EmailForm(
        request.POST if action == "email" else None, initial={"email": user.email}, label_suffix=""
    )
    password = PasswordChangeForm(user, request.POST if action == "password" else None, label_suffix="")
    if action == "preferences" and preferences.is_valid():
        data = preferences.cleaned_data
        services.learner_settings_update(
            user=user,
            route_slug=data["route"],
            editor_font_size=data["editor_font_size"],
            editor_tab_size=data["editor_tab_size"],
            editor_minimap=data["editor_minimap"],
        )
        translation.activate(data["language"])
        response = redirect(_next_or(request, "/settings/?saved=preferences"))
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            data["language"],
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            secure=settings.LANGUAGE_COOKIE_SECURE,
        )
        return response
    if action == "email" and email.is_valid():
        if not user.check_password(email.cleaned_data["password"]):
            email.add_error("password", _("That is not your current password."))
        else:
            services.learner_email_set(user=user, email=email.cleaned_data["email"])
            return redirect("/settings/?saved=email")
    if action == "password" and password.is_valid():
        password.save()
        update_session_auth_hash(request, password.user)
        return redirect("/settings/?saved=password")
    saved = {
        "preferences": _("Preferences saved."),
        "email": _("E-mail address changed."),
        "password": _("Password changed."),
    }.get(request.GET.get("saved", ""))
    status = 400 if action else 200
    return render(
        request,
        "modules/settings.html",
        {"preferences": preferences, "email_form": email, "password_form": password, "saved": saved},
        status=status,
    )


def _next_or(request: AuthenticatedHttpRequest, fallback: str) -> str:
    """The form's ``next`` when it is a path of this site, else ``fallback``."""
    target = request.POST.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else fallback


@login_required
@require_http_methods(["POST"])
def route_choose(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``POST /settings/route/`` ``route=<slug>``: the dashboard's route picker; back to the dashboard."""
    try:
        services.learner_settings_update(user=request.user, route_slug=request.POST.get("route") or "")
    except services.InvalidInput as exc:
        return HttpResponseBadRequest(exc.message)
    return redirect(_next_or(request, "/"))


@login_required
def progress_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/progress/``: the modules of the learner's route with their state, best score, attempts and dates."""
    lang = request_lang(request)
    states = selectors.module_states(user=request.user)
    route = selectors.route_of(user=request.user)
    on_route = selectors.route_module_slugs(route=route, modules=[s.module for s in states])
    rows = []
    for state in states:
        if state.module.slug not in on_route:
            continue
        progress = state.progress
        rows.append(
            {
                "slug": state.module.slug,
                "order": state.module.order,
                "title": selectors.localize(state.module.title, lang),
                "state": state.state,
                "attempts": progress.attempts if progress else 0,
                "best_pct": (
                    round(100 * progress.best_score / progress.max_score)
                    if progress and progress.max_score
                    else None
                ),
                "passed_at": progress.passed_at if progress else None,
                "completed_at": progress.completed_at if progress else None,
                "url": f"/modules/{state.module.slug}/" if state.state != "locked" else None,
            }
        )
    done = sum(1 for r in rows if r["state"] == "completed")
    return render(
        request,
        "modules/progress.html",
        {
            "rows": rows,
            "done": done,
            "total": len(rows),
            "percent": round(100 * done / len(rows)) if rows else 0,
            "route": selectors.route_to_dict(route, lang) if route else None,
        },
    )


@login_required
def references_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/references/``: per module of the route, the nanochat source it rebuilds, its glossary and papers."""
    lang = request_lang(request)
    states = selectors.module_states(user=request.user)
    route = selectors.route_of(user=request.user)
    on_route = selectors.route_module_slugs(route=route, modules=[s.module for s in states])
    modules = selectors.modules_with_payload(
        slugs=[s.module.slug for s in states if s.module.slug in on_route]
    )
    sections = [
        {
            "slug": module.slug,
            "order": module.order,
            "title": selectors.localize(module.title, lang),
            **selectors.module_references(module=module, lang=lang),
        }
        for module in modules
    ]
    return render(request, "modules/references.html", {"sections": sections})


@login_required
def search_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/search/?q=``: module titles, guide sections, glossary terms and discussions in both languages."""
    query = (request.GET.get("q") or "").strip()[:200]
    hits = (
        selectors.search_results(user=request.user, query=query, lang=request_lang(request)) if query else []
    )
    kinds = {
        "module": _("Module"),
        "section": _("Guide"),
        "term": _("Glossary"),
        "thread": _("Discussion"),
    }
    for hit in hits:
        hit["kind_label"] = kinds[hit["kind"]]
    return render(request, "modules/search.html", {"query": query, "hits": hits})


def editor_preferences(row: LearnerSettings) -> dict[str, Any]:
    """The module page's ``editor`` key: what the Monaco editor opens with."""
    return {
        "font_size": row.editor_font_size,
        "tab_size": row.editor_tab_size,
        "minimap": row.editor_minimap,
    }
