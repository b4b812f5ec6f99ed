"""Learning content as rows, and each learner's way through it.

Design choices:
- ``Module`` is a versioned copy of one ``content/NN-slug/`` folder: ``metadata`` holds the (small) module.yaml,
  ``payload`` the bulky parts (guides, starter and reference texts, hints, reflection, feedback rules) so list
  queries can ``defer("payload")``. ``content_hash`` changes whenever any byte of the folder (or a referenced
  nanochat_ref file) does, and with every admin edit of the module's text; ``files_hash`` is the folder's alone,
  which ``sync_content`` compares to report created/updated/unchanged (``modules.authoring``).
- ``ContentRevision`` rows version what authors edit in the admin (titles, summaries, guides, hints, reflection).
- A module that disappears from ``content/`` is ``retired``, never deleted: submissions keep pointing at it.
- Per-learner state lives in small rows keyed by (user, module), unique together, so services can upsert.
- No logic in ``save()``: services write, selectors read.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Route(models.Model):
    """A path through the modules a learner can choose: the default route (the full course) holds every module of
    ``content/``; a track (inference, training) holds its ``members`` plus every prerequisite they need, in module
    order. Tracks are authored in the admin; ``sync_content`` creates the ones ``content/routes.yaml`` names when
    they do not exist yet and never overwrites them."""

    slug = models.SlugField(max_length=64, unique=True)
    title = models.JSONField(default=dict, help_text="{en, zh}")
    description = models.JSONField(default=dict, blank=True, help_text="{en, zh}")
    is_default = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="order among the routes learners choose from"
    )
    members: models.ManyToManyField[Module, Any] = models.ManyToManyField(
        "Module",
        blank=True,
        related_name="tracks",
        help_text="the modules of a track (their prerequisites are added); the default route holds every module",
    )

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.slug


class Module(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        RETIRED = "retired", "retired"

    route = models.ForeignKey(Route, null=True, blank=True, on_delete=models.SET_NULL, related_name="modules")
    slug = models.SlugField(max_length=64, unique=True)
    order = models.PositiveIntegerField(db_index=True)
    title = models.JSONField(default=dict, help_text="{en, zh}")
    summary = models.JSONField(default=dict, blank=True, help_text="{en, zh}")
    content_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True, help_text="module.yaml as loaded")
    payload = models.JSONField(
        default=dict, blank=True, help_text="guides, starter/reference texts, hints ..."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    synced_at = models.DateTimeField()
    # Authoring in the admin (modules.authoring): the hash of the content/ folder this copy was last synced from or
    # exported to; the authoring document of those files while the admin copy differs from them (null when the
    # two agree); and the conflict the last sync found between the two, shown in the admin.
    files_hash = models.CharField(max_length=64, blank=True, default="")
    files_document = models.JSONField(
        null=True, blank=True, help_text="the content/ files' version while admin edits are not exported"
    )
    conflict = models.JSONField(null=True, blank=True, help_text="{files_hash, detected_at, fields}")

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self) -> str:
        return self.slug


class ContentRevision(models.Model):
    """One version of a module's authored content (``modules.authoring``: titles, summaries, guides, hints,
    reflection): the whole document after the change, who made it and when, and a unified diff per changed field.
    Revisions are never edited; a revert is a new revision whose ``reverted_from`` names the one restored."""

    class Source(models.TextChoices):
        ADMIN = "admin", "admin edit"
        REVERT = "revert", "revert"
        SYNC = "sync", "content/ files"

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    document = models.JSONField()
    diff = models.JSONField(default=dict, blank=True, help_text="{field: unified diff}")
    reverted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["module", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["module", "number"], name="contentrevision_module_number")
        ]

    def __str__(self) -> str:
        return f"{self.module_id}#{self.number}"


class CarryForward(models.TextChoices):
    OWN = "own", "own"
    REFERENCE = "reference", "reference"


class Progress(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "not started"
        IN_PROGRESS = "in_progress", "in progress"
        PASSED = "passed", "passed"
        COMPLETED = "completed", "completed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="progress")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="progress")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    attempts = models.PositiveIntegerField(default=0)
    best_score = models.FloatField(default=0.0)
    max_score = models.FloatField(default=0.0)
    passed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    review_accepted_at = models.DateTimeField(
        null=True, blank=True, help_text="when a mentor accepted a review (modules whose gates ask for one)"
    )
    # The latest verdict, denormalised here so the dashboard needs no grading query (modules sits below grading).
    last_submission_id = models.PositiveBigIntegerField(null=True, blank=True)
    last_result = models.JSONField(null=True, blank=True, help_text="{status, outcome, score, max_score, at}")
    carry_forward = models.CharField(
        max_length=16,
        choices=CarryForward.choices,
        default=CarryForward.OWN,
        help_text="what later modules that need this module's files run with: the learner's passing code or the reference",
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "module"], name="progress_user_module")]
        verbose_name_plural = "progress"

    def __str__(self) -> str:
        return f"{self.user_id}:{self.module_id}:{self.status}"


class Unlock(models.Model):
    """A module an instructor opened for a learner ahead of its prerequisites (passing them needs no row)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="unlocks")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="unlocks")
    reason = models.CharField(max_length=32, default="instructor")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "module"], name="unlock_user_module")]


class Reflection(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reflections")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="reflections")
    answers = models.JSONField(default=dict)
    correct = models.JSONField(default=dict, help_text="qid -> bool, for choice questions with an answer")
    submitted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "module"], name="reflection_user_module")]


class Note(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    module = models.ForeignKey(Module, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes")
    text = models.TextField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class HintReveal(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hint_reveals")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="hint_reveals")
    hint_id = models.CharField(max_length=64)
    level = models.PositiveSmallIntegerField()
    revealed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "module", "hint_id"], name="hintreveal_user_module_hint")
        ]
        ordering = ["level", "hint_id"]


class Draft(models.Model):
    """Server-side autosave of the editor: one row per (learner, module)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="drafts")
    files = models.JSONField(default=dict)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "module"], name="draft_user_module")]


class AuthAttempt(models.Model):
    """A failed login or a sign-up request, kept as long as the throttles look back (``modules.selectors``).

    ``username`` is the name as typed (after NFKC), whether or not such an account exists; ``address`` is the
    client's (``modules.api.client_address``), null when a login comes from no request (a script, a test client).
    """

    class Kind(models.TextChoices):
        LOGIN_FAILED = "login_failed", "failed login"
        SIGNUP = "signup", "sign-up"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    username = models.CharField(max_length=150, blank=True, default="")
    address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "username", "created_at"], name="authattempt_kind_user"),
            models.Index(fields=["kind", "address", "created_at"], name="authattempt_kind_address"),
        ]


class UpstreamReport(models.Model):
    """One run of ``manage.py content_upstream_diff --save``: which modules a newer nanochat commit affects.

    ``report`` is :func:`modules.upstream.diff_report`'s dictionary, ``markdown`` its rendering for authors; the
    admin lists the runs ("3 modules affected") and shows each one (``modules/upstream.py``).
    """

    from_ref = models.CharField(max_length=100)
    to_ref = models.CharField(max_length=100)
    from_commit = models.CharField(max_length=40)
    to_commit = models.CharField(max_length=40)
    modules_affected = models.PositiveIntegerField()
    modules_checked = models.PositiveIntegerField()
    report = models.JSONField()
    markdown = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.from_ref} → {self.to_ref}: {self.modules_affected} modules affected"


class LearnerSettings(models.Model):
    """One learner's choices: the route they follow and their editor preferences (the language lives in Django's
    language cookie, which ``modules.views.settings_page`` sets from the same form)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_settings"
    )
    route = models.ForeignKey(Route, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    editor_font_size = models.PositiveSmallIntegerField(default=14)
    editor_tab_size = models.PositiveSmallIntegerField(default=4)
    editor_minimap = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "learner settings"

    def __str__(self) -> str:
        return f"{self.user_id}:{self.route_id}"


class SearchEntry(models.Model):
    """One searchable piece of text in one language: a module's title, a guide section, a glossary term, a thread.

    ``tokens`` is :func:`modules.search.index_tokens` of title and body (words lower-cased, CJK text as single
    characters and character bigrams), which both full-text backends index as space-separated terms: an FTS5 table
    kept in step by triggers on SQLite, a GIN expression index on PostgreSQL (migration ``0006``).
    """

    class Kind(models.TextChoices):
        MODULE = "module", "module"
        SECTION = "section", "guide section"
        TERM = "term", "glossary term"
        THREAD = "thread", "discussion"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    lang = models.CharField(max_length=8, blank=True, help_text='en | zh | "" (either: discussions)')
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(
        max_length=200, help_text="what the entry stands for: a section anchor, a term, a thread id"
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, default="")
    url = models.CharField(max_length=300)
    tokens = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "lang", "module", "key"], name="searchentry_kind_lang_key"
            )
        ]
        indexes = [models.Index(fields=["kind", "module"], name="searchentry_kind_module")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.lang}:{self.key}"
