"""LTI endpoints: OIDC login initiation, launch, the tool's JWKS. Thin: parse, call a service, respond.

A refused launch answers 400 with ``lti/refused.html`` (what was refused and what to do) and sets nothing: no
login, no cookie but what the platform's next try needs. Pages shown inside the platform's iframe (the refusal,
the deep-linking choice) carry that platform's origins in ``frame-ancestors`` (``lab_frame_ancestors``, read by
``modules.middleware``); a learner's later pages get them from the session (``selectors.SESSION_FRAME_ORIGINS``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from modules.lti import selectors, services
from modules.lti.tool import tool_keys_jwks
from modules.models import Module
from modules.roles import INSTRUCTOR_GROUP


def _refusal_reasons() -> dict[str, str]:
    return {
        "bad_signature": _("The launch was not signed by the platform's registered keys."),
        "wrong_audience": _("The launch was meant for another tool (its audience is not this lab)."),
        "expired": _("The launch has expired. Open the activity again from your course."),
        "replayed": _("This launch was already used. Open the activity again from your course."),
        "unknown_deployment": _(
            "This deployment of the lab is not registered. Ask your course administrator."
        ),
        "unknown_platform": _(
            "This learning platform is not registered with the lab. Ask your course administrator."
        ),
        "missing_roles": _("The launch does not say what your role in the course is."),
        "bad_state": _(
            "The launch could not be matched with its login. Open the activity again from your course."
        ),
        "not_instructor": _("Only instructors can add the lab to a course."),
        "invalid": _("The launch is not a valid LTI 1.3 message."),
    }


def _refused(request: HttpRequest, refusal: services.LaunchRefused) -> HttpResponse:
    reasons = _refusal_reasons()
    context = {
        "code": refusal.code,
        "reason": reasons.get(refusal.code, reasons["invalid"]),
        "detail": refusal.detail,
    }
    response = render(request, "lti/refused.html", context, status=400)
    response.xframe_options_exempt = True
    response.lab_frame_ancestors = selectors.all_frame_origins()  # type: ignore[attr-defined]
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def login_initiation(request: HttpRequest) -> HttpResponse:
    try:
        response = services.login_redirect(
            request=request, launch_url=request.build_absolute_uri("/lti/launch/")
        )
    except services.LaunchRefused as refusal:
        return _refused(request, refusal)
    return response


@csrf_exempt
@xframe_options_exempt
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    try:
        accepted = services.launch_validate(request=request)
        if accepted.is_deep_link and services.role_group(accepted.roles) != INSTRUCTOR_GROUP:
            raise services.LaunchRefused("not_instructor", "deep linking needs an instructor role")
    except services.LaunchRefused as refusal:
        return _refused(request, refusal)
    user, link = services.launch_accept(launch=accepted)
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    origins = selectors.frame_origins(platform=accepted.platform)
    request.session[selectors.SESSION_FRAME_ORIGINS] = origins
    language = "zh-hans" if str(accepted.data.get("locale") or "").lower().startswith("zh") else "en"
    translation.activate(language)
    response: HttpResponse
    if accepted.is_deep_link:
        modules = Module.objects.filter(status=Module.Status.ACTIVE).order_by("order", "slug")
        choices = services.deep_link_choices(
            launch=accepted, modules=modules, launch_url=request.build_absolute_uri("/lti/launch/")
        )
        context: dict[str, Any] = {"choices": choices, "lang": "zh" if language == "zh-hans" else "en"}
        response = render(request, "lti/deep_link.html", context)
        response.lab_frame_ancestors = origins  # type: ignore[attr-defined]
        response.lab_form_action = selectors.origins_of([c["return_url"] for c in choices])  # type: ignore[attr-defined]
    elif link is not None and link.module is not None:
        response = redirect("module-page", slug=link.module.slug)
    else:
        response = redirect("dashboard")
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="None", secure=True)
    return response


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse(tool_keys_jwks())
