"""Read a ``content/NN-slug/`` folder for the platform: the module spec plus everything learners read.

Design choices:
- ``module.yaml`` is read by :mod:`modules.spec`, the one loader the grader uses too; this module adds the parts
  only the platform shows: guides, hints, reflection questions, feedback rules (each validated by its schema in
  ``content/schema/``), the reference texts and the starters generated from them (:mod:`modules.starters`).
  Tests and hidden tests are never read here: only the grading engine opens them, inside its sandbox.
- ``status: draft`` folders are skipped (``ContentDraft``): their stubs or tests may still be missing.
- Cross-file checks (slug == folder, hint steps exist) run here; every problem is collected, so one sync reports
  them all.
- Guides are rendered once here by the renderer the pages use (``modules.handouts``), so every fact, figure or
  ``{{deviations}}`` a guide cites that does not exist is a content error naming it; facts with a value are
  checked against the reference (``modules.facts``). The figures a guide shows are copied from the generated
  figures (``modules.figures``) into the payload.
- ``content_hash`` is a SHA-256 over every file of the folder (path + bytes, sorted), the referenced files, the
  generated starters and the figures the guides show, so any change a learner could notice — a generator change
  included — changes the hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from modules import spec as module_spec
from modules import starters as starter_gen
from modules.facts import fact_problems
from modules.figures import FigureIndex
from modules.handouts import GuideContext, guide_render
from modules.spec import ModuleSpec, SpecError

LANGS = ("en", "zh")
discover = module_spec.discover


class ContentError(Exception):
    """A content folder that cannot be loaded; ``problems`` lists every finding."""

    def __init__(self, folder: str, problems: list[str]) -> None:
        super().__init__(f"{folder}: " + "; ".join(problems))
        self.folder = folder
        self.problems = problems


class ContentDraft(ContentError):
    """A folder marked ``status: draft``: not ready for learners, skipped by the sync."""


@dataclass
class LoadedModule:
    slug: str
    order: int
    title: dict[str, str]
    summary: dict[str, str]
    content_hash: str
    metadata: dict[str, Any]
    spec: ModuleSpec
    payload: dict[str, Any] = field(default_factory=dict)


def _schema(folder: Path, name: str) -> dict[str, Any]:
    """The schema ``name`` beside the content folder (a self-contained course), else the repository's."""
    beside = folder.parent / "schema" / f"{name}.schema.json"
    path = (
        beside if beside.is_file() else module_spec.REPO_ROOT / "content" / "schema" / f"{name}.schema.json"
    )
    return json.loads(path.read_text(encoding="utf-8"))


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: {exc}")
        return None


def _read_text(path: Path, label: str, problems: list[str]) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{label}: {path} does not exist")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{label}: {path} is not readable UTF-8 text ({exc})")
    return None


def _optional_doc(folder: Path, name: str, key: str, problems: list[str]) -> dict[str, Any]:
    """hints/reflection/feedback/references.yaml: validated when present, ``{key: []}`` when the file is absent."""
    path = folder / f"{name}.yaml"
    if not path.is_file():
        return {key: []}
    doc = _read_yaml(path, problems)
    problems.extend(doc_problems(folder, name, doc))
    return doc if isinstance(doc, dict) else {key: []}


def doc_problems(folder: Path, name: str, doc: Any) -> list[str]:
    """What ``content/schema/<name>.schema.json`` finds wrong with ``doc`` (the loaded ``<name>.yaml``)."""
    schema = _schema(folder, name)
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(root)"
        problems.append(f"{name}.yaml {where}: {error.message}")
    return problems


def hint_step_problems(spec: ModuleSpec, hints: list[Any]) -> list[str]:
    return [
        f"hints.yaml {hint.get('id')}: unknown step {hint['step']!r}"
        for hint in hints
        if isinstance(hint, dict) and hint.get("step") and hint["step"] not in spec.step_ids
    ]


def content_hash(
    folder: Path,
    extra_files: list[Path],
    generated: dict[str, str],
    figures: dict[str, dict[str, str]] | None = None,
) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for path in sorted(extra_files):
        digest.update(b"ref:" + path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    for name, text in sorted(generated.items()):
        digest.update(b"starter:" + name.encode() + b"\0" + hashlib.sha256(text.encode("utf-8")).digest())
    for key, figure in sorted((figures or {}).items()):
        canonical = json.dumps(figure, sort_keys=True, ensure_ascii=False).encode("utf-8")
        digest.update(b"figure:" + key.encode() + b"\0" + hashlib.sha256(canonical).digest())
    return digest.hexdigest()


def load_module(
    folder: Path,
    *,
    repo_root: Path = module_spec.REPO_ROOT,
    include_drafts: bool = True,
    figures: FigureIndex | None = None,
) -> LoadedModule:
    """Read and validate one module folder; raises ``ContentError`` with every problem found (``ContentDraft`` for
    a draft when ``include_drafts`` is false). ``figures``: the generated figures its guides may show (none when
    not given)."""
    try:
        spec = module_spec.load(folder)
    except SpecError as exc:
        raise ContentError(folder.name, exc.problems) from None
    if not include_drafts and spec.status != "ready":
        raise ContentDraft(folder.name, ["status is draft"])
    problems: list[str] = []
    if spec.slug != folder.name:
        problems.append(f"module.yaml slug {spec.slug!r} differs from the folder name")

    references: dict[str, str] = {}
    reference_paths: list[Path] = []
    for entry in spec.files:
        path = entry.reference_path(folder, repo_root)
        text = _read_text(path, f"files {entry.path} reference", problems)
        if text is not None:
            references[entry.path] = text
            reference_paths.append(path)
    starters: dict[str, str] = {}
    if not problems:
        try:
            course = module_spec.course(folder.parent, strict=False)
            starters = starter_gen.starters(spec, repo_root, specs=course)
        except SpecError as exc:
            problems.extend(exc.problems)

    guides: dict[str, str] = {}
    for lang in LANGS:
        guide = folder / f"guide.{lang}.md"
        if guide.is_file():
            text = _read_text(guide, f"guide.{lang}.md", problems)
            if text is not None:
                guides[lang] = text
    if not guides:
        problems.append("guide.en.md or guide.zh.md is required")
    shown = _guide_problems(spec, guides, figures, problems)
    problems.extend(fact_problems(spec, repo_root))

    hints_doc = _optional_doc(folder, "hints", "hints", problems)
    problems.extend(hint_step_problems(spec, hints_doc.get("hints") or []))
    reflection_doc = _optional_doc(folder, "reflection", "questions", problems)
    feedback_doc = _optional_doc(folder, "feedback", "rules", problems)
    references_doc = _optional_doc(folder, "references", "glossary", problems)
    if problems:
        raise ContentError(folder.name, problems)

    metadata = yaml.safe_load((folder / "module.yaml").read_text(encoding="utf-8"))
    return LoadedModule(
        slug=spec.slug,
        order=spec.order,
        title=dict(spec.title),
        summary=dict(spec.summary),
        content_hash=content_hash(folder, reference_paths, starters, shown),
        metadata=metadata,
        spec=spec,
        payload={
            "guides": guides,
            "starters": starters,
            "references": references,
            "hints": hints_doc.get("hints", []),
            "reflection": reflection_doc.get("questions", []),
            "feedback": feedback_doc.get("rules", []),
            "glossary": references_doc.get("glossary", []),
            "papers": references_doc.get("papers", []),
            "figures": shown,
        },
    )


def guide_context(spec: ModuleSpec, lang: str, figures: Mapping[str, Mapping[str, str]]) -> GuideContext:
    """What a guide of ``spec`` may cite: its facts and deviations, and ``figures`` (key -> figure)."""
    return GuideContext(
        slug=spec.slug,
        lang=lang,
        facts={fact.id: fact for fact in spec.facts},
        deviations=spec.deviations,
        figures=figures,
    )


def authored_problems(
    spec: ModuleSpec,
    folder: Path,
    *,
    guides: dict[str, str],
    lists: Mapping[str, tuple[str, str, list[Any]]],
    figures: Mapping[str, Mapping[str, str]],
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The checks :func:`load_module` applies, run on content edited in the admin (``modules.authoring``):
    the guides rendered with ``figures`` available, and each optional list document (``lists``: payload key ->
    (file name, YAML key, items)) against its schema. Returns the problems and the figures the guides show."""
    problems: list[str] = []
    if not any(text.strip() for text in guides.values()):
        problems.append("guide.en.md or guide.zh.md is required")
    shown = _guide_problems(spec, guides, FigureIndex(root=folder, figures={}), problems, available=figures)
    for name, key, items in lists.values():
        if items or (folder / f"{name}.yaml").is_file():
            problems.extend(doc_problems(folder, name, {key: items}))
    problems.extend(hint_step_problems(spec, lists["hints"][2] if "hints" in lists else []))
    return problems, shown


def _guide_problems(
    spec: ModuleSpec,
    guides: dict[str, str],
    figures: FigureIndex | None,
    problems: list[str],
    available: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, dict[str, str]]:
    """Render each guide as the page will, adding what it cites but cannot find to ``problems``; returns the
    figures the guides show (key -> figure), for the payload."""
    if available is None:
        available = figures if figures is not None else {}
    shown: dict[str, dict[str, str]] = {}
    unknown_figure = False
    for lang, text in sorted(guides.items()):
        rendered = guide_render(text, guide_context(spec, lang, available))
        problems.extend(f"guide.{lang}.md: {problem}" for problem in rendered.problems)
        unknown_figure |= any(p.startswith("unknown figure") for p in rendered.problems)
        for key in rendered.figures:
            shown[key] = dict(available[key])
    if unknown_figure:
        if figures is None:
            problems.append("figures: none were given to the loader (manage.py sync_content generates them)")
        elif figures.error:
            problems.append(f"figures: {figures.error}")
    return shown
