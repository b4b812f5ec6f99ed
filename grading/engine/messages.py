"""The engine's own messages to a learner, in English and Chinese, from one table (``messages.json``).

The engine writes English (results are stored once, whatever page shows them later); a page in Chinese shows the
Chinese by recognising the English sentences: :func:`localize` here, and the same table compiled the same way in
the frontend (``frontend/scripts/gen-wire.mjs`` → ``src/gen/engine-messages.ts``). Only these sentences change;
everything else in a message (a learner's traceback, a test's own assertion text) is shown as written.

Placeholders are ``{name}`` or ``{name:spec}`` (a ``str.format`` spec); in the Chinese text they stand for the
captured English value as written.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

_TABLE = Path(__file__).with_name("messages.json")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@cache
def _document() -> dict[str, Any]:
    return json.loads(_TABLE.read_text(encoding="utf-8"))


def table() -> dict[str, dict[str, str]]:
    """Message key -> ``{"en": ..., "zh": ...}``."""
    return _document()["messages"]


def say(key: str, **params: Any) -> str:
    """The English message ``key`` with its placeholders filled."""
    return table()[key]["en"].format(**params)


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """(English pattern, Chinese template) per message, longest English first so that a message that contains
    another ("Hidden test failed: ..." / "Hidden test failed.") is matched whole."""
    # Numbers and names match tightly (a message may start with one); free text runs to the end of its line when
    # it ends the message, else as little as possible.
    values: dict[str, str] = _document()["values"]
    compiled = []
    for entry in sorted(table().values(), key=lambda e: -len(e["en"])):
        en, parts, pos = entry["en"], [], 0
        for match in _PLACEHOLDER.finditer(en):
            parts.append(re.escape(en[pos : match.start()]))
            name = match.group(1)
            free = r"[^\n]*" if match.end() == len(en) else r"[^\n]*?"
            parts.append(f"(?P<{name}>{values.get(name, free)})")
            pos = match.end()
        parts.append(re.escape(en[pos:]))
        compiled.append((re.compile("".join(parts)), entry["zh"]))
    return compiled


def localize(text: str, language: str) -> str:
    """``text`` with every engine sentence in it shown in ``language`` (``zh-hans`` or ``zh``; others: as is)."""
    if not text or not language.startswith("zh"):
        return text
    for pattern, zh in _patterns():
        text = pattern.sub(_filler(zh), text)
    return text


def _filler(zh: str) -> Any:
    def fill(match: re.Match[str]) -> str:
        return _PLACEHOLDER.sub(lambda p: match.group(p.group(1)), zh)

    return fill
