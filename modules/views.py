"""Pages (dashboard, module page, signup) and the modules JSON API: parse, authorize through ``access_*``, call one
service.

Design choices:
- API views build on ``modules.api.LabAPIView`` (errors as JSON, ``get_module``: 404 / 403 ``locked``).
- Page data for the TypeScript front end is one dict rendered through ``page_json`` (Django's ``json_script``,
  faster; keys documented in each view's docstring and in docs/operations.md; they are a stable contract).
- Login and sign-up pages answer a throttled attempt with 429, ``Retry-After`` and a message that says when to
  try again (the throttles themselves: ``modules.backends``, ``modules.selectors.login_block``/``signup_block``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from rest_framework import status
from rest_framework.response import Response

from modules import pages, selectors, services
from modules.api import (
    ERROR_REF,
    AuthenticatedHttpRequest,
    AuthenticatedRequest,
    LabAPIView,
    client_address,
    request_lang,
)
from modules.badges import badges_for
from modules.models import Module
from modules.site_views import editor_preferences


def module_summary(state: selectors.ModuleState, lang: str) -> dict[str, Any]:
    """One module in lists: the dashboard's ``modules`` items and ``GET /api/modules/``."""
    module, progress = state.module, state.progress
    return {
        "slug": module.slug,
        "order": module.order,
        "title": selectors.localize(module.title, lang),
        "summary": selectors.localize(module.summary, lang),
        "prerequisites": list(module.metadata.get("prerequisites") or []),
        "state": state.state,
        "progress": {
            "status": progress.status if progress else "not_started",
            "attempts": progress.attempts if progress else 0,
            "best_score": progress.best_score if progress else 0.0,
            "max_score": progress.max_score if progress else 0.0,
            "passed_at": progress.passed_at.isoformat() if progress and progress.passed_at else None,
        },
        "latest_result": progress.last_result if progress else None,
        "url": reverse("module-page", args=[module.slug]),
        "api_url": reverse("api-module-detail", args=[module.slug]),
    }


def module_detail_data(*, user: Any, module: Module, lang: str, state: str) -> dict[str, Any]:
    """The module's learner-facing metadata, guide, files and the next module ``{slug, title, url} | null``
    (``GET /api/modules/<slug>/``, module page)."""
    meta = module.metadata
    return {
        "module": {
            "slug": module.slug,
            "order": module.order,
            "title": selectors.localize(module.title, lang),
            "summary": selectors.localize(module.summary, lang),
            "goals": selectors.localize(meta.get("goals") or {}, lang) or [],
            "prerequisites": list(meta.get("prerequisites") or []),
            "state": state,
            "limits": meta.get("limits") or {},
            "runtime": meta.get("runtime", "python"),
            "content_hash": module.content_hash,
        },
        "guide_html": selectors.module_guide_html(
            module=module, lang="zh" if lang.startswith("zh") else "en"
        ),
        "steps": [
            {"id": s["id"], "title": selectors.localize(s["title"], lang)} for s in meta.get("steps", [])
        ],
        "files": selectors.module_files(user=user, module=module),
        "next_module": (
            {
                "slug": following.slug,
                "title": selectors.localize(following.title, lang),
                "url": reverse("module-page", args=[following.slug]),
            }
            if (following := selectors.module_next(module=module)) is not None
            else None
        ),
    }


# --- pages --------------------------------------------------------------------------------------------------------
@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/``: renders ``modules/dashboard.html`` with ``page_data``:

    ``user`` {username, is_instructor}; ``lang`` ("en" | "zh-hans"); ``modules`` (those on the learner's route,
    ``modules.selectors.route_of``) [{slug, order, title, summary,
    prerequisites, state (locked|unlocked|passed|completed), progress {status, attempts, best_score, max_score,
    passed_at}, latest_result {submission_id, status, outcome, score, max_score, at} | null, url, api_url}];
    ``notes`` [{id, module, module_title, text, created_at}]; ``review`` [{slug, title, reason
    (last_attempt_failed|reflection_pending)}]; ``badges`` [{id, title, description, earned, earned_at, count,
    target}] (``modules.badges``); ``api`` {modules, notes}; ``urls`` {logout, setlang, admin}; ``csrf_token``.
    From discussions (``grading.discussions.pages``): ``mentor_queue`` [thread] (instructors: the oldest open
    review requests, else empty).
    """
    lang = request_lang(request)
    states = selectors.module_states(user=request.user)
    instructor = selectors.user_is_instructor(request.user)
    routes = selectors.routes_list()
    route = selectors.route_of(user=request.user, routes=routes)
    on_route = selectors.route_module_slugs(route=route, modules=[s.module for s in states])
    page_data = {
        "user": {"username": request.user.get_username(), "is_instructor": instructor},
        "lang": lang,
        "modules": [module_summary(state, lang) for state in states if state.module.slug in on_route],
        "notes": [selectors.note_to_dict(n, lang) for n in selectors.notes_list(user=request.user, limit=50)],
        "review": selectors.review_list(states=states, lang=lang),
        "badges": badges_for(user=request.user, lang=lang, states=states),
        "api": {"modules": reverse("api-modules"), "notes": reverse("api-notes")},
        "urls": {
            "logout": reverse("logout"),
            "setlang": reverse("set_language"),
            "admin": reverse("admin:index"),
        },
        "csrf_token": get_token(request),
    }
    context = pages.DashboardContext(request=request, user=request.user, lang=lang, states=states)
    page_data = pages.dashboard.contribute(context, page_data)
    return render(
        request,
        "modules/dashboard.html",
        {
            "page_data": page_data,
            "routes": [selectors.route_to_dict(r, lang) for r in routes],
            "route": selectors.route_to_dict(route, lang) if route else None,
        },
    )


@login_required
def module_page(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """``/modules/<slug>/``: renders ``modules/module_detail.html`` with ``page_data``:

    ``user`` {username, is_instructor}; ``lang``; ``module`` {slug, order, title, summary, goals, prerequisites,
    state, limits, runtime, content_hash}; ``guide_html`` (sanitised HTML); ``steps`` [{id, title}]; ``files``
    [{path, starter, draft (str|null), language}]; ``next_module`` {slug, title, url} | null; ``hints`` {revealed:
    [{id, step, level, text}], levels: [int]}; ``reflection`` {questions: [{id, kind, prompt, choices: [{id,
    text}]}], answers: {qid: answer} | null}; ``reference_available`` bool; ``api`` {module, draft, reference,
    hints_reveal, reflection, notes}; ``urls`` {dashboard, logout, setlang}; ``editor`` {font_size, tab_size,
    minimap} (the learner's settings); ``csrf_token``.
    From grading (``grading.pages``): ``attempts`` [{id, status, created_at, finished_at, result {status, outcome,
    score, max_score} | null, url}]; ``ws_url`` ("/ws/grading/", a path: prefix ws(s)://host); ``api`` {submissions,
    submission_detail ("/api/submissions/{id}/" — replace {id}), lint, format}.
    Locked modules answer 403 with a page naming what is missing (``locked_page``), unknown or retired ones 404
    (``not_found_page``), both with a way back.
    """
    module = selectors.module_get(slug=slug)
    if module is None or not selectors.access_module_visible(user=request.user, module=module):
        return not_found_page(request)
    if not selectors.access_module_unlocked(user=request.user, module=module):
        return locked_page(request, module)
    lang = request_lang(request)
    user = request.user
    state = selectors.module_state(user=user, module=module)
    reflection = selectors.reflection_get(user=user, module=module)
    page_data = {
        "user": {"username": user.get_username(), "is_instructor": selectors.user_is_instructor(user)},
        "lang": lang,
        **module_detail_data(user=user, module=module, lang=lang, state=state),
        "hints": {
            "revealed": selectors.hints_revealed(user=user, module=module, lang=lang),
            "levels": selectors.hint_levels(module=module),
            "steps": selectors.hint_levels_by_step(module=module),
        },
        "reflection": {
            "questions": selectors.reflection_questions(module=module, lang=lang),
            "answers": reflection.answers if reflection else None,
        },
        "api": {
            "module": reverse("api-module-detail", args=[slug]),
            "draft": reverse("api-module-draft", args=[slug]),
            "hints_reveal": reverse("api-module-hints-reveal", args=[slug]),
            "reflection": reverse("api-module-reflection", args=[slug]),
            "notes": reverse("api-notes"),
        },
        "urls": {
            "dashboard": reverse("dashboard"),
            "logout": reverse("logout"),
            "setlang": reverse("set_language"),
        },
        "editor": editor_preferences(selectors.learner_settings_get(user=user)),
        "csrf_token": get_token(request),
    }
    context = pages.ModulePageContext(request=request, user=user, module=module, lang=lang)
    page_data = pages.module_page.contribute(context, page_data)
    return render(request, "modules/module_detail.html", {"page_data": page_data})


def throttle_message(block: selectors.AuthBlock) -> str:
    """What a held-back person reads: who is held back, and in how many minutes to try again."""
    minutes = max(1, -(-block.retry_after_seconds() // 60))
    if block.reason == "account":
        text = ngettext(
            "Too many failed logins for this account. Try again in %(minutes)d minute.",
            "Too many failed logins for this account. Try again in %(minutes)d minutes.",
            minutes,
        )
    elif block.reason == "address":
        text = ngettext(
            "Too many failed logins from your network. Try again in %(minutes)d minute.",
            "Too many failed logins from your network. Try again in %(minutes)d minutes.",
            minutes,
        )
    else:
        text = ngettext(
            "Too many sign-ups from your network. Try again in %(minutes)d minute.",
            "Too many sign-ups from your network. Try again in %(minutes)d minutes.",
            minutes,
        )
    return text % {"minutes": minutes}


def throttled(response: HttpResponse, block: selectors.AuthBlock) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(block.retry_after_seconds())
    return response


class LoginForm(AuthenticationForm):
    """Django's login form; when the throttle holds the attempt back, it says so and when to try again."""

    block: selectors.AuthBlock | None = None

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username")
            if username and self.request is not None:
                self.block = selectors.login_block(username=username, address=client_address(self.request))
            if self.block is None:
                raise
            raise ValidationError(throttle_message(self.block), code="throttled") from None


class LoginView(auth_views.LoginView):
    """``/accounts/login/``: Django's login view with ``LoginForm``; a throttled attempt answers 429."""

    form_class = LoginForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        block = getattr(form, "block", None)
        return throttled(response, block) if block is not None else response


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=False)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """``/accounts/signup/``: renders ``registration/signup.html`` with ``form``; creates a learner and logs in.
    Sign-up requests per address and hour are capped (429 with a message when past the cap)."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        address = client_address(request)
        block = selectors.signup_block(address=address)
        if block is not None:
            form.add_error(None, throttle_message(block))
            return throttled(render(request, "registration/signup.html", {"form": form}), block)
        services.signup_attempt_record(address=address)
        if form.is_valid():
            try:
                user = services.learner_create(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                    email=form.cleaned_data.get("email") or "",
                )
            except services.InvalidInput as exc:
                form.add_error("username", exc.message)
            else:
                login(request, user, backend="modules.backends.ThrottledModelBackend")
                return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form})


# --- API ----------------------------------------------------------------------------------------------------------
class ModuleListView(LabAPIView):
    """``GET /api/modules/`` -> ``{"modules": [module summary ...]}`` (same items as the dashboard)."""

    openapi = {"get": {"responses": {200: "module-list.schema.json"}}}

    def get(self, request: AuthenticatedRequest) -> Response:
        lang = request_lang(request)
        states = selectors.module_states(user=request.user)
        return Response({"modules": [module_summary(state, lang) for state in states]})


class ModuleDetailView(LabAPIView):
    """``GET /api/modules/<slug>/`` -> ``{module, guide_html, steps, files, next_module}``; locked modules 403."""

    openapi = {"get": {"responses": {200: "module-detail.schema.json"}}}

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        state = selectors.module_state(user=request.user, module=module)
        return Response(
            module_detail_data(user=request.user, module=module, lang=request_lang(request), state=state)
        )


class DraftView(LabAPIView):
    """``GET|PUT /api/modules/<slug>/draft/`` ``{"files": {path: text}}``; PUT merges into the saved draft."""

    openapi = {
        "get": {"responses": {200: "api.schema.json#/$defs/files"}},
        "put": {
            "responses": {200: "api.schema.json#/$defs/files", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/files_request",
        },
    }

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        return Response({"files": selectors.draft_files(user=request.user, module=module)})

    def put(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        body = request.data if isinstance(request.data, dict) else {}
        draft = services.draft_save(user=request.user, module=module, files=body.get("files"))
        return Response({"files": draft.files, "updated_at": draft.updated_at.isoformat()})


class HintRevealView(LabAPIView):
    """``POST /api/modules/<slug>/hints/reveal/`` ``{"level": n, "step"?: id}`` -> ``{"hints": [{id, step, level,
    text}]}``; level n requires level n-1 first (409 ``hint_order``)."""

    openapi = {
        "post": {
            "responses": {200: "api.schema.json#/$defs/hints", 400: ERROR_REF, 409: ERROR_REF},
            "request": "api.schema.json#/$defs/hint_request",
        }
    }

    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        body = request.data if isinstance(request.data, dict) else {}
        hints = services.hint_reveal(
            user=request.user,
            module=module,
            level=body.get("level"),
            step=body.get("step"),
            lang=request_lang(request),
        )
        return Response({"hints": hints})


class CarryForwardView(LabAPIView):
    """``PUT /api/modules/<slug>/carry-forward/`` ``{"use": "own" | "reference"}`` -> ``{"use"}``: what later modules
    that need this module's files run with once it is passed (``GET`` answers the current choice)."""

    openapi = {
        "get": {"responses": {200: "api.schema.json#/$defs/carry_forward"}},
        "put": {
            "responses": {200: "api.schema.json#/$defs/carry_forward", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/carry_forward",
        },
    }

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        return Response({"use": selectors.carry_forward_get(user=request.user, module=module)})

    def put(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug, with_payload=False)
        body = request.data if isinstance(request.data, dict) else {}
        progress = services.carry_forward_set(user=request.user, module=module, use=body.get("use"))
        return Response({"use": progress.carry_forward})


class ReflectionView(LabAPIView):
    """``POST /api/modules/<slug>/reflection/`` ``{"answers": {qid: text_or_choice_id}}`` -> ``{"answers",
    "correct": {qid: bool}, "state", "unlocked": [{slug, title, url}]}`` (``unlocked``: the modules this
    reflection opened, when it completed a passed module); ``GET`` returns the stored answers (or null)."""

    openapi = {
        "get": {"responses": {200: "api.schema.json#/$defs/reflection_stored"}},
        "post": {
            "responses": {200: "api.schema.json#/$defs/reflection", 400: ERROR_REF},
            "request": "api.schema.json#/$defs/reflection_request",
        },
    }

    def get(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        reflection = selectors.reflection_get(user=request.user, module=module)
        return Response({"answers": reflection.answers if reflection else None})

    def post(self, request: AuthenticatedRequest, slug: str) -> Response:
        module = self.get_module(slug)
        body = request.data if isinstance(request.data, dict) else {}
        locked_before = selectors.locked_module_slugs(user=request.user)
        reflection = services.reflection_submit(user=request.user, module=module, answers=body.get("answers"))
        standing = selectors.module_standing(user=request.user, module=module, locked_before=locked_before)
        return Response(
            {
                "answers": reflection.answers,
                "correct": reflection.correct,
                "state": standing["progress"]["state"],
                "unlocked": standing["unlocked"],
            }
        )


class BadgeListView(LabAPIView):
    """``GET /api/badges/`` -> ``{"badges": [...]}`` (``modules.badges``): the dashboard re-reads them after an
    action that may move one (a note), instead of waiting for a reload."""

    openapi = {"get": {"responses": {200: "api.schema.json#/$defs/badges"}}}

    def get(self, request: AuthenticatedRequest) -> Response:
        return Response({"badges": badges_for(user=request.user, lang=request_lang(request))})


class NoteListView(LabAPIView):
    """``GET /api/notes/`` -> ``{"notes": [...]}``; ``POST`` ``{"text", "module"?: slug}`` -> 201 note."""

    openapi = {
        "get": {"responses": {200: "api.schema.json#/$defs/notes"}},
        "post": {
            "responses": {201: "common.schema.json#/$defs/note", 400: ERROR_REF, 404: ERROR_REF},
            "request": "api.schema.json#/$defs/note_request",
        },
    }

    def get(self, request: AuthenticatedRequest) -> Response:
        lang = request_lang(request)
        return Response(
            {"notes": [selectors.note_to_dict(n, lang) for n in selectors.notes_list(user=request.user)]}
        )

    def post(self, request: AuthenticatedRequest) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        module = None
        if body.get("module") is not None:
            if not isinstance(body["module"], str):
                raise services.InvalidInput("module must be a slug", code="module_invalid")
            module = self.get_module(body["module"], unlocked=False, with_payload=False)
        note = services.note_create(user=request.user, module=module, text=body.get("text"))
        return Response(selectors.note_to_dict(note, request_lang(request)), status=status.HTTP_201_CREATED)


#: What a learner still has to do about a prerequisite, by its state (DECISIONS.md's state machine).
PREREQUISITE_TODO = {
    "locked": _lazy("locked too: complete its own prerequisites first"),
    "unlocked": _lazy("pass its tests, then submit its reflection"),
    "passed": _lazy("tests passed: submit its reflection"),
    "completed": _lazy("completed"),
}


def locked_page(request: AuthenticatedHttpRequest, module: Module) -> HttpResponse:
    """403 for a locked module: which prerequisites are not completed yet, what each still needs, and links."""
    lang = request_lang(request)
    states = {s.module.slug: s for s in selectors.module_states(user=request.user)}
    missing = []
    for slug in module.metadata.get("prerequisites") or []:
        state = states.get(slug)
        if state is None or state.state == "completed":
            continue
        missing.append(
            {
                "slug": slug,
                "title": selectors.localize(state.module.title, lang),
                "state": state.state,
                "todo": PREREQUISITE_TODO[state.state],
                "url": reverse("module-page", args=[slug]) if state.state != "locked" else None,
            }
        )
    context = {
        "status": 403,
        "heading": _("%(title)s is locked") % {"title": selectors.localize(module.title, lang)},
        "lead": _("It opens once you have completed these modules (tests passed and reflection submitted):"),
        "prerequisites": missing,
    }
    return render(request, "modules/unavailable.html", context, status=403)


def not_found_page(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 (also the site's ``handler404``): no such page or module, and the way back."""
    context = {
        "status": 404,
        "heading": _("There is no such page"),
        "lead": _("The module may have been renamed or retired. Your work and progress are safe."),
        "prerequisites": [],
    }
    return render(request, "modules/unavailable.html", context, status=404)
