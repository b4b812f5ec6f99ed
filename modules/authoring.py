"""Authoring in the admin: the part of a module an author edits there, its versions, and its way back to content/.

Design choices:
- The **authoring document** is a flat mapping, one entry per field an author edits and a revision diffs:
  ``title`` and ``summary`` (``{en, zh}``, module.yaml), ``guide.en`` and ``guide.zh`` (the guides' Markdown, ""
  when a language has none) and one entry per list document in :data:`LISTS` (``hints``, ``reflection``).
  :data:`LISTS` is the extension point for more prompt lists (the survey's, once it exists): one line naming the
  payload key, the YAML file, its top-level key and schema, and every place here (document, diff, conflict,
  export) handles it; the admin adds its formset.
- Edits are validated by the loader's own checks (``modules.content.authored_problems``): the same schemas,
  guide rendering (facts, figures, deviations) and hint steps as ``sync_content``.
- Git stays the source of truth: :func:`files_write` writes the document back into the module's folder, touching
  only files whose meaning changed (a file the author did not change keeps its bytes, comments included), and the
  caller re-loads the folder to prove the round trip. module.yaml is edited in place (only its ``title`` and
  ``summary`` entries are rewritten); hints.yaml and reflection.yaml are written whole in the repository's block
  style with double-quoted strings.
- A conflict is three-way: a field conflicts when the files changed it since the admin copy was taken from them
  (``files_document``), the admin changed it too, and the two disagree (:func:`conflicting_fields`).
This module is Django-free; ``modules.services`` does the writes and ``modules.admin`` the forms.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

LANGS = ("en", "zh")


@dataclass(frozen=True)
class ListDoc:
    """An optional list document of a module folder: ``<file>.yaml`` holding ``{<key>: [...]}``, stored in the
    payload under ``payload_key`` and validated by ``content/schema/<file>.schema.json``."""

    payload_key: str
    file: str
    key: str


#: The list documents authors edit as forms; add the survey's prompts here (and a formset in the admin).
LISTS: tuple[ListDoc, ...] = (
    ListDoc(payload_key="hints", file="hints", key="hints"),
    ListDoc(payload_key="reflection", file="reflection", key="questions"),
)

#: Every field of the document, in the order forms, diffs and conflicts show them.
FIELDS: tuple[str, ...] = (
    "title",
    "summary",
    *(f"guide.{lang}" for lang in LANGS),
    *(d.payload_key for d in LISTS),
)

Document = dict[str, Any]


def document_from(
    *, title: Mapping[str, str], summary: Mapping[str, str], payload: Mapping[str, Any]
) -> Document:
    """The authoring document of a module row or a loaded folder (their title, summary and payload)."""
    guides = payload.get("guides") or {}
    doc: Document = {"title": dict(title), "summary": dict(summary)}
    for lang in LANGS:
        doc[f"guide.{lang}"] = guides.get(lang, "")
    for item in LISTS:
        doc[item.payload_key] = list(payload.get(item.payload_key) or [])
    return doc


def document_apply(payload: Mapping[str, Any], doc: Document) -> dict[str, Any]:
    """``payload`` with the guides and lists of ``doc`` (title and summary live beside the payload)."""
    out = dict(payload)
    out["guides"] = {lang: doc[f"guide.{lang}"] for lang in LANGS if doc[f"guide.{lang}"]}
    for item in LISTS:
        out[item.payload_key] = doc[item.payload_key]
    return out


def document_hash(files_hash: str, doc: Document) -> str:
    """The content hash of an admin copy that differs from its files: new for every document, so caches keyed by
    the content hash (rendered guides, search entries) never serve a stale page."""
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(b"authored:" + files_hash.encode() + b"\0" + canonical).hexdigest()


def field_text(doc: Document, name: str) -> str:
    """One field as the text a diff or a conflict shows: a guide as it is, the rest as YAML."""
    value = doc.get(name)
    if isinstance(value, str):
        return value
    return yaml_dump(value)


def document_diff(before: Document, after: Document) -> dict[str, str]:
    """A unified diff per field that changed."""
    out = {}
    for name in FIELDS:
        a, b = field_text(before, name), field_text(after, name)
        if a != b:
            lines = difflib.unified_diff(
                a.splitlines(keepends=True),
                b.splitlines(keepends=True),
                f"{name} (before)",
                f"{name} (after)",
            )
            out[name] = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return out


def conflicting_fields(*, base: Document, admin: Document, files: Document) -> list[str]:
    """Fields both sides changed since ``base`` (the files' document when the admin copy was taken), differently."""
    return [
        name
        for name in FIELDS
        if files.get(name) != base.get(name)
        and admin.get(name) != base.get(name)
        and admin.get(name) != files.get(name)
    ]


def merged(*, base: Document, admin: Document, files: Document) -> Document:
    """Each field from the side that changed it (the admin's where only it did, else the files')."""
    return {name: (admin[name] if files.get(name) == base.get(name) else files[name]) for name in FIELDS}


# --- writing content/ ------------------------------------------------------------------------------------------------
_YAML_ESCAPES = {"\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\uFEFF"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    text = json.dumps(str(value), ensure_ascii=False)
    return "".join(
        _YAML_ESCAPES.get(ch, f"\\x{ord(ch):02x}" if 0x7F <= ord(ch) <= 0x9F else ch) for ch in text
    )


def _block(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_block(item, indent + 2))
            else:
                lines.append(
                    f"{pad}{key}: {_scalar(item) if not isinstance(item, dict | list) else json.dumps(item)}"
                )
    elif isinstance(value, list):
        for item in value:
            inner = _block(item, indent + 2)
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(
                    f"{pad}- {_scalar(item) if not isinstance(item, dict | list) else json.dumps(item)}"
                )
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def yaml_dump(value: Any) -> str:
    """``value`` as block-style YAML with double-quoted strings, keys in their order; reads back as ``value``."""
    text = "\n".join(_block(value, 0)) + "\n"
    if yaml.safe_load(text) != value:
        raise ValueError("the YAML emitter does not round-trip this value")
    return text


def _yaml_entry_replace(text: str, key: str, value: Mapping[str, str]) -> str:
    """``text`` (a module.yaml) with its top-level ``key`` entry rewritten, everything else byte for byte."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*:", line)), None)
    inline = "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + f"{key}: {inline}\n"
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # keep blank lines that separate the next entry
    if len(inline) + len(key) + 2 <= 118:
        block = [f"{key}: {inline}\n"]
    else:
        block = [f"{key}:\n", *(f"  {k}: {_scalar(v)}\n" for k, v in value.items())]
    return "".join([*lines[:start], *block, *lines[end:]])


def files_write(folder: Path, doc: Document) -> list[str]:
    """Write ``doc`` into the module folder ``folder``; returns the names of the files written (or removed). A file
    whose meaning already matches the document is left untouched."""
    written: list[str] = []
    meta_path = folder / "module.yaml"
    meta_text = meta_path.read_text(encoding="utf-8")
    meta = yaml.safe_load(meta_text)
    new_text = meta_text
    for key in ("title", "summary"):
        if meta.get(key) != doc[key]:
            new_text = _yaml_entry_replace(new_text, key, doc[key])
    if new_text != meta_text:
        expected = {**meta, "title": doc["title"], "summary": doc["summary"]}
        if yaml.safe_load(new_text) != expected:
            raise ValueError("module.yaml: rewriting title/summary changed other entries")
        meta_path.write_text(new_text, encoding="utf-8")
        written.append("module.yaml")
    for lang in LANGS:
        path, text = folder / f"guide.{lang}.md", doc[f"guide.{lang}"]
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if text and current != text:
            path.write_text(text, encoding="utf-8")
            written.append(path.name)
        elif not text and current is not None:
            path.unlink()
            written.append(path.name)
    for item in LISTS:
        path = folder / f"{item.file}.yaml"
        items = doc[item.payload_key]
        current = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        if (current or {}).get(item.key, []) == items and (current is not None or not items):
            continue
        if items:
            path.write_text(yaml_dump({item.key: items}), encoding="utf-8")
        else:
            path.unlink()
        written.append(path.name)
    return written
