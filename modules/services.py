"""Writes for the modules app: content sync, progress, unlocks, hints, reflections, drafts, notes, roles.

Design choices:
- Keyword-only arguments; each service validates its input and raises a ``ServiceError`` subclass carrying the
  HTTP status the API answers with, so views stay thin (parse, authorize, call, respond).
- Upserts on the (user, module) unique rows go through ``select_for_update`` inside a transaction, and saves of
  existing rows name their ``update_fields``.
- ``files_validate`` is the platform's door to the module spec's one rule for learner files (drafts and
  submissions): only the module's editable paths, text only (no NUL, encodable as UTF-8), the module's per-file
  and total caps; refusals are translated by their stable code.
- Discussions: every post (a thread's first one included) passes ``_post_body_validate`` (text, at most
  ``LAB_POST_MAX_CHARS``) and a per-author rate limit (``LAB_POSTS_PER_MINUTE``), both settings read at call
  time. Authorization (who may see, reply, resolve) is the caller's ``access_thread_*`` question, not repeated
  here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group, Permission, User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from modules import content as content_loader
from modules import spec as module_spec
from modules import starters as starter_files
from modules.models import Draft, HintReveal, Module, Note, Post, Progress, Reflection, Route, Thread, Unlock
from modules.selectors import (
    AUTHOR_GROUP,
    INSTRUCTOR_GROUP,
    LEARNER_GROUP,
    PASSED_STATUSES,
    localize,
    module_spec_of,
    user_is_instructor,
)
from modules.spec import SubmissionError

log = logging.getLogger(__name__)


# --- errors -------------------------------------------------------------------------------------------------------
class ServiceError(Exception):
    http_status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidInput(ServiceError):
    http_status = 400
    code = "invalid"


class Forbidden(ServiceError):
    http_status = 403
    code = "forbidden"


class Conflict(ServiceError):
    http_status = 409
    code = "conflict"


class RateLimited(ServiceError):
    http_status = 429
    code = "rate_limited"


# --- roles --------------------------------------------------------------------------------------------------------
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    LEARNER_GROUP: [("modules", "view_module")],
    INSTRUCTOR_GROUP: [
        ("auth", "view_user"),
        ("grading", "view_learner"),
        ("grading", "view_submission"),
        ("grading", "view_result"),
        ("grading", "view_submissionevent"),
        ("modules", "view_module"),
        ("modules", "view_route"),
        ("modules", "view_progress"),
        ("modules", "view_unlock"),
        ("modules", "add_unlock"),
        ("modules", "delete_unlock"),
        ("modules", "view_reflection"),
        ("modules", "view_hintreveal"),
        ("modules", "view_thread"),
        ("modules", "change_thread"),
        ("modules", "view_post"),
    ],
    AUTHOR_GROUP: [
        ("modules", "view_module"),
        ("modules", "change_module"),
        ("modules", "view_route"),
        ("modules", "add_route"),
        ("modules", "change_route"),
    ],
}


def roles_ensure() -> None:
    """Create the learner/instructor/author groups with their permissions (idempotent; runs after migrate)."""
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = [
            perm
            for app_label, codename in wanted
            for perm in Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        ]
        if perms:
            group.permissions.add(*perms)


def learner_create(*, username: str, password: str, email: str = "") -> User:
    """A new learner account (the signup page's service)."""
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, email=email)
        roles_ensure()
        user.groups.add(Group.objects.get(name=LEARNER_GROUP))
    return user


def demo_learner_ensure(*, username: str = "demo", password: str = "nanochat-demo") -> tuple[User, bool]:
    """The demo learner exists, is active, is a learner and has the documented password."""
    roles_ensure()
    user, created = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    user.groups.add(Group.objects.get(name=LEARNER_GROUP))
    return user, created


# --- content sync -------------------------------------------------------------------------------------------------
@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"created: {len(self.created)}, updated: {len(self.updated)}, unchanged: {len(self.unchanged)}, "
            f"retired: {len(self.retired)}, drafts skipped: {len(self.drafts)}, invalid: {len(self.errors)}"
        )


def content_sync(
    *,
    content_dir: Path | None = None,
    repo_root: Path | None = None,
    include_drafts: bool = False,
    starters_dir: Path | None = None,
) -> SyncReport:
    """Bring the Module rows in line with ``content/`` (idempotent; versioned by content hash).

    Draft folders (``status: draft``) are skipped unless ``include_drafts``; invalid folders are reported and
    skipped (their existing row, if any, is left as it was). Modules whose folder disappeared are retired, never
    deleted. With ``starters_dir``, the generated starters are also written there as files (``<slug>/<path>``),
    for authors to read.
    """
    content_dir = Path(content_dir or settings.LAB_CONTENT_DIR)
    repo_root = Path(repo_root or settings.LAB_REPO_ROOT)
    report = SyncReport()
    loaded = []
    for folder in content_loader.discover(content_dir):
        try:
            loaded.append(
                content_loader.load_module(folder, repo_root=repo_root, include_drafts=include_drafts)
            )
        except content_loader.ContentDraft as exc:
            report.drafts.append(exc.folder)
        except content_loader.ContentError as exc:
            report.errors[exc.folder] = exc.problems
    if starters_dir is not None:
        for item in loaded:
            starter_files.write_files(item.slug, item.payload["starters"], Path(starters_dir))
    now = timezone.now()
    with transaction.atomic():
        route, _ = Route.objects.get_or_create(
            slug="nanochat",
            defaults={"title": {"en": "Rebuild nanochat", "zh": "重建 nanochat"}, "is_default": True},
        )
        existing = {m.slug: m for m in Module.objects.select_for_update()}
        for item in loaded:
            row = existing.get(item.slug)
            if row is None:
                Module.objects.create(
                    route=route,
                    slug=item.slug,
                    order=item.order,
                    title=item.title,
                    summary=item.summary,
                    content_hash=item.content_hash,
                    metadata=item.metadata,
                    payload=item.payload,
                    status=Module.Status.ACTIVE,
                    synced_at=now,
                )
                report.created.append(item.slug)
            elif row.content_hash != item.content_hash or row.status != Module.Status.ACTIVE:
                row.order, row.title, row.summary = item.order, item.title, item.summary
                row.content_hash, row.metadata, row.payload = item.content_hash, item.metadata, item.payload
                row.status, row.synced_at, row.route = Module.Status.ACTIVE, now, route
                row.save(
                    update_fields=[
                        "order",
                        "title",
                        "summary",
                        "content_hash",
                        "metadata",
                        "payload",
                        "status",
                        "synced_at",
                        "route",
                    ]
                )
                report.updated.append(item.slug)
            else:
                report.unchanged.append(item.slug)
        seen = {item.slug for item in loaded} | set(report.errors) | set(report.drafts)
        for slug, row in existing.items():
            if slug not in seen and row.status == Module.Status.ACTIVE:
                row.status = Module.Status.RETIRED
                row.save(update_fields=["status"])
                report.retired.append(slug)
    return report


# --- files --------------------------------------------------------------------------------------------------------
def submission_error_message(exc: SubmissionError) -> str:
    """The learner-facing (translated) text of a refusal from ``modules.spec``."""
    template = _(exc.template)
    return template % exc.params if exc.params else template


def files_validate(*, module: Module, files: Any) -> dict[str, str]:
    """Learner-sent files (drafts and submissions): a non-empty object of the module's editable paths to text,
    checked by the module spec's one rule (``modules.spec.validate_files``); returns ``{path: text}``."""
    if not isinstance(files, dict) or not files:
        raise InvalidInput(_("files must be a non-empty object {path: text}"), code="files_invalid")
    try:
        return module_spec.validate_files(module_spec_of(module=module), files)
    except SubmissionError as exc:
        raise InvalidInput(submission_error_message(exc), code=exc.code) from None


# --- progress and unlocks -----------------------------------------------------------------------------------------
def _progress_locked(*, user: AbstractBaseUser, module: Module) -> Progress:
    progress, _ = Progress.objects.select_for_update().get_or_create(
        user=user, module=module, defaults={"updated_at": timezone.now()}
    )
    return progress


def progress_record_attempt(*, user: AbstractBaseUser, module: Module) -> Progress:
    """A submission was made: count it, and a fresh module becomes in-progress."""
    with transaction.atomic():
        progress = _progress_locked(user=user, module=module)
        progress.attempts += 1
        if progress.status == Progress.Status.NOT_STARTED:
            progress.status = Progress.Status.IN_PROGRESS
        progress.updated_at = timezone.now()
        progress.save(update_fields=["attempts", "status", "updated_at"])
    return progress


def progress_record_verdict(
    *, user: AbstractBaseUser, module: Module, submission_id: int, result: dict[str, Any]
) -> Progress:
    """A verdict arrived: keep the latest result, the best score; a pass marks the module passed (or completed when
    the reflection is already in). Dependants need no write: a module is open once its prerequisites are passed
    (``selectors.access_module_unlocked``; ``selectors.modules_opened_by`` names what a pass opened)."""
    now = timezone.now()
    with transaction.atomic():
        progress = _progress_locked(user=user, module=module)
        score = float(result.get("score") or 0.0)
        progress.last_submission_id = submission_id
        progress.last_result = {
            "submission_id": submission_id,
            "status": result.get("status"),
            "outcome": result.get("outcome"),
            "score": score,
            "max_score": float(result.get("max_score") or 0.0),
            "at": now.isoformat(),
        }
        progress.best_score = max(progress.best_score, score)
        progress.max_score = float(result.get("max_score") or progress.max_score)
        if progress.status == Progress.Status.NOT_STARTED:
            progress.status = Progress.Status.IN_PROGRESS
        newly_passed = result.get("status") == "pass" and progress.status not in PASSED_STATUSES
        if newly_passed:
            progress.status = Progress.Status.PASSED
            progress.passed_at = now
            if Reflection.objects.filter(user=user, module=module).exists():
                progress.status = Progress.Status.COMPLETED
                progress.completed_at = now
        progress.updated_at = now
        progress.save(
            update_fields=[
                "last_submission_id",
                "last_result",
                "best_score",
                "max_score",
                "status",
                "passed_at",
                "completed_at",
                "updated_at",
            ]
        )
    return progress


def module_unlock(*, user: AbstractBaseUser, module: Module, reason: str = "instructor") -> Unlock:
    """An instructor opens ``module`` for ``user`` ahead of its prerequisites (idempotent: the first unlock's time
    and reason are kept)."""
    unlock, _ = Unlock.objects.get_or_create(
        user=user, module=module, defaults={"reason": reason, "created_at": timezone.now()}
    )
    return unlock


# --- hints, reflection, drafts, notes -----------------------------------------------------------------------------
def hint_reveal(
    *, user: AbstractBaseUser, module: Module, level: Any, step: Any = None, lang: str = "en"
) -> list[dict[str, Any]]:
    """Reveal the hints of ``level`` (optionally of one ``step``); layered: level n needs level n-1 first."""
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 3:
        raise InvalidInput(_("level must be an integer from 1 to 3"), code="level_invalid")
    if step is not None and not isinstance(step, str):
        raise InvalidInput("step must be a string", code="step_invalid")
    hints = [h for h in module.payload.get("hints", []) if step is None or h.get("step") in (step, None)]
    chosen = [h for h in hints if int(h["level"]) == level]
    if not chosen:
        raise InvalidInput(_("no hints at level %(level)d") % {"level": level}, code="no_hints")
    if level > 1:
        lower_ids = {h["id"] for h in hints if int(h["level"]) == level - 1}
        if (
            lower_ids
            and not HintReveal.objects.filter(user=user, module=module, hint_id__in=lower_ids).exists()
        ):
            raise Conflict(_("reveal level %(level)d first") % {"level": level - 1}, code="hint_order")
    now = timezone.now()
    with transaction.atomic():
        for hint in chosen:
            HintReveal.objects.get_or_create(
                user=user, module=module, hint_id=hint["id"], defaults={"level": level, "revealed_at": now}
            )
    return [
        {"id": h["id"], "step": h.get("step"), "level": int(h["level"]), "text": localize(h["text"], lang)}
        for h in chosen
    ]


def reflection_submit(*, user: AbstractBaseUser, module: Module, answers: Any) -> Reflection:
    """Store the learner's reflection (resubmitting replaces it); a passed module becomes completed."""
    questions = {q["id"]: q for q in module.payload.get("reflection", [])}
    if not questions:
        raise InvalidInput(_("this module has no reflection questions"), code="no_questions")
    if not isinstance(answers, dict):
        raise InvalidInput("answers must be an object {question_id: answer}", code="answers_invalid")
    unknown = set(answers) - set(questions)
    if unknown:
        raise InvalidInput(
            f"unknown question(s): {', '.join(sorted(map(str, unknown)))}", code="unknown_question"
        )
    correct: dict[str, bool] = {}
    for qid, question in questions.items():
        answer = answers.get(qid)
        if not isinstance(answer, str) or not answer.strip():
            raise InvalidInput(_("%(qid)s: an answer is required") % {"qid": qid}, code="answer_missing")
        if len(answer) > 5000:
            raise InvalidInput(_("%(qid)s: the answer is too long") % {"qid": qid}, code="answer_too_long")
        if question["kind"] == "choice":
            choice_ids = {c["id"] for c in question.get("choices") or []}
            if answer not in choice_ids:
                raise InvalidInput(_("%(qid)s: not one of the choices") % {"qid": qid}, code="choice_invalid")
            if question.get("answer") is not None:
                correct[qid] = answer == question["answer"]
    now = timezone.now()
    with transaction.atomic():
        reflection, created = Reflection.objects.select_for_update().get_or_create(
            user=user, module=module, defaults={"answers": answers, "correct": correct, "submitted_at": now}
        )
        if not created:
            reflection.answers, reflection.correct, reflection.submitted_at = answers, correct, now
            reflection.save(update_fields=["answers", "correct", "submitted_at"])
        progress = _progress_locked(user=user, module=module)
        if progress.status == Progress.Status.PASSED:
            progress.status = Progress.Status.COMPLETED
            progress.completed_at = now
            progress.updated_at = now
            progress.save(update_fields=["status", "completed_at", "updated_at"])
    return reflection


def draft_save(*, user: AbstractBaseUser, module: Module, files: Any) -> Draft:
    files = files_validate(module=module, files=files)
    now = timezone.now()
    with transaction.atomic():
        draft, created = Draft.objects.select_for_update().get_or_create(
            user=user, module=module, defaults={"files": files, "updated_at": now}
        )
        if not created:
            # merged with what is saved (paths the module no longer has are dropped), within the total cap
            editable = set(module_spec_of(module=module).editable_paths)
            kept = {path: text for path, text in draft.files.items() if path in editable}
            draft.files = files_validate(module=module, files={**kept, **files})
            draft.updated_at = now
            draft.save(update_fields=["files", "updated_at"])
    return draft


def _text_validate(value: Any, *, max_chars: int, empty: str, empty_code: str, too_long: str) -> str:
    """Text a person wrote (a note, a post): a non-blank string of at most ``max_chars``, with no NUL byte.

    ``empty`` and ``too_long`` are the (translated) messages; ``too_long`` is formatted with ``max``.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(empty, code=empty_code)
    if len(value) > max_chars:
        raise InvalidInput(too_long % {"max": max_chars}, code="too_large")
    if "\x00" in value:
        raise InvalidInput("binary content (NUL byte) is not accepted", code="binary_text")
    return value


def note_create(*, user: AbstractBaseUser, text: Any, module: Module | None = None) -> Note:
    text = _text_validate(
        text,
        max_chars=settings.LAB_NOTE_MAX_CHARS,
        empty=_("a note needs some text"),
        empty_code="text_invalid",
        too_long=_("a note holds at most %(max)d characters"),
    )
    return Note.objects.create(user=user, module=module, text=text, created_at=timezone.now())


# --- discussions --------------------------------------------------------------------------------------------------
THREAD_TITLE_MAX_CHARS = 200


def _post_body_validate(body: Any) -> str:
    return _text_validate(
        body,
        max_chars=settings.LAB_POST_MAX_CHARS,
        empty=_("a post needs some text"),
        empty_code="body_invalid",
        too_long=_("a post holds at most %(max)d characters"),
    )


def _post_rate_check(*, author: AbstractBaseUser) -> None:
    """At most ``LAB_POSTS_PER_MINUTE`` posts a minute per author (call inside the writing transaction)."""
    limit = settings.LAB_POSTS_PER_MINUTE
    since = timezone.now() - timedelta(seconds=60)
    if Post.objects.filter(author=author, created_at__gte=since).count() >= limit:
        raise RateLimited(_("at most %(n)d posts a minute; try again shortly") % {"n": limit})


def _review_submission(*, author: AbstractBaseUser, module: Module, submission: Any) -> Any:
    """The author's own attempt on ``module`` with id ``submission``; the model is reached through the FK, so
    modules still never imports grading."""
    if isinstance(submission, bool) or not isinstance(submission, int):
        raise InvalidInput(_("a review needs the id of one of your attempts"), code="submission_invalid")
    attempts = Thread._meta.get_field("submission").related_model._default_manager  # type: ignore[union-attr]
    row = attempts.filter(pk=submission, user=author, module=module).first()
    if row is None:
        raise InvalidInput(_("that is not one of your attempts on this module"), code="submission_invalid")
    return row


def thread_kind_validate(kind: Any) -> str:
    """``question`` or ``review`` (a new thread's kind, or a list filter), else 400 ``kind_invalid``."""
    if kind not in Thread.Kind.values:
        raise InvalidInput(_("kind must be question or review"), code="kind_invalid")
    return str(kind)


def thread_create(
    *, author: AbstractBaseUser, module: Module, kind: Any, title: Any, body: Any, submission: Any = None
) -> Thread:
    """Open a question, or a review request for one of the author's attempts, with its first post."""
    thread_kind_validate(kind)
    if not isinstance(title, str) or not title.strip():
        raise InvalidInput(_("a thread needs a title"), code="title_invalid")
    if len(title.strip()) > THREAD_TITLE_MAX_CHARS:
        raise InvalidInput(
            _("a title holds at most %(max)d characters") % {"max": THREAD_TITLE_MAX_CHARS}, code="too_large"
        )
    body = _post_body_validate(body)
    if kind == Thread.Kind.QUESTION and submission is not None:
        raise InvalidInput(_("only a review refers to an attempt"), code="submission_invalid")
    attempt = (
        _review_submission(author=author, module=module, submission=submission)
        if kind == Thread.Kind.REVIEW
        else None
    )
    with transaction.atomic():
        _post_rate_check(author=author)
        if attempt is not None and Thread.objects.filter(submission=attempt).exists():
            raise Conflict(_("a review of this attempt was already requested"), code="review_exists")
        now = timezone.now()
        thread = Thread.objects.create(
            module=module,
            author=author,
            title=title.strip(),
            kind=kind,
            submission=attempt,
            created_at=now,
            updated_at=now,
        )
        Post.objects.create(
            thread=thread, author=author, body=body, is_mentor=user_is_instructor(author), created_at=now
        )
    return thread


def post_create(*, author: AbstractBaseUser, thread: Thread, body: Any) -> Post:
    """Reply to ``thread`` (the caller checked ``access_thread_reply``); the thread moves to the top of lists."""
    body = _post_body_validate(body)
    with transaction.atomic():
        _post_rate_check(author=author)
        now = timezone.now()
        post = Post.objects.create(
            thread=thread, author=author, body=body, is_mentor=user_is_instructor(author), created_at=now
        )
        thread.updated_at = now
        thread.save(update_fields=["updated_at"])
    return post


def thread_resolve(*, thread: Thread) -> Thread:
    """Mark ``thread`` resolved (idempotent; the caller checked ``access_thread_resolve``)."""
    if thread.status != Thread.Status.RESOLVED:
        thread.status = Thread.Status.RESOLVED
        thread.updated_at = timezone.now()
        thread.save(update_fields=["status", "updated_at"])
    return thread
