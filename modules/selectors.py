"""Reads for the modules app, including the ``access_*`` authorization selectors.

Design choices:
- Authorization lives only here, one condition per line; views and services ask, never re-derive.
- Instructors (group ``instructor``) and superusers see every module unlocked; they are the people who test content.
- A module is unlocked when it has no prerequisites, when every prerequisite is passed, or when an ``Unlock`` row
  exists (an instructor's override, or the record written when the prerequisites were passed).
- List selectors take a fixed number of queries whatever the number of modules (pinned by tests).
- Localised strings: content stores ``{en, zh}``; ``localize`` picks by the request language with English fallback.
- Discussions: a question is seen (and answered) by everyone who may open its module; a review only by its author
  and instructors. Thread lists take a fixed number of queries (post counts annotated, authors joined).
  Post bodies leave the server only as HTML rendered by ``markdown_to_safe_html`` (nh3), never as raw HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse

from modules.models import Draft, HintReveal, Module, Note, Post, Progress, Reflection, Thread, Unlock
from modules.rendering import markdown_to_safe_html

INSTRUCTOR_GROUP = "instructor"
AUTHOR_GROUP = "author"
LEARNER_GROUP = "learner"

PASSED_STATUSES = (Progress.Status.PASSED, Progress.Status.COMPLETED)


def localize(value: Any, lang: str) -> Any:
    """``{"en": .., "zh": ..}`` -> the string for ``lang`` ("zh-hans" reads "zh"); other values pass through."""
    if not isinstance(value, dict):
        return value
    key = "zh" if lang.startswith("zh") else "en"
    if value.get(key) not in (None, "", []):
        return value[key]
    return value.get("en", value.get("zh", ""))


def user_is_instructor(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Superuser or member of the instructor group (remembered on the user object for the request)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_lab_is_instructor", None)
    if cached is None:
        cached = user.groups.filter(name=INSTRUCTOR_GROUP).exists()
        user._lab_is_instructor = cached  # type: ignore[union-attr]
    return cached


# --- authorization ------------------------------------------------------------------------------------------------
def access_module_visible(*, user: AbstractBaseUser | AnonymousUser, module: Module) -> bool:
    if not user.is_authenticated:
        return False
    if module.status != Module.Status.ACTIVE:
        return False
    return True


def access_module_unlocked(
    *,
    user: AbstractBaseUser | AnonymousUser,
    module: Module,
    passed_slugs: set[str] | None = None,
    unlocked_ids: set[int] | None = None,
    instructor: bool | None = None,
) -> bool:
    """Whether ``user`` may work on ``module``; the optional sets let list selectors avoid per-module queries."""
    if not access_module_visible(user=user, module=module):
        return False
    if instructor if instructor is not None else user_is_instructor(user):
        return True
    prerequisites = set(module.metadata.get("prerequisites") or [])
    if not prerequisites:
        return True
    if passed_slugs is None:
        passed_slugs = passed_module_slugs(user=user)
    if prerequisites <= passed_slugs:
        return True
    if unlocked_ids is not None:
        return module.pk in unlocked_ids
    return Unlock.objects.filter(user=user, module=module).exists()


def access_module_reference(*, user: AbstractBaseUser, module: Module) -> bool:
    """The reference solution opens after the learner's first attempt (instructors: always)."""
    if not access_module_unlocked(user=user, module=module):
        return False
    if user_is_instructor(user):
        return True
    return Progress.objects.filter(user=user, module=module, attempts__gt=0).exists()


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


def passed_module_slugs(*, user: AbstractBaseUser) -> set[str]:
    return set(
        Progress.objects.filter(user=user, status__in=PASSED_STATUSES).values_list("module__slug", flat=True)
    )


@dataclass
class ModuleState:
    module: Module
    progress: Progress | None
    state: str  # locked | unlocked | passed | completed


def module_states(*, user: AbstractBaseUser) -> list[ModuleState]:
    """Every active module with the learner's progress and state, in order (3-4 queries in all)."""
    modules = list(Module.objects.filter(status=Module.Status.ACTIVE).defer("payload"))
    progress = {p.module_id: p for p in Progress.objects.filter(user=user)}
    slug_by_id = {m.pk: m.slug for m in modules}
    passed = {slug_by_id.get(p.module_id, "") for p in progress.values() if p.status in PASSED_STATUSES}
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
            user=user, module=module, passed_slugs=passed, unlocked_ids=unlocked_ids, instructor=instructor
        ):
            state = "unlocked"
        else:
            state = "locked"
        states.append(ModuleState(module=module, progress=row, state=state))
    return states


def module_state(*, user: AbstractBaseUser, module: Module) -> str:
    row = Progress.objects.filter(user=user, module=module).first()
    if row is not None and row.status == Progress.Status.COMPLETED:
        return "completed"
    if row is not None and row.status == Progress.Status.PASSED:
        return "passed"
    return "unlocked" if access_module_unlocked(user=user, module=module) else "locked"


def draft_files(*, user: AbstractBaseUser, module: Module) -> dict[str, str]:
    draft = Draft.objects.filter(user=user, module=module).only("files").first()
    return dict(draft.files) if draft else {}


def module_files(*, user: AbstractBaseUser, module: Module) -> list[dict[str, Any]]:
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


def hints_revealed(*, user: AbstractBaseUser, module: Module, lang: str) -> list[dict[str, Any]]:
    revealed = set(HintReveal.objects.filter(user=user, module=module).values_list("hint_id", flat=True))
    return [
        {"id": h["id"], "step": h.get("step"), "level": h["level"], "text": localize(h["text"], lang)}
        for h in module.payload.get("hints", [])
        if h["id"] in revealed
    ]


def hint_levels(*, module: Module) -> list[int]:
    return sorted({int(h["level"]) for h in module.payload.get("hints", [])})


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


def reflection_get(*, user: AbstractBaseUser, module: Module) -> Reflection | None:
    return Reflection.objects.filter(user=user, module=module).first()


def notes_list(*, user: AbstractBaseUser, limit: int = 200) -> list[Note]:
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


# --- discussions --------------------------------------------------------------------------------------------------
def access_thread_view(*, user: AbstractBaseUser | AnonymousUser, thread: Thread) -> bool:
    if not access_module_unlocked(user=user, module=thread.module):
        return False
    if thread.kind == Thread.Kind.QUESTION:
        return True
    if thread.author_id == user.pk:
        return True
    return user_is_instructor(user)


def access_thread_reply(*, user: AbstractBaseUser | AnonymousUser, thread: Thread) -> bool:
    """Whoever may see a thread may answer it (resolved threads included: a late "thanks" is fine)."""
    return access_thread_view(user=user, thread=thread)


def access_thread_resolve(*, user: AbstractBaseUser | AnonymousUser, thread: Thread) -> bool:
    if not access_thread_view(user=user, thread=thread):
        return False
    if thread.author_id == user.pk:
        return True
    return user_is_instructor(user)


def access_review_queue(*, user: AbstractBaseUser | AnonymousUser) -> bool:
    return user_is_instructor(user)


def _threads() -> QuerySet[Thread]:
    """Threads with what list items show: author, module (without its payload), post count, mentor answered."""
    return (
        Thread.objects.select_related("author", "module")
        .defer("module__payload", "module__metadata")
        .annotate(
            n_posts=Count("posts"),
            mentor_answered=Exists(Post.objects.filter(thread=OuterRef("pk"), is_mentor=True)),
        )
    )


def thread_list_for_module(
    *, user: AbstractBaseUser, module: Module, kind: str | None = None, limit: int = 200
) -> list[Thread]:
    """The module's threads ``user`` may see, most recently active first (one query)."""
    qs = _threads().filter(module=module)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if not user_is_instructor(user):
        qs = qs.filter(Q(kind=Thread.Kind.QUESTION) | Q(author=user))
    return list(qs[:limit])


def review_queue(*, limit: int = 200) -> list[Thread]:
    """Open review requests of every module, oldest first: the mentors' to-do list (one query)."""
    qs = _threads().filter(
        kind=Thread.Kind.REVIEW, status=Thread.Status.OPEN, module__status=Module.Status.ACTIVE
    )
    return list(qs.order_by("created_at", "id")[:limit])


def _thread(thread_id: int) -> QuerySet[Thread]:
    return Thread.objects.select_related("module", "author").defer("module__payload").filter(pk=thread_id)


def thread_get(*, thread_id: int) -> Thread | None:
    """One thread with its module (for the access checks), without posts."""
    return _thread(thread_id).first()


def thread_detail(*, thread_id: int) -> Thread | None:
    """One thread with its module and its posts (authors joined) in two queries."""
    posts = Prefetch("posts", queryset=Post.objects.select_related("author"))
    return _thread(thread_id).prefetch_related(posts).first()


def thread_to_dict(thread: Thread, lang: str) -> dict[str, Any]:
    """A thread in lists; ``post_count`` and ``mentor_answered`` need the annotations of ``_threads``."""
    return {
        "id": thread.pk,
        "module": thread.module.slug,
        "module_title": localize(thread.module.title, lang),
        "kind": thread.kind,
        "title": thread.title,
        "status": thread.status,
        "author": thread.author.get_username(),
        "submission": thread.submission_id,
        "post_count": getattr(thread, "n_posts", None),
        "mentor_answered": getattr(thread, "mentor_answered", None),
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "url": f"{reverse('module-page', args=[thread.module.slug])}#thread-{thread.pk}",
        "api_url": reverse("api-thread-detail", args=[thread.pk]),
    }


def post_to_dict(post: Post) -> dict[str, Any]:
    return {
        "id": post.pk,
        "author": post.author.get_username(),
        "is_mentor": post.is_mentor,
        "body_html": markdown_to_safe_html(post.body),
        "created_at": post.created_at.isoformat(),
    }
