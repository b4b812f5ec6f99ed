"""Course content: the sync from ``content/`` (module rows, figures, tracks, the search index) and authoring in the
admin (revisions, preview, revert, export, taking the folder's files).

Part of ``modules.services`` (its docstring holds the design choices); import from there.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from modules import authoring, search, selectors
from modules import content as content_loader
from modules import starters as starter_files
from modules.figures import FigureIndex, figures_ensure, manifest_read
from modules.handouts import FIGURE_SCHEME, RenderedGuide, guide_render
from modules.models import (
    ContentRevision,
    Module,
    Route,
    SearchEntry,
)
from modules.selectors import module_spec_of
from modules.services.errors import Conflict, InvalidInput, ServiceError

log = logging.getLogger(__name__)


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
