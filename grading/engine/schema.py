"""The versioned grading result (``schema_version`` 1) and its validator.

Design choices:
- The schema is data (:data:`RESULT_SCHEMA`, JSON Schema draft 2020-12), mirrored in docs/result-schema.md, so
  the platform, the frontend and external tools can check a result without importing the engine.
- :func:`validate_result` uses ``jsonschema`` and adds the cross-field rules a schema says badly: ``status``
  agrees with ``outcome`` and ``fault`` (``error`` only for platform faults), hidden tests carry no output,
  and every string is valid Unicode without NUL (what UTF-8 pages and PostgreSQL JSONB can hold).
- A change that breaks readers bumps ``SCHEMA_VERSION``; adding optional fields does not.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from .redact import is_clean, strings_of

SCHEMA_VERSION = 1
OUTCOMES = (
    "ok",
    "tests_failed",
    "compile_error",
    "import_error",
    "runtime_error",
    "timeout",
    "memory_limit",
    "output_limit",
    "sandbox_crash",
    "platform_error",
)
PLATFORM_OUTCOMES = ("sandbox_crash", "platform_error")

_number = {"type": "number"}
_test = {
    "type": "object",
    "required": [
        "id",
        "name",
        "step",
        "status",
        "message",
        "output",
        "duration_seconds",
        "visibility",
        "hint",
        "metrics",
    ],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "step": {"type": ["string", "null"]},
        "status": {"enum": ["pass", "fail", "error", "skip"]},
        "message": {"type": "string"},
        "output": {"type": "string"},
        "duration_seconds": {"type": "number", "minimum": 0},
        "visibility": {"enum": ["visible", "hidden"]},
        "hint": {"type": ["string", "null"]},
        "metrics": {
            "type": "object",
            "additionalProperties": {"oneOf": [_number, {"type": "array", "items": _number}]},
        },
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://nanochat-lab.invalid/schemas/result-v1.json",
    "title": "nanochat Lab grading result",
    "type": "object",
    "required": [
        "schema_version",
        "status",
        "outcome",
        "fault",
        "message",
        "score",
        "max_score",
        "tests",
        "metrics",
        "usage",
        "timestamps",
        "module",
        "submission_id",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "status": {"enum": ["pass", "fail", "error"]},
        "outcome": {"enum": list(OUTCOMES)},
        "fault": {"enum": [None, "learner", "platform"]},
        "message": {"type": "string"},
        "score": {"type": "number", "minimum": 0},
        "max_score": {"type": "number", "minimum": 0},
        "tests": {"type": "array", "items": _test},
        "metrics": {
            "type": "object",
            "additionalProperties": {"oneOf": [_number, {"type": "array", "items": _number}]},
        },
        "usage": {
            "type": "object",
            "required": ["wall_seconds", "cpu_seconds", "max_rss_bytes"],
            "properties": {
                "wall_seconds": {"type": "number", "minimum": 0},
                "cpu_seconds": {"type": "number", "minimum": 0},
                "max_rss_bytes": {"type": ["integer", "null"], "minimum": 0},
            },
        },
        "timestamps": {
            "type": "object",
            "required": ["queued", "started", "finished"],
            "properties": {
                "queued": {"type": ["string", "null"]},
                "started": {"type": "string"},
                "finished": {"type": "string"},
            },
        },
        "module": {"type": "string"},
        "submission_id": {"type": ["string", "null"]},
    },
}


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
