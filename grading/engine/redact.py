"""What a grading run may show a learner, and store: clean text and coarse timings of hidden tests.

Imported by the runner, the learner host, the exporters and the platform (services, selectors), so the rules
live once.  Pure standard library: the learner sandbox mounts this package, and the web process stays light.

Design choices:
- Text that learner code produced (output, error messages, reprs in test messages) is made valid Unicode
  without NUL before anything stores or shows it: a lone surrogate cannot be encoded as UTF-8 (a page that
  renders one fails), and PostgreSQL's JSONB refuses ``\\u0000``.  Both become U+FFFD; every other character
  is kept, so honest output reads the same.
- Timings of hidden tests are never exact where a learner can read them: learner code could spell out a hidden
  input in how long it takes (sleep a digit's worth of tenths of a second).  Durations are rounded to whole
  seconds; times of events are rounded up (so they never run backwards); peak memory, which code can size at
  will, is withheld.  Whole seconds still carry a little: see docs/threat-model.md.
"""

from __future__ import annotations

import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with every NUL and lone surrogate replaced by U+FFFD."""
    return _UNSAFE.sub(REPLACEMENT, text)


def is_clean(text: str) -> bool:
    """Whether ``text`` holds neither NUL nor a lone surrogate."""
    return _UNSAFE.search(text) is None


def clean_tree(value: Any) -> Any:
    """A copy of a JSON-like tree (dicts, lists, scalars) with every string, keys included, cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(v) for v in value]
    return value


def strings_of(value: Any) -> list[str]:
    """Every string in a JSON-like tree, keys included."""
    found: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return found


def coarse_duration(seconds: float) -> float:
    """A hidden test's duration as a learner may see it: whole seconds."""
    return float(round(max(seconds, 0.0)))


def coarse_time(seconds: float) -> float:
    """An event time once hidden tests have run: whole seconds, rounded up (times never run backwards)."""
    return float(math.ceil(max(seconds, 0.0)))


def learner_usage(result: dict[str, Any]) -> dict[str, Any]:
    """A result's ``usage`` as a learner may see it: once hidden tests ran, whole seconds and no peak memory."""
    usage = dict(result.get("usage") or {})
    tests = result.get("tests") or []
    if not any(isinstance(t, dict) and t.get("visibility") == "hidden" for t in tests):
        return usage
    for key in ("wall_seconds", "cpu_seconds"):
        if isinstance(usage.get(key), int | float):
            usage[key] = coarse_time(float(usage[key]))
    usage["max_rss_bytes"] = None
    return usage
