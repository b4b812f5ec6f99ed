"""JSON with a nesting bound: ``json_loads_bounded`` and DRF's ``BoundedJSONParser`` (every API request body).

Design choices:
- Nesting past ``JSON_MAX_DEPTH`` is a client error with a clear message. Python's decoder raises
  ``RecursionError`` (a 500) on a body of a few thousand brackets, and a structure just under the interpreter's
  limit would blow up later in whatever walks it (serialisers, JSONB, events). No lab payload nests more than a
  few levels, so the bound costs nothing.
- The grading websocket reads its frames through ``json_loads_bounded`` too.
- This module imports no DRF view: DRF reads ``DEFAULT_PARSER_CLASSES`` while ``APIView`` is being defined, so the
  parser must not live beside the views' base class (``modules.api``).
"""

from __future__ import annotations

import json
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: How deep a JSON value may nest (``[]`` and ``{}`` count one level each); lab payloads use three at most.
JSON_MAX_DEPTH = 32


class JSONNestingError(ValueError):
    """A JSON document nested deeper than ``JSON_MAX_DEPTH``."""

    def __init__(self) -> None:
        super().__init__(_("JSON nested too deeply: at most %(depth)d levels") % {"depth": JSON_MAX_DEPTH})


def json_nesting_exceeds(value: Any, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether ``value`` (decoded JSON) nests deeper than ``limit``; iterative, so any depth is safe to ask about."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_loads_bounded(text: str | bytes) -> Any:
    """``json.loads`` that raises ``JSONNestingError`` (a ``ValueError``, like any malformed JSON) for nesting
    past ``JSON_MAX_DEPTH``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONNestingError() from None
    if json_nesting_exceeds(value):
        raise JSONNestingError()
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser with the nesting bound: an over-deep body is a 400 ``ParseError``, never a 500."""

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            value = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(str(JSONNestingError())) from None
        if json_nesting_exceeds(value):
            raise ParseError(str(JSONNestingError()))
        return value
