"""A learner's work on a module: files, progress and unlocks, hints, carry-forward, reflections, drafts, notes.

Part of ``modules.services`` (its docstring holds the design choices); import from there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from modules import listeners
from modules import spec as module_spec
from modules.lti import services as lti_services
from modules.models import (
    CarryForward,
    Draft,
    HintReveal,
    Module,
    Note,
    Progress,
    Reflection,
    Unlock,
)
from modules.selectors import PASSED_STATUSES, localize, module_spec_of
from modules.services.errors import Conflict, InvalidInput
from modules.spec import SubmissionError

log = logging.getLogger(__name__)


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
def _progress_locked(*, user: User, module: Module) -> Progress:
    progress, _ = Progress.objects.select_for_update().get_or_create(
        user=user, module=module, defaults={"updated_at": timezone.now()}
    )
    return progress


def progress_record_attempt(*, user: User, module: Module) -> Progress:
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
    *, user: User, module: Module, submission_id: int, result: dict[str, Any]
) -> Progress:
    """A verdict arrived: keep the latest result, the best score; a pass marks the module passed (or completed when
    the reflection is already in). Dependants need no write: a module is open once its prerequisites are passed
    (``selectors.access_module_unlocked``; ``selectors.module_standing`` names what a verdict opened)."""
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
            _progress_complete_if_due(progress=progress, module=module, now=now)
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
        if newly_passed and progress.status == Progress.Status.COMPLETED:
            lti_services.passback_owe(user=user, module=module)
        # inside the transaction: what the listeners write commits with the progress, before anything queued on
        # commit (an LTI passback's sender thread) starts writing
        listeners.standing_changed.notify(user=user)
    return progress


def completion_needs_review(*, module: Module) -> bool:
    """Does ``module`` ask for an accepted mentor review before it is completed (``gates.accepted_review``)?"""
    return bool(module_spec_of(module=module).gates.get("accepted_review"))


def _progress_complete_if_due(*, progress: Progress, module: Module, now: Any) -> bool:
    """The one rule that completes a module (DECISIONS.md, "One module state machine"): passed, the reflection
    submitted, and, where the module's gates ask for it (the capstone), a review accepted. Moves a ``passed``
    ``progress`` (locked by the caller, not saved) to ``completed``; True when it did."""
    if progress.status != Progress.Status.PASSED:
        return False
    if not Reflection.objects.filter(user_id=progress.user_id, module_id=progress.module_id).exists():
        return False
    if completion_needs_review(module=module) and progress.review_accepted_at is None:
        return False
    progress.status = Progress.Status.COMPLETED
    progress.completed_at = now
    return True


def module_unlock(*, user: User, module: Module, reason: str = "instructor") -> Unlock:
    """An instructor opens ``module`` for ``user`` ahead of its prerequisites (idempotent: the first unlock's time
    and reason are kept)."""
    unlock, _ = Unlock.objects.get_or_create(
        user=user, module=module, defaults={"reason": reason, "created_at": timezone.now()}
    )
    return unlock


# --- hints, reflection, drafts, notes -----------------------------------------------------------------------------
def hint_reveal(
    *, user: User, module: Module, level: Any, step: Any = None, lang: str = "en"
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


def carry_forward_set(*, user: User, module: Module, use: Any) -> Progress:
    """Choose what later modules that need ``module``'s files run with once it is passed: the learner's own passing
    code (``own``, the default) or the reference (``reference``)."""
    if use not in CarryForward.values:
        raise InvalidInput(_("use must be one of: own, reference"), code="use_invalid")
    with transaction.atomic():
        progress = _progress_locked(user=user, module=module)
        progress.carry_forward = use
        progress.updated_at = timezone.now()
        progress.save(update_fields=["carry_forward", "updated_at"])
    return progress


def reflection_submit(*, user: User, module: Module, answers: Any) -> Reflection:
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
        if _progress_complete_if_due(progress=progress, module=module, now=now):
            progress.updated_at = now
            progress.save(update_fields=["status", "completed_at", "updated_at"])
            lti_services.passback_owe(user=user, module=module)
        listeners.standing_changed.notify(user=user)  # in the transaction, as in progress_record_verdict
    return reflection


def progress_review_accept(*, user: User, module: Module) -> Progress:
    """A mentor accepted a review of ``user``'s work on ``module`` (idempotent: the first acceptance's time is
    kept); a module whose gates ask for an accepted review may now be completed."""
    now = timezone.now()
    with transaction.atomic():
        progress = _progress_locked(user=user, module=module)
        if progress.review_accepted_at is None:
            progress.review_accepted_at = now
            completed = _progress_complete_if_due(progress=progress, module=module, now=now)
            progress.updated_at = now
            progress.save(update_fields=["review_accepted_at", "status", "completed_at", "updated_at"])
            if completed:
                lti_services.passback_owe(user=user, module=module)
            listeners.standing_changed.notify(user=user)
    return progress


def draft_save(*, user: User, module: Module, files: Any) -> Draft:
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


def text_validate(value: Any, *, max_chars: int, empty: str, empty_code: str, too_long: str) -> str:
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


def note_create(*, user: User, text: Any, module: Module | None = None) -> Note:
    text = text_validate(
        text,
        max_chars=settings.LAB_NOTE_MAX_CHARS,
        empty=_("a note needs some text"),
        empty_code="text_invalid",
        too_long=_("a note holds at most %(max)d characters"),
    )
    note = Note.objects.create(user=user, module=module, text=text, created_at=timezone.now())
    listeners.standing_changed.notify(user=user)
    return note


#: The largest note file a learner may upload (Markdown or plain text).
NOTE_UPLOAD_MAX_BYTES = 64 * 1024
#: The file name endings a note upload may have.
NOTE_UPLOAD_SUFFIXES = (".md", ".markdown", ".txt")


def note_upload(*, user: User, name: str, data: bytes, module: Module | None = None) -> Note:
    """A Markdown or text file becomes a note: at most ``NOTE_UPLOAD_MAX_BYTES``, UTF-8, no binary content."""
    if not name.lower().endswith(NOTE_UPLOAD_SUFFIXES):
        raise InvalidInput(
            _("only Markdown or text files (%(suffixes)s) can be uploaded as notes")
            % {"suffixes": ", ".join(NOTE_UPLOAD_SUFFIXES)},
            code="file_type",
        )
    if len(data) > NOTE_UPLOAD_MAX_BYTES:
        raise InvalidInput(
            _("the file is larger than %(kib)d KiB") % {"kib": NOTE_UPLOAD_MAX_BYTES // 1024},
            code="too_large",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise InvalidInput(
            _("the file is not text: it looks binary (save it as UTF-8 Markdown or plain text)"),
            code="binary_file",
        )
    return note_create(user=user, module=module, text=text.replace("\r\n", "\n"))
