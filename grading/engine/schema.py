"""The versioned grading result (``schema_version`` 1) and its validator.

Design choices:
- The schema is data: ``result.schema.json`` beside this file (JSON Schema draft 2020-12, loaded into
  :data:`RESULT_SCHEMA`), mirrored in docs/result-schema.md, so the platform, the frontend and external tools
  check a result without importing the engine. The web contract (``labplatform/schemas/``) references it by its
  ``$id`` rather than copying it; the version and the outcomes below are read from it.
- :func:`validate_result` uses ``jsonschema`` and adds the cross-field rules a schema says badly: ``status``
  agrees with ``outcome`` and ``fault`` (``error`` only for platform faults), hidden tests carry no output,
  and every string is valid Unicode without NUL (what UTF-8 pages and PostgreSQL JSONB can hold).
- A change that breaks readers bumps ``SCHEMA_VERSION``; adding optional fields does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from .redact import is_clean, strings_of

SCHEMA_PATH = Path(__file__).with_name("result.schema.json")
RESULT_SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
SCHEMA_VERSION: int = RESULT_SCHEMA["properties"]["schema_version"]["const"]
OUTCOMES: tuple[str, ...] = tuple(RESULT_SCHEMA["properties"]["outcome"]["enum"])
PLATFORM_OUTCOMES = ("sandbox_crash", "platform_error")

_VALIDATOR = jsonschema.Draft202012Validator(RESULT_SCHEMA)


class ResultError(ValueError):
    """A result that does not follow schema version 1."""


def validate_result(result: dict[str, Any]) -> None:
    """Raise :class:`ResultError` unless ``result`` is a valid schema-1 result."""
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(result))
    if error is not None:
        raise ResultError(f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}")
    outcome, status, fault = result["outcome"], result["status"], result["fault"]
    expected: tuple[str, str | None]
    if outcome in PLATFORM_OUTCOMES:
        expected = ("error", "platform")
    elif outcome == "ok":
        expected = ("pass", None)
    else:
        expected = ("fail", "learner")
    if (status, fault) != expected:
        raise ResultError(f"outcome {outcome} needs status {expected[0]!r} and fault {expected[1]!r}")
    if result["score"] > result["max_score"]:
        raise ResultError("score is above max_score")
    for test in result["tests"]:
        if test["visibility"] == "hidden" and (test["output"] or test["metrics"]):
            raise ResultError(f"hidden test {test['id']} carries output or metrics")
    if not all(is_clean(text) for text in strings_of(result)):
        raise ResultError("a string holds NUL or a lone surrogate (clean it with grading.engine.redact)")
