"""Load and validate ``content/NN-slug/`` folders (data, never imported as code).

Design choices:
- A folder is read into one plain dict (``LoadedModule``): module.yaml, the guides, starter texts, reference texts
  (``reference`` paths are relative to the repository root, or to the module's ``reference/`` folder for files not
  in nanochat_ref), hints, reflection questions and feedback rules. Tests and hidden tests are never read here:
  only the grading engine opens them, inside its sandbox.
- ``status: draft`` folders are skipped (``ContentDraft``): their starter or tests may still be missing.
- Validation uses the content engineer's JSON Schemas in ``content/schema/`` when present
  (``module.schema.json``, ``hints.schema.json``, ``reflection.schema.json``, ``feedback.schema.json``; beside
  the content folder, else the repository's ``content/schema/``), else the
  built-in schemas below that follow the team brief; cross-file checks (slug == folder, hint steps exist, file
  paths are safe and present) always run. Every problem is collected, so one run reports them all.
- ``content_hash`` is a SHA-256 over every file of the folder (path + bytes, sorted) plus the referenced
  nanochat_ref files, so any change a learner could notice changes the hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import yaml

FOLDER_RE = re.compile(r"^\d{2}-[a-z0-9][a-z0-9-]*$")
LANGS = ("en", "zh")

_I18N = {
    "type": "object",
    "required": ["en"],
    "properties": {"en": {"type": "string"}, "zh": {"type": "string"}},
}
_I18N_LIST = {
    "type": "object",
    "required": ["en"],
    "properties": {"en": {"type": "array", "items": {"type": "string"}}, "zh": {"type": "array"}},
}

BUILTIN_SCHEMAS: dict[str, dict[str, Any]] = {
    "module": {
        "type": "object",
        "required": ["slug", "order", "title", "files", "steps"],
        "properties": {
            "slug": {"type": "string", "pattern": FOLDER_RE.pattern},
            "order": {"type": "integer", "minimum": 0},
            "title": _I18N,
            "summary": _I18N,
            "prerequisites": {"type": "array", "items": {"type": "string"}},
            "goals": _I18N_LIST,
            "files": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["path", "starter"],
                    "properties": {
                        "path": {"type": "string", "minLength": 1},
                        "starter": {"type": "string", "minLength": 1},
                        "reference": {"type": "string"},
                    },
                },
            },
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title"],
                    "properties": {"id": {"type": "string"}, "title": _I18N},
                },
            },
            "limits": {"type": "object"},
            "runtime": {"enum": ["python", "torch"]},
        },
    },
    "hints": {
        "type": "object",
        "required": ["hints"],
        "properties": {
            "hints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "level", "text"],
                    "properties": {
                        "id": {"type": "string"},
                        "step": {"type": ["string", "null"]},
                        "level": {"type": "integer", "minimum": 1, "maximum": 3},
                        "text": _I18N,
                    },
                },
            }
        },
    },
    "reflection": {
        "type": "object",
        "required": ["questions"],
        "properties": {
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "kind", "prompt"],
                    "properties": {
                        "id": {"type": "string"},
                        "kind": {"enum": ["text", "choice"]},
                        "prompt": _I18N,
                        "choices": {"type": "array"},
                    },
                },
            }
        },
    },
    "feedback": {
        "type": "object",
        "required": ["rules"],
        "properties": {"rules": {"type": "array", "items": {"type": "object", "required": ["id", "match"]}}},
    },
}


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
    payload: dict[str, Any] = field(default_factory=dict)


def _schema(content_dir: Path, repo_root: Path, name: str) -> dict[str, Any]:
    """The content engineer's schema for ``name`` (beside the content, else the repository's), else the built-in."""
    for folder in (content_dir / "schema", repo_root / "content" / "schema"):
        path = folder / f"{name}.schema.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return BUILTIN_SCHEMAS[name]


def _validate(instance: Any, schema: dict[str, Any], label: str, problems: list[str]) -> None:
    validator_cls = jsonschema.validators.validator_for(schema)
    for error in sorted(validator_cls(schema).iter_errors(instance), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(root)"
        problems.append(f"{label} {where}: {error.message}")


def _read_yaml(path: Path, problems: list[str], *, required: bool) -> Any:
    if not path.is_file():
        if required:
            problems.append(f"{path.name} is missing")
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: {exc}")
        return None


def _safe_relative(path_text: str) -> bool:
    """A relative POSIX path without '..', absolute parts or backslashes."""
    if not path_text or "\\" in path_text or path_text.startswith("/"):
        return False
    return ".." not in PurePosixPath(path_text).parts


def _read_text(path: Path, label: str, problems: list[str]) -> str | None:
    if not path.is_file():
        problems.append(f"{label}: {path} does not exist")
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(f"{label}: {path} is not UTF-8 text")
        return None


def content_hash(folder: Path, extra_files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for path in sorted(extra_files):
        if path.is_file():
            digest.update(b"ref:" + path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _optional_doc(
    folder: Path, name: str, key: str, content_dir: Path, repo_root: Path, problems: list[str]
) -> dict[str, Any]:
    """hints/reflection/feedback.yaml: validated when present, ``{key: []}`` when the file is absent."""
    if not (folder / f"{name}.yaml").is_file():
        return {key: []}
    doc = _read_yaml(folder / f"{name}.yaml", problems, required=False)
    _validate(doc, _schema(content_dir, repo_root, name), f"{name}.yaml", problems)
    return doc if isinstance(doc, dict) else {key: []}


def load_module(
    folder: Path, *, repo_root: Path, content_dir: Path | None = None, include_drafts: bool = True
) -> LoadedModule:
    """Read and validate one module folder; raises ``ContentError`` with every problem found (``ContentDraft`` for
    a draft when ``include_drafts`` is false)."""
    content_dir = content_dir or folder.parent
    problems: list[str] = []
    meta = _read_yaml(folder / "module.yaml", problems, required=True)
    if meta is None:
        raise ContentError(folder.name, problems or ["module.yaml is empty"])
    _validate(meta, _schema(content_dir, repo_root, "module"), "module.yaml", problems)
    if problems:
        raise ContentError(folder.name, problems)
    if not include_drafts and meta.get("status", "ready") != "ready":
        raise ContentDraft(folder.name, ["status is draft"])
    if meta["slug"] != folder.name:
        problems.append(f"module.yaml slug {meta['slug']!r} differs from the folder name")

    starters: dict[str, str] = {}
    references: dict[str, str] = {}
    reference_paths: list[Path] = []
    for entry in meta["files"]:
        path = entry["path"]
        if not _safe_relative(path):
            problems.append(f"files: unsafe path {path!r}")
            continue
        if not _safe_relative(entry["starter"]):
            problems.append(f"files {path}: unsafe starter path")
            continue
        text = _read_text(folder / entry["starter"], f"files {path} starter", problems)
        if text is not None:
            starters[path] = text
        reference = entry.get("reference")
        if reference:
            if not _safe_relative(reference):
                problems.append(f"files {path}: unsafe reference path")
                continue
            # reference paths are relative to the repository root; module-local ones live in reference/
            candidates = [repo_root / reference, folder / reference, folder / "reference" / path]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                problems.append(f"files {path}: reference {reference} does not exist")
                continue
            reference_paths.append(found)
            text = _read_text(found, f"files {path} reference", problems)
            if text is not None:
                references[path] = text
        elif (folder / "reference" / path).is_file():
            text = _read_text(folder / "reference" / path, f"files {path} reference", problems)
            if text is not None:
                references[path] = text

    guides: dict[str, str] = {}
    for lang in LANGS:
        guide = folder / f"guide.{lang}.md"
        if guide.is_file():
            text = _read_text(guide, f"guide.{lang}.md", problems)
            if text is not None:
                guides[lang] = text
    if "en" not in guides and "zh" not in guides:
        problems.append("guide.en.md or guide.zh.md is required")

    step_ids = {step["id"] for step in meta["steps"]}
    hints_doc = _optional_doc(folder, "hints", "hints", content_dir, repo_root, problems)
    for hint in hints_doc.get("hints", []) if isinstance(hints_doc, dict) else []:
        if isinstance(hint, dict) and hint.get("step") and hint["step"] not in step_ids:
            problems.append(f"hints.yaml {hint.get('id')}: unknown step {hint['step']!r}")
    reflection_doc = _optional_doc(folder, "reflection", "questions", content_dir, repo_root, problems)
    feedback_doc = _optional_doc(folder, "feedback", "rules", content_dir, repo_root, problems)
    if problems:
        raise ContentError(folder.name, problems)

    return LoadedModule(
        slug=meta["slug"],
        order=int(meta["order"]),
        title=dict(meta["title"]),
        summary=dict(meta.get("summary") or {}),
        content_hash=content_hash(folder, reference_paths),
        metadata=meta,
        payload={
            "guides": guides,
            "starters": starters,
            "references": references,
            "hints": hints_doc.get("hints", []),
            "reflection": reflection_doc.get("questions", []),
            "feedback": feedback_doc.get("rules", []),
        },
    )


def discover(content_dir: Path) -> list[Path]:
    """Module folders (``NN-slug`` with a module.yaml), in name order."""
    if not content_dir.is_dir():
        return []
    return sorted(p for p in content_dir.iterdir() if p.is_dir() and FOLDER_RE.match(p.name))
