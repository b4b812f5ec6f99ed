"""Reads for the modules app, including the ``access_*`` authorization selectors.

Design choices:
- Authorization lives only here, one condition per line; views and services ask, never re-derive.
- Instructors (group ``instructor``) and superusers see every module unlocked; they are the people who test content.
- A module is unlocked when it has no prerequisites, when every prerequisite is completed (passed and its
  reflection submitted: DECISIONS.md's state machine), or when an instructor opened it for the learner (an ``Unlock`` row, the only thing stored: the prerequisite rule is computed, never
  written down a second time).
- List selectors take a fixed number of queries whatever the number of modules (pinned by tests).
- Localised strings: content stores ``{en, zh}``; ``localize`` picks by the request language with English fallback.
- Throttles (``login_block``, ``signup_block``) read ``AuthAttempt`` rows: an account is locked once it has
  ``LAB_LOGIN_FAILURES_PER_ACCOUNT`` failures in the window, for ``LAB_LOGIN_LOCKOUT_SECONDS`` after the last one,
  doubled by every failure beyond the limit up to ``LAB_LOGIN_LOCKOUT_MAX_SECONDS``; an address is held back once
  it has its hourly number of failed logins (or sign-ups), until the oldest of them is an hour old.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone

from modules import spec as module_spec
from modules.content import guide_context
from modules.handouts import guide_html_cached
from modules.models import (
    AuthAttempt,
    CarryForward,
    Draft,
    HintReveal,
    LearnerSettings,
    Module,
    Note,
    Progress,
    Reflection,
    Route,
    SearchEntry,
    Unlock,
)
from modules.roles import INSTRUCTOR_GROUP
from modules.spec import ModuleSpec
from modules.usernames import username_skeleton

#: Where ``user_is_instructor`` remembers its answer on the user object (which lives as long as the request).
INSTRUCTOR_CACHE_ATTR = "_lab_is_instructor"

PASSED_STATUSES = (Progress.Status.PASSED, Progress.Status.COMPLETED)


def localize(value: Any, lang: str) -> Any:
    """``{"en": .., "zh": ..}`` -> the string for ``lang`` ("zh-hans" reads "zh"); other values pass through."""
    if not isinstance(value, dict):
        return value
    key = "zh" if lang.startswith("zh") else "en"
    if value.get(key) not in (None, "", []):
        return value[key]
    return value.get("en", value.get("zh", ""))


def user_is_instructor(user: User | AnonymousUser) -> bool:
    """Superuser or member of the instructor group (remembered on the user object for the request)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached: bool | None = getattr(user, INSTRUCTOR_CACHE_ATTR, None)
    if cached is None:
        cached = user.groups.filter(name=INSTRUCTOR_GROUP).exists()
        setattr(user, INSTRUCTOR_CACHE_ATTR, cached)
    return cached


# --- authorization ------------------------------------------------------------------------------------------------
def access_module_visible(*, user: User | AnonymousUser, module: Module) -> bool:
    if not user.is_authenticated:
        return False
    if module.status != Module.Status.ACTIVE:
        return False
    return True


def access_module_unlocked(
    *,
    user: User | AnonymousUser,
    module: Module,
    completed_slugs: set[str] | None = None,
    unlocked_ids: set[int] | None = None,
    instructor: bool | None = None,
) -> bool:
    """Whether ``user`` may work on ``module``; the optional sets let list selectors avoid per-module queries."""
    if not user.is_authenticated:
        return False
    if not access_module_visible(user=user, module=module):
        return False
    if instructor if instructor is not None else user_is_instructor(user):
        return True
    prerequisites = set(module.metadata.get("prerequisites") or [])
    if not prerequisites:
        return True
    if completed_slugs is None:
        completed_slugs = completed_module_slugs(user=user)
    if prerequisites <= completed_slugs:
        return True
    if unlocked_ids is not None:
        return module.pk in unlocked_ids
    return Unlock.objects.filter(user=user, module=module).exists()


# --- reads --------------------------------------------------------------------------------------------------------
def module_get(*, slug: str, with_payload: bool = True) -> Module | None:
    """The active module ``slug``, or None."""
    qs = Module.objects.filter(slug=slug, status=Module.Status.ACTIVE)
    if not with_payload:
        qs = qs.defer("payload")
    return qs.first()


def module_next(*, module: Module) -> Module | None:
    """The active module that follows ``module`` in course order, or None for the last one."""
    return (
        Module.objects.filter(status=Module.Status.ACTIVE, order__gt=module.order)
        .defer("payload")
        .order_by("order", "slug")
        .first()
    )


def completed_module_slugs(*, user: User) -> set[str]:
    """Modules ``user`` completed (passed and reflected): what opens their dependants (DECISIONS.md)."""
    return set(
        Progress.objects.filter(user=user, status=Progress.Status.COMPLETED).values_list(
            "module__slug", flat=True
        )
    )


def carry_forward_get(*, user: User, module: Module) -> str:
    """``own`` or ``reference``: what later modules that need ``module``'s files run with for ``user``."""
    row = Progress.objects.filter(user=user, module=module).values_list("carry_forward", flat=True).first()
    return row or CarryForward.OWN


@dataclass
class ModuleState:
    module: Module
    progress: Progress | None
    state: str  # locked | unlocked | passed | completed


def module_states(*, user: User) -> list[ModuleState]:
    """Every active module with the learner's progress and state, in order (3-4 queries in all)."""
    modules = list(Module.objects.filter(status=Module.Status.ACTIVE).defer("payload"))
    progress = {p.module_id: p for p in Progress.objects.filter(user=user)}
    slug_by_id = {m.pk: m.slug for m in modules}
    completed = {
        slug_by_id.get(p.module_id, "") for p in progress.values() if p.status == Progress.Status.COMPLETED
    }
    unlocked_ids = set(Unlock.objects.filter(user=user).values_list("module_id", flat=True))
    instructor = user_is_instructor(user)
    states = []
    for module in modules:
        row = progress.get(module.pk)
        if row is not None and row.status == Progress.Status.COMPLETED:
            state = "completed"
        elif row is not None and row.status == Progress.Status.PASSED:
            state = "passed"
        elif access_module_unlocked(
            user=user,
            module=module,
            completed_slugs=completed,
            unlocked_ids=unlocked_ids,
            instructor=instructor,
        ):
            state = "unlocked"
        else:
            state = "locked"
        states.append(ModuleState(module=module, progress=row, state=state))
    return states


def bilingual(value: Any) -> dict[str, str]:
    """``{en, zh}`` content text with both keys filled (each falls back to the other): for language-neutral payloads."""
    if not isinstance(value, dict):
        text = "" if value is None else str(value)
        return {"en": text, "zh": text}
    en, zh = value.get("en") or "", value.get("zh") or ""
    return {"en": en or zh, "zh": zh or en}


def locked_module_slugs(*, user: User) -> set[str]:
    """The active modules ``user`` may not open yet."""
    return {s.module.slug for s in module_states(user=user) if s.state == "locked"}


def module_standing(*, user: User, module: Module, locked_before: set[str]) -> dict[str, Any]:
    """Where ``user`` stands after a verdict on ``module``, language-neutral (what the module page updates):
    ``progress`` {state, attempts, best_score, max_score, passed_at}; ``unlocked`` [{slug, title {en, zh}, url}]
    (modules in ``locked_before`` that are open now); ``next_module`` {slug, title, url, state} | null (the next
    module in course order). One pass over ``module_states`` (3-4 queries)."""
    states = module_states(user=user)
    mine = next((s for s in states if s.module.pk == module.pk), None)
    progress = mine.progress if mine is not None else None

    def link(state: ModuleState) -> dict[str, Any]:
        slug = state.module.slug
        return {
            "slug": slug,
            "title": bilingual(state.module.title),
            "url": reverse("module-page", args=[slug]),
        }

    following = next(
        (s for s in states if (s.module.order, s.module.slug) > (module.order, module.slug)), None
    )
    return {
        "progress": {
            "state": mine.state if mine is not None else module_state(user=user, module=module),
            "attempts": progress.attempts if progress else 0,
            "best_score": progress.best_score if progress else 0.0,
            "max_score": progress.max_score if progress else 0.0,
            "passed_at": progress.passed_at.isoformat() if progress and progress.passed_at else None,
        },
        "unlocked": [link(s) for s in states if s.module.slug in locked_before and s.state != "locked"],
        "next_module": {**link(following), "state": following.state} if following is not None else None,
    }


def module_state(*, user: User, module: Module) -> str:
    row = Progress.objects.filter(user=user, module=module).first()
    if row is not None and row.status == Progress.Status.COMPLETED:
        return "completed"
    if row is not None and row.status == Progress.Status.PASSED:
        return "passed"
    return "unlocked" if access_module_unlocked(user=user, module=module) else "locked"


_spec_cache: dict[tuple[str, str], ModuleSpec] = {}


def module_spec_of(*, module: Module) -> ModuleSpec:
    """The module spec of a synced module, parsed from its stored module.yaml (cached per metadata version)."""
    canonical = json.dumps(module.metadata, sort_keys=True, ensure_ascii=False)
    key = (module.slug, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    spec = _spec_cache.get(key)
    if spec is None:
        spec = _spec_cache[key] = module_spec.parse(
            module.metadata, root=Path(settings.LAB_CONTENT_DIR) / module.slug
        )
    return spec


def module_guide_html(*, module: Module, lang: str) -> str:
    """The module's guide in ``lang`` ("en" | "zh"; the other one when it has only one) as sanitised HTML, with
    the facts, deviations and figures it cites (``modules.handouts``; cached per content hash and language)."""
    guides = module.payload.get("guides", {})
    key = _guide_language(guides, lang)
    figures = module.payload.get("figures") or {}
    return guide_html_cached(
        module.content_hash,
        key,
        guides.get(key, ""),
        lambda: guide_context(module_spec_of(module=module), key, figures),
    )


def _guide_language(guides: dict[str, Any], lang: str) -> str:
    """The guide a page in ``lang`` shows: its own, else the English one, else the Chinese one."""
    return lang if lang in guides else ("en" if "en" in guides else "zh")


def guides_warm() -> int:
    """Render every active module's guides (each language it has) into this process's guide cache, so that no learner's
    first visit of a module after a start pays for it (a guide costs 20-50 ms: markdown, maths, sanitising;
    measured as the tail of the module page); returns how many. A web process calls it on a thread as it starts
    (``labplatform.asgi``)."""
    count = 0
    for module in Module.objects.filter(status=Module.Status.ACTIVE).order_by("order", "slug"):
        guides = module.payload.get("guides", {})
        for lang in sorted({_guide_language(guides, lang) for lang in ("en", "zh")}):  # a guide in one: once
            module_guide_html(module=module, lang=lang)
            count += 1
    return count


def draft_files(*, user: User, module: Module) -> dict[str, str]:
    draft = Draft.objects.filter(user=user, module=module).only("files").first()
    return dict(draft.files) if draft else {}


def module_files(*, user: User, module: Module) -> list[dict[str, Any]]:
    """The editable files: path, starter text, and the learner's draft text (None when never saved)."""
    drafts = draft_files(user=user, module=module)
    starters = module.payload.get("starters", {})
    return [
        {
            "path": entry["path"],
            "starter": starters.get(entry["path"], ""),
            "draft": drafts.get(entry["path"]),
            "language": "python" if entry["path"].endswith(".py") else "plaintext",
        }
        for entry in module.metadata.get("files", [])
    ]


def hints_revealed(*, user: User, module: Module, lang: str) -> list[dict[str, Any]]:
    revealed = set(HintReveal.objects.filter(user=user, module=module).values_list("hint_id", flat=True))
    return [
        {"id": h["id"], "step": h.get("step"), "level": h["level"], "text": localize(h["text"], lang)}
        for h in module.payload.get("hints", [])
        if h["id"] in revealed
    ]


def hint_levels(*, module: Module) -> list[int]:
    return sorted({int(h["level"]) for h in module.payload.get("hints", [])})


def hint_levels_by_step(*, module: Module) -> dict[str, list[int]]:
    """The hint levels each step has (``""``: hints for the whole module), so each step reveals its own."""
    out: dict[str, set[int]] = {}
    for h in module.payload.get("hints", []):
        out.setdefault(h.get("step") or "", set()).add(int(h["level"]))
    return {step: sorted(levels) for step, levels in out.items()}


def reflection_questions(*, module: Module, lang: str) -> list[dict[str, Any]]:
    """Questions without their answers (the answer key never leaves the server)."""
    return [
        {
            "id": q["id"],
            "kind": q["kind"],
            "prompt": localize(q["prompt"], lang),
            "choices": [{"id": c["id"], "text": localize(c["text"], lang)} for c in q.get("choices") or []],
        }
        for q in module.payload.get("reflection", [])
    ]


def reflection_get(*, user: User, module: Module) -> Reflection | None:
    return Reflection.objects.filter(user=user, module=module).first()


def notes_list(*, user: User, limit: int = 200) -> list[Note]:
    return list(
        Note.objects.filter(user=user)
        .select_related("module")
        .only("id", "text", "created_at", "module__slug", "module__title")[:limit]
    )


def note_to_dict(note: Note, lang: str) -> dict[str, Any]:
    return {
        "id": note.pk,
        "module": note.module.slug if note.module else None,
        "module_title": localize(note.module.title, lang) if note.module else None,
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }


def review_list(*, states: list[ModuleState], lang: str) -> list[dict[str, Any]]:
    """What to revisit: failed latest attempts first, then passed modules without a reflection, oldest first."""
    failing = [
        {"slug": s.module.slug, "title": localize(s.module.title, lang), "reason": "last_attempt_failed"}
        for s in states
        if s.progress is not None
        and s.state == "unlocked"
        and (s.progress.last_result or {}).get("status") in {"fail", "error"}
    ]
    reflect = sorted(
        (s for s in states if s.state == "passed" and s.progress is not None),
        key=lambda s: s.progress.passed_at or s.progress.updated_at,  # type: ignore[union-attr]
    )
    return failing + [
        {"slug": s.module.slug, "title": localize(s.module.title, lang), "reason": "reflection_pending"}
        for s in reflect
    ]


# --- accounts -----------------------------------------------------------------------------------------------------
def username_lookalike_exists(*, username: str) -> bool:
    """Whether an existing account's name has the same confusable skeleton as ``username`` (``modules.usernames``).

    Skeletons are computed on the fly over every username: about 6 ms per 1,000 accounts, paid once per sign-up.
    Past ~100,000 accounts a stored, indexed skeleton column would be the better trade.
    """
    skeleton = username_skeleton(username)
    names = User.objects.values_list("username", flat=True).iterator(chunk_size=2000)
    return any(username_skeleton(name) == skeleton for name in names)


@dataclass(frozen=True)
class AuthBlock:
    """Why a login or sign-up is held back, and until when."""

    reason: Literal["account", "address", "signups"]
    until: datetime

    def retry_after_seconds(self) -> int:
        """Whole seconds from now until ``until`` (at least 1): the ``Retry-After`` header's value."""
        return max(1, math.ceil((self.until - timezone.now()).total_seconds()))


def _address_block(*, kind: str, address: str | None, limit: int) -> datetime | None:
    """Until when ``address`` is held back for ``limit`` attempts of ``kind`` within the last hour, or None."""
    if address is None:
        return None
    hour = timedelta(hours=1)
    recent = AuthAttempt.objects.filter(kind=kind, address=address, created_at__gt=timezone.now() - hour)
    # The limit-th newest attempt: once it is an hour old, fewer than ``limit`` remain in the window.
    times = list(recent.order_by("-created_at").values_list("created_at", flat=True)[limit - 1 : limit])
    return times[0] + hour if times else None


def login_block(*, username: str, address: str | None) -> AuthBlock | None:
    """Whether a login as ``username`` from ``address`` is held back now (see the module docstring)."""
    now = timezone.now()
    limit = settings.LAB_LOGIN_FAILURES_PER_ACCOUNT
    window = timedelta(seconds=settings.LAB_LOGIN_FAILURE_WINDOW_SECONDS)
    failures = AuthAttempt.objects.filter(
        kind=AuthAttempt.Kind.LOGIN_FAILED, username=username, created_at__gt=now - window
    ).aggregate(count=Count("id"), last=Max("created_at"))
    if failures["count"] >= limit:
        doublings = min(failures["count"] - limit, 32)
        seconds = min(
            settings.LAB_LOGIN_LOCKOUT_SECONDS * 2**doublings, settings.LAB_LOGIN_LOCKOUT_MAX_SECONDS
        )
        until = failures["last"] + timedelta(seconds=seconds)
        if until > now:
            return AuthBlock("account", until)
    until = _address_block(
        kind=AuthAttempt.Kind.LOGIN_FAILED,
        address=address,
        limit=settings.LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR,
    )
    return AuthBlock("address", until) if until is not None and until > now else None


def signup_block(*, address: str | None) -> AuthBlock | None:
    """Whether a sign-up from ``address`` is held back now (``LAB_SIGNUPS_PER_ADDRESS_HOUR``)."""
    until = _address_block(
        kind=AuthAttempt.Kind.SIGNUP, address=address, limit=settings.LAB_SIGNUPS_PER_ADDRESS_HOUR
    )
    return AuthBlock("signups", until) if until is not None and until > timezone.now() else None


# --- routes, settings, references, search -------------------------------------------------------------------------
#: nanochat's source at the commit the course follows (DECISIONS.md), for the references page's links.
NANOCHAT_SOURCE_URL = "https://github.com/karpathy/nanochat/blob/48abd7d/{path}"


def learner_settings_get(*, user: User) -> LearnerSettings:
    """The learner's settings row, or an unsaved one holding the defaults."""
    row = LearnerSettings.objects.select_related("route").filter(user=user).first()
    return row or LearnerSettings(user=user, updated_at=timezone.now())


def routes_list() -> list[Route]:
    """The routes learners choose from, the default (full course) first."""
    return sorted(Route.objects.all(), key=lambda r: (not r.is_default, r.position, r.slug))


def route_of(*, user: User, routes: list[Route] | None = None) -> Route | None:
    """The route the learner chose, else the default route (None before the first ``sync_content``)."""
    routes = routes if routes is not None else routes_list()
    chosen = learner_settings_get(user=user).route_id
    return next((r for r in routes if r.pk == chosen), None) or next(
        (r for r in routes if r.is_default), None
    )


def route_module_slugs(*, route: Route | None, modules: list[Module]) -> set[str]:
    """The slugs of ``modules`` on ``route``: all of them on the default route (or none chosen), else the track's
    members and every prerequisite they need, transitively (a track never hides a module it waits for)."""
    all_slugs = {m.slug for m in modules}
    if route is None or route.is_default:
        return all_slugs
    members = list(route.members.values_list("slug", flat=True))
    if not members:
        return all_slugs
    prerequisites = {m.slug: list(m.metadata.get("prerequisites") or []) for m in modules}
    wanted: set[str] = set()
    todo = list(members)
    while todo:
        slug = todo.pop()
        if slug in wanted or slug not in all_slugs:
            continue
        wanted.add(slug)
        todo.extend(prerequisites.get(slug, []))
    return wanted


def route_to_dict(route: Route, lang: str) -> dict[str, Any]:
    return {
        "slug": route.slug,
        "title": localize(route.title, lang) or route.slug,
        "description": localize(route.description, lang) or "",
        "is_default": route.is_default,
    }


def modules_with_payload(*, slugs: list[str]) -> list[Module]:
    """The active modules ``slugs`` with their payload, in order."""
    return list(Module.objects.filter(status=Module.Status.ACTIVE, slug__in=slugs).order_by("order", "slug"))


def module_references(*, module: Module, lang: str) -> dict[str, Any]:
    """What the references page lists for a module: the nanochat files it rebuilds (links into nanochat's source at
    the course's commit), and the glossary and papers authored in its ``references.yaml``."""
    return {
        "source": [
            {"path": entry["path"], "url": NANOCHAT_SOURCE_URL.format(path=entry["path"])}
            for entry in module.metadata.get("files") or []
            if isinstance(entry, dict)
            and str(entry.get("path", "")).startswith(("nanochat/", "scripts/", "tasks/"))
        ],
        "glossary": [
            {"term": localize(g["term"], lang), "definition": localize(g["definition"], lang)}
            for g in module.payload.get("glossary") or []
        ],
        "papers": [
            {"title": p["title"], "url": p["url"], "note": localize(p.get("note") or {}, lang) or ""}
            for p in module.payload.get("papers") or []
        ],
    }


def search_results(*, user: User, query: str, lang: str, limit: int = 30) -> list[dict[str, Any]]:
    """Search hits the learner may read: a locked module's title is found, its guide, glossary and threads are not
    (``modules.search`` does the matching). Each hit: {kind, title, excerpt, url, module {slug, title}}."""
    from modules import search

    states = {s.module.pk: s for s in module_states(user=user)}
    hits: list[dict[str, Any]] = []
    for entry in search.search_entries(query=query, lang=lang, limit=limit * 2):
        state = states.get(entry.module_id)
        if state is None:
            continue
        if state.state == "locked" and entry.kind != SearchEntry.Kind.MODULE:
            continue
        hits.append(
            {
                "kind": entry.kind,
                "title": entry.title,
                "excerpt": search.excerpt(entry.body, query),
                "url": entry.url,
                "locked": state.state == "locked",
                "module": {"slug": state.module.slug, "title": localize(state.module.title, lang)},
            }
        )
        if len(hits) == limit:
            break
    hits.sort(key=lambda hit: hit["locked"])  # what the learner can open first, each group in rank order
    return hits
