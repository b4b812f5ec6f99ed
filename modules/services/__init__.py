"""Writes for the modules app: content sync, progress, unlocks, hints, reflections, drafts, notes, roles.

A package by subdomain (``errors``, ``accounts``, ``content``, ``learning``); callers import from here.

Design choices:
- Keyword-only arguments; each service validates its input and raises a ``ServiceError`` subclass carrying the
  HTTP status the API answers with, so views stay thin (parse, authorize, call, respond).
- Upserts on the (user, module) unique rows go through ``select_for_update`` inside a transaction, and saves of
  existing rows name their ``update_fields``.
- ``files_validate`` is the platform's door to the module spec's one rule for learner files (drafts and
  submissions): only the module's editable paths, text only (no NUL, encodable as UTF-8), the module's per-file
  and total caps; refusals are translated by their stable code.
- ``text_validate`` is the one check of text a person wrote (notes here, posts in discussions).
"""

from __future__ import annotations

from modules.services.accounts import (
    EDITOR_FONT_SIZES,
    EDITOR_TAB_SIZES,
    demo_learner_ensure,
    learner_create,
    learner_email_set,
    learner_settings_update,
    login_failure_record,
    login_failures_clear,
    roles_ensure,
    signup_attempt_record,
)
from modules.services.content import (
    AuthoringInvalid,
    SyncReport,
    authoring_figures,
    content_document,
    content_export,
    content_preview,
    content_revert,
    content_revise,
    content_sync,
    content_take_files,
    search_index_sync,
    tracks_ensure,
)
from modules.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    RateLimited,
    ServiceError,
)
from modules.services.learning import (
    NOTE_UPLOAD_MAX_BYTES,
    NOTE_UPLOAD_SUFFIXES,
    carry_forward_set,
    completion_needs_review,
    draft_save,
    files_validate,
    hint_reveal,
    module_unlock,
    note_create,
    note_upload,
    progress_record_attempt,
    progress_record_verdict,
    progress_review_accept,
    reflection_submit,
    submission_error_message,
    text_validate,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "RateLimited",
    "ServiceError",
    "EDITOR_FONT_SIZES",
    "EDITOR_TAB_SIZES",
    "demo_learner_ensure",
    "learner_create",
    "learner_email_set",
    "learner_settings_update",
    "login_failure_record",
    "login_failures_clear",
    "roles_ensure",
    "signup_attempt_record",
    "AuthoringInvalid",
    "SyncReport",
    "authoring_figures",
    "content_document",
    "content_export",
    "content_preview",
    "content_revert",
    "content_revise",
    "content_sync",
    "content_take_files",
    "search_index_sync",
    "tracks_ensure",
    "NOTE_UPLOAD_MAX_BYTES",
    "NOTE_UPLOAD_SUFFIXES",
    "carry_forward_set",
    "completion_needs_review",
    "draft_save",
    "files_validate",
    "hint_reveal",
    "module_unlock",
    "note_create",
    "note_upload",
    "progress_record_attempt",
    "progress_record_verdict",
    "progress_review_accept",
    "reflection_submit",
    "submission_error_message",
    "text_validate",
]
