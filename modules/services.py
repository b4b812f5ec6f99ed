"""Writes for the modules app: content sync, progress, unlocks, hints, reflections, drafts, notes, roles.

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

import logging
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import yaml
from django.apps import AppConfig
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from modules import authoring, listeners, search, selectors
from modules import content as content_loader
from modules import spec as module_spec
from modules import starters as starter_files
from modules.figures import FigureIndex, figures_ensure, manifest_read
from modules.handouts import FIGURE_SCHEME, RenderedGuide, guide_render
from modules.lti import services as lti_services
from modules.models import (
    AuthAttempt,
    CarryForward,
    ContentRevision,
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
from modules.roles import GROUPS, LEARNER_GROUP, RolePermissions
from modules.selectors import PASSED_STATUSES, localize, module_spec_of, username_lookalike_exists
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
def roles_ensure(*, app_configs: Iterable[AppConfig] | None = None) -> None:
    """The learner/instructor/author groups exist and hold what ``app_configs`` (default: every installed app)
    grant them in their ``role_permissions`` (idempotent; ``modules.apps`` runs it after each app's migrate).

    Permissions that do not exist yet (their app is not migrated) are skipped; the app's own migrate grants them.
    """
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in GROUPS}
    for config in django_apps.get_app_configs() if app_configs is None else app_configs:
        granted: RolePermissions = getattr(config, "role_permissions", {})
        for group_name, perms in granted.items():
            wanted = Q(pk__in=[])
            for perm in perms:
                app_label, codename = perm.split(".", 1)
                wanted |= Q(content_type__app_label=app_label, codename=codename)
            groups[group_name].permissions.add(*Permission.objects.filter(wanted))


def learner_create(*, username: str, password: str, email: str = "") -> User:
    """A new learner account (the signup page's service); a name that looks like an existing one (same confusable
    skeleton, ``modules.usernames``) is refused, so nobody can pose as another learner or a mentor."""
    if username_lookalike_exists(username=username):
        raise InvalidInput(
            _("This username looks too much like an existing username. Please choose another."),
            code="username_lookalike",
        )
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, email=email)
        roles_ensure()
        user.groups.add(Group.objects.get(name=LEARNER_GROUP))
    return user


def _auth_attempt_record(*, kind: str, username: str, address: str | None) -> None:
    """One more row for the throttles, and rows older than any throttle looks back are dropped."""
    now = timezone.now()
    AuthAttempt.objects.create(kind=kind, username=username[:150], address=address, created_at=now)
    horizon = max(settings.LAB_LOGIN_FAILURE_WINDOW_SECONDS, 3600)
    AuthAttempt.objects.filter(created_at__lt=now - timedelta(seconds=horizon)).delete()


def login_failure_record(*, username: str, address: str | None) -> None:
    """A failed login as ``username`` (an account or not) from ``address``."""
    _auth_attempt_record(kind=AuthAttempt.Kind.LOGIN_FAILED, username=username, address=address)


def login_failures_clear(*, username: str) -> None:
    """A successful login: the account's earlier failures no longer count towards its lock."""
    AuthAttempt.objects.filter(kind=AuthAttempt.Kind.LOGIN_FAILED, username=username).delete()


def signup_attempt_record(*, address: str | None) -> None:
    """A sign-up request from ``address`` (whether or not it creates an account)."""
    _auth_attempt_record(kind=AuthAttempt.Kind.SIGNUP, username="", address=address)


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
    # admin edits not exported yet, kept because the files did not change since
    kept: list[str] = field(default_factory=list)
    # slug -> {field: unified diff from the admin's version to the files'}: both changed, the admin copy is kept
    conflicts: dict[str, dict[str, str]] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"created: {len(self.created)}, updated: {len(self.updated)}, unchanged: {len(self.unchanged)}, "
            f"retired: {len(self.retired)}, drafts skipped: {len(self.drafts)}, invalid: {len(self.errors)}, "
            f"admin edits kept: {len(self.kept)}, conflicts: {len(self.conflicts)}"
        )


def _figures_for(*, content_dir: Path, repo_root: Path, figures_dir: Path | None) -> FigureIndex | None:
    """The generated figures, (re)generated when a guide of ``content_dir`` cites one; None when none does."""
    guides = content_dir.glob("*/guide.*.md")
    if any(FIGURE_SCHEME in path.read_text(encoding="utf-8", errors="replace") for path in guides):
        return figures_ensure(root=Path(figures_dir or settings.LAB_FIGURES_DIR), repo_root=repo_root)
    return None


def _loaded_document(item: content_loader.LoadedModule) -> authoring.Document:
    return authoring.document_from(title=item.title, summary=item.summary, payload=item.payload)


def _row_load(row: Module, item: content_loader.LoadedModule, doc: authoring.Document) -> list[str]:
    """Give ``row`` the folder ``item`` with the authoring document ``doc`` (the folder's own, or one that keeps
    admin edits); returns the fields to save."""
    files_doc = _loaded_document(item)
    row.order, row.metadata = item.order, item.metadata
    row.files_hash = item.content_hash
    row.payload = authoring.document_apply(item.payload, doc)
    _title_summary_set(row, doc)
    if doc == files_doc:
        row.files_document, row.content_hash = None, item.content_hash
    else:
        row.files_document, row.content_hash = files_doc, authoring.document_hash(item.content_hash, doc)
    row.conflict = None
    return ["order", "metadata", "title", "summary", "payload", "content_hash", "files_hash", "files_document",
            "conflict"]  # fmt: skip


def _title_summary_set(row: Module, doc: authoring.Document) -> None:
    row.title, row.summary = dict(doc["title"]), dict(doc["summary"])
    row.metadata = {**row.metadata, "title": row.title, "summary": row.summary}


def content_sync(
    *,
    content_dir: Path | None = None,
    repo_root: Path | None = None,
    include_drafts: bool = False,
    starters_dir: Path | None = None,
    figures_dir: Path | None = None,
    force: bool = False,
) -> SyncReport:
    """Bring the Module rows in line with ``content/`` (idempotent; versioned by content hash).

    Draft folders (``status: draft``) are skipped unless ``include_drafts``; invalid folders are reported and
    skipped (their existing row, if any, is left as it was). Modules whose folder disappeared are retired, never
    deleted. With ``starters_dir``, the generated starters are also written there as files (``<slug>/<path>``),
    for authors to read. When a guide shows a figure, the figures in ``figures_dir`` (default
    ``LAB_FIGURES_DIR``) are regenerated first if they are missing or stale (``modules.figures``).

    A module edited in the admin and not exported keeps its edits: when its files did not change it is reported as
    kept; when they did, fields only the files changed are taken, and fields both changed differently are a
    conflict: reported (both versions), recorded on the row for the admin, and the admin copy is kept — unless
    ``force``, which takes the files' version of every admin-edited module (the admin's stays one revert away in
    the revisions).
    """
    content_dir = Path(content_dir or settings.LAB_CONTENT_DIR)
    repo_root = Path(repo_root or settings.LAB_REPO_ROOT)
    report = SyncReport()
    figures = _figures_for(content_dir=content_dir, repo_root=repo_root, figures_dir=figures_dir)
    loaded = []
    for folder in content_loader.discover(content_dir):
        try:
            loaded.append(
                content_loader.load_module(
                    folder, repo_root=repo_root, include_drafts=include_drafts, figures=figures
                )
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
                    files_hash=item.content_hash,
                    metadata=item.metadata,
                    payload=item.payload,
                    status=Module.Status.ACTIVE,
                    synced_at=now,
                )
                report.created.append(item.slug)
                continue
            files_unchanged = row.files_hash == item.content_hash and row.status == Module.Status.ACTIVE
            if files_unchanged and not (force and row.files_document is not None):
                if row.files_document is None and row.content_hash == item.content_hash:
                    report.unchanged.append(item.slug)
                elif row.files_document is not None:
                    if row.conflict:  # the files went back to the version the admin copy was taken from
                        row.conflict = None
                        row.save(update_fields=["conflict"])
                    report.kept.append(item.slug)
                else:  # a copy from before files_hash existed
                    row.files_hash = row.content_hash
                    row.save(update_fields=["files_hash"])
                    report.unchanged.append(item.slug)
                continue
            files_doc = _loaded_document(item)
            admin_doc = content_document(module=row)
            doc = files_doc
            if row.files_document is not None and not force:
                base = row.files_document
                clashes = authoring.conflicting_fields(base=base, admin=admin_doc, files=files_doc)
                if clashes:
                    diffs = authoring.document_diff(
                        {name: admin_doc[name] for name in clashes},
                        {name: files_doc[name] for name in clashes},
                    )
                    row.conflict = {
                        "files_hash": item.content_hash,
                        "detected_at": now.isoformat(),
                        "fields": {
                            name: {
                                "admin": authoring.field_text(admin_doc, name),
                                "files": authoring.field_text(files_doc, name),
                                "diff": diffs.get(name, ""),
                            }
                            for name in clashes
                        },
                    }
                    row.save(update_fields=["conflict"])
                    report.conflicts[item.slug] = {name: diffs.get(name, "") for name in clashes}
                    continue
                doc = authoring.merged(base=base, admin=admin_doc, files=files_doc)
            fields = _row_load(row, item, doc)
            row.status, row.synced_at, row.route = Module.Status.ACTIVE, now, route
            row.save(update_fields=[*fields, "status", "synced_at", "route"])
            if doc != admin_doc and row.revisions.exists():
                _revision_record(module=row, before=admin_doc, after=doc, source=ContentRevision.Source.SYNC)
            report.updated.append(item.slug)
        seen = {item.slug for item in loaded} | set(report.errors) | set(report.drafts)
        for slug, row in existing.items():
            if slug not in seen and row.status == Module.Status.ACTIVE:
                row.status = Module.Status.RETIRED
                row.save(update_fields=["status"])
                report.retired.append(slug)
        tracks_ensure(content_dir=content_dir)
        search_index_sync(slugs=[*report.created, *report.updated, *report.unchanged, *report.kept])
    return report


# --- authoring in the admin (modules.authoring) -------------------------------------------------------------------
class AuthoringInvalid(InvalidInput):
    """An edit the content checks refuse; ``problems`` lists every finding, as the sync would report them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), code="content_invalid")
        self.problems = problems


def content_document(*, module: Module) -> authoring.Document:
    return authoring.document_from(title=module.title, summary=module.summary, payload=module.payload)


def _revision_record(
    *,
    module: Module,
    before: authoring.Document,
    after: authoring.Document,
    source: str,
    author: User | None = None,
    reverted_from: ContentRevision | None = None,
) -> ContentRevision:
    """Append a revision holding ``after``; the first revision of a module is preceded by one holding ``before``
    (the version the history starts from), so every edit can be reverted."""
    last = module.revisions.order_by("-number").first()
    number = last.number if last else 0
    now = timezone.now()
    if last is None:
        number = 1
        ContentRevision.objects.create(
            module=module, number=1, source=ContentRevision.Source.SYNC, document=before, created_at=now
        )
    return ContentRevision.objects.create(
        module=module,
        number=number + 1,
        source=source,
        author=author,
        document=after,
        diff=authoring.document_diff(before, after),
        reverted_from=reverted_from,
        created_at=now,
    )


def authoring_figures(*, module: Module) -> Mapping[str, Mapping[str, str]]:
    """The figures a guide of ``module`` may show: those it shows now and every generated one on disk (read
    lazily, only when a guide cites it)."""
    root = Path(settings.LAB_FIGURES_DIR)
    on_disk = FigureIndex(root=root, figures=manifest_read(root) or {})
    # ChainMap only reads its later maps (lookups); its annotation asks for mutable ones
    return ChainMap(dict(module.payload.get("figures") or {}), cast("dict[str, Mapping[str, str]]", on_disk))


def content_preview(*, module: Module, lang: str, text: str) -> RenderedGuide:
    """A guide text rendered as the module page will render it (``modules.handouts``), with its problems."""
    if lang not in authoring.LANGS:
        raise InvalidInput(_("unknown language"), code="lang_unknown")
    figures = authoring_figures(module=module)
    return guide_render(text, content_loader.guide_context(module_spec_of(module=module), lang, figures))


def content_revise(
    *,
    module: Module,
    author: User | None,
    document: authoring.Document,
    source: str = ContentRevision.Source.ADMIN,
    reverted_from: ContentRevision | None = None,
) -> ContentRevision | None:
    """Save an authoring document edited in the admin as the module's content (what learners see from now on) and
    as a new revision; None when nothing changed. Refused (``AuthoringInvalid``) on what the sync would refuse."""
    doc = {name: document[name] for name in authoring.FIELDS}
    folder = Path(settings.LAB_CONTENT_DIR) / module.slug
    spec = module_spec_of(module=module)
    lists = {d.payload_key: (d.file, d.key, doc[d.payload_key]) for d in authoring.LISTS}
    guides = {lang: doc[f"guide.{lang}"] for lang in authoring.LANGS if doc[f"guide.{lang}"]}
    problems, shown = content_loader.authored_problems(
        spec, folder, guides=guides, lists=lists, figures=authoring_figures(module=module)
    )
    for key in ("title", "summary"):
        if not all(
            isinstance(doc[key].get(lang), str) and doc[key][lang].strip() for lang in authoring.LANGS
        ):
            problems.append(f"module.yaml {key}: en and zh are required")
    if problems:
        raise AuthoringInvalid(problems)
    with transaction.atomic():
        row = Module.objects.select_for_update().get(pk=module.pk)
        before = content_document(module=row)
        if before == doc:
            return None
        files_doc = row.files_document if row.files_document is not None else before
        row.payload = {**authoring.document_apply(row.payload, doc), "figures": shown}
        _title_summary_set(row, doc)
        if doc == files_doc:
            row.files_document, row.content_hash = None, row.files_hash
        else:
            row.files_document, row.content_hash = files_doc, authoring.document_hash(row.files_hash, doc)
        row.save(update_fields=["title", "summary", "metadata", "payload", "files_document", "content_hash"])
        revision = _revision_record(
            module=row, before=before, after=doc, source=source, author=author, reverted_from=reverted_from
        )
        search_index_sync(slugs=[row.slug])
    module.refresh_from_db()
    return revision


def content_revert(
    *, module: Module, revision: ContentRevision, author: User | None
) -> ContentRevision | None:
    """Make ``revision``'s document the module's content again, as a new revision."""
    if revision.module_id != module.pk:
        raise InvalidInput(_("this revision belongs to another module"), code="revision_foreign")
    return content_revise(
        module=module,
        author=author,
        document=revision.document,
        source=ContentRevision.Source.REVERT,
        reverted_from=revision,
    )


def _folder_load(*, module: Module, content_dir: Path | None) -> content_loader.LoadedModule:
    content_dir = Path(content_dir or settings.LAB_CONTENT_DIR)
    repo_root = Path(settings.LAB_REPO_ROOT)
    figures = _figures_for(content_dir=content_dir, repo_root=repo_root, figures_dir=None)
    try:
        return content_loader.load_module(content_dir / module.slug, repo_root=repo_root, figures=figures)
    except content_loader.ContentError as exc:
        raise AuthoringInvalid(exc.problems) from None


def content_export(*, module: Module, content_dir: Path | None = None, force: bool = False) -> list[str]:
    """Write the module's admin copy back into ``content/<slug>/`` (git stays the source of truth) and prove the
    round trip: the folder, loaded again, holds the same document. Returns the files written. A module in
    conflict is exported only with ``force`` (the author chose the admin's version)."""
    if module.conflict and not force:
        raise Conflict(
            _("content/ changed this module too: resolve the conflict first"), code="content_conflict"
        )
    content_dir = Path(content_dir or settings.LAB_CONTENT_DIR)
    with transaction.atomic():
        row = Module.objects.select_for_update().get(pk=module.pk)
        doc = content_document(module=row)
        written = authoring.files_write(content_dir / row.slug, doc)
        item = _folder_load(module=row, content_dir=content_dir)
        if _loaded_document(item) != doc:
            raise ServiceError(f"{row.slug}: the exported files do not read back as the admin's version")
        fields = _row_load(row, item, doc)
        row.synced_at = timezone.now()
        row.save(update_fields=[*fields, "synced_at"])
    module.refresh_from_db()
    return written


def content_take_files(*, module: Module, author: User | None, content_dir: Path | None = None) -> None:
    """Resolve a conflict (or drop unexported admin edits) by taking the ``content/`` files' version; the admin's
    version stays in the revisions."""
    item = _folder_load(module=module, content_dir=content_dir)
    with transaction.atomic():
        row = Module.objects.select_for_update().get(pk=module.pk)
        before, doc = content_document(module=row), _loaded_document(item)
        fields = _row_load(row, item, doc)
        row.synced_at = timezone.now()
        row.save(update_fields=[*fields, "synced_at"])
        if before != doc:
            _revision_record(
                module=row, before=before, after=doc, source=ContentRevision.Source.SYNC, author=author
            )
        search_index_sync(slugs=[row.slug])
    module.refresh_from_db()


EDITOR_FONT_SIZES = (12, 13, 14, 15, 16, 18, 20)
EDITOR_TAB_SIZES = (2, 4, 8)


def learner_settings_update(
    *,
    user: User,
    route_slug: str | None = None,
    editor_font_size: int | None = None,
    editor_tab_size: int | None = None,
    editor_minimap: bool | None = None,
) -> LearnerSettings:
    """Save what is given of the learner's settings (``None`` leaves a field as it is); an unknown route or a size
    outside the offered ones is refused."""
    route = None
    if route_slug is not None:
        route = Route.objects.filter(slug=route_slug).first()
        if route is None:
            raise InvalidInput(_("unknown route"), code="route_unknown")
    if editor_font_size is not None and editor_font_size not in EDITOR_FONT_SIZES:
        raise InvalidInput(_("unsupported font size"), code="font_size_invalid")
    if editor_tab_size is not None and editor_tab_size not in EDITOR_TAB_SIZES:
        raise InvalidInput(_("unsupported tab width"), code="tab_size_invalid")
    with transaction.atomic():
        row, _created = LearnerSettings.objects.select_for_update().get_or_create(
            user=user, defaults={"updated_at": timezone.now()}
        )
        fields = ["updated_at"]
        if route is not None:
            row.route, fields = route, [*fields, "route"]
        if editor_font_size is not None:
            row.editor_font_size, fields = editor_font_size, [*fields, "editor_font_size"]
        if editor_tab_size is not None:
            row.editor_tab_size, fields = editor_tab_size, [*fields, "editor_tab_size"]
        if editor_minimap is not None:
            row.editor_minimap, fields = editor_minimap, [*fields, "editor_minimap"]
        row.updated_at = timezone.now()
        row.save(update_fields=fields)
    return row


def learner_email_set(*, user: User, email: str) -> User:
    user.email = email
    user.save(update_fields=["email"])
    return user


def tracks_ensure(*, content_dir: Path) -> list[Route]:
    """Create the tracks ``content_dir/routes.yaml`` names that do not exist yet, with their members; a track that
    exists is left as the admin has it (authors edit tracks there). Returns the tracks created."""
    path = content_dir / "routes.yaml"
    if not path.is_file():
        return []
    created = []
    modules = {m.slug: m for m in Module.objects.filter(status=Module.Status.ACTIVE).only("pk", "slug")}
    for position, item in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")).get("routes") or [], 1):
        if Route.objects.filter(slug=item["slug"]).exists():
            continue
        route = Route.objects.create(
            slug=item["slug"],
            title=item.get("title") or {},
            description=item.get("description") or {},
            position=position,
        )
        route.members.set([modules[slug] for slug in item.get("modules") or [] if slug in modules])
        created.append(route)
    return created


def search_index_sync(*, slugs: list[str]) -> int:
    """Rebuild the search entries (titles, guide sections, glossary) of the modules ``slugs`` whose entries are
    missing or older than their content; returns how many modules were indexed (``modules.search``)."""
    fresh = set(
        SearchEntry.objects.filter(kind=SearchEntry.Kind.MODULE, module__slug__in=slugs)
        .values_list("module__slug", "key")
        .distinct()
    )
    indexed = 0
    for module in Module.objects.filter(slug__in=slugs, status=Module.Status.ACTIVE):
        if (module.slug, module.content_hash) in fresh:
            continue
        guides = {
            lang: selectors.module_guide_html(module=module, lang=lang)
            for lang in module.payload.get("guides", {})
        }
        search.module_index(module=module, guides=guides, glossary=module.payload.get("glossary") or [])
        indexed += 1
    return indexed


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
