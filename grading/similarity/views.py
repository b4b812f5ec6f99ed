"""Instructors' similarity pages: pairs above the threshold, and one pair side by side (both server-rendered)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from grading.similarity import selectors
from modules.api import AuthenticatedHttpRequest, request_lang
from modules.selectors import localize, module_get


@login_required
@require_GET
def pairs_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``/instructor/similarity/?module=<slug>``: pairs at or above the threshold, most alike first."""
    if not selectors.access_similarity_pairs(user=request.user):
        raise PermissionDenied
    slug = request.GET.get("module") or None
    module = module_get(slug=slug, with_payload=False) if slug else None
    if slug and module is None:
        raise Http404("no such module")
    lang = request_lang(request)
    pairs = [
        {"match": m, "module_title": localize(m.module.title, lang), "percent": round(m.score * 100)}
        for m in selectors.pairs_list(module=module)
    ]
    return render(
        request,
        "similarity/pairs.html",
        {"pairs": pairs, "module": module, "threshold": round(selectors.threshold() * 100)},
    )


@login_required
@require_GET
def pair_page(request: AuthenticatedHttpRequest, match_id: int) -> HttpResponse:
    """``/instructor/similarity/<id>/``: the two sides of one pair, file by file."""
    if not selectors.access_similarity_pairs(user=request.user):
        raise PermissionDenied
    match = selectors.match_get(match_id=match_id)
    if match is None:
        raise Http404("no such pair")
    context = {
        "match": match,
        "percent": round(match.score * 100),
        "module_title": localize(match.module.title, request_lang(request)),
        "files": selectors.match_diff(match=match),
    }
    return render(request, "similarity/pair.html", context)
