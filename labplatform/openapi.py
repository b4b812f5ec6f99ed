"""The OpenAPI 3.1 document of the JSON API under ``/api/``, built from the contract in ``labplatform/schemas/``.

Design choices:
- One source: every payload is described once, by the JSON Schemas (draft 2020-12) the frontend's validators and
  the schema tests already use. OpenAPI 3.1 speaks that dialect, so each schema file becomes one entry of
  ``components.schemas`` (named after the file: ``api``, ``module-list``, ``result-v1`` ...), its ``$id`` and
  ``$schema`` dropped and every ``$ref`` rewritten to a local pointer (``common.schema.json#/$defs/note`` ->
  ``#/components/schemas/common/$defs/note``).
- Paths and methods come from the URL resolver: every route under ``api/`` whose view is an ``APIView``, every
  method the view defines. What each operation answers (and reads) is declared next to the code, as the view's
  ``openapi`` class attribute ``{method: {"responses": {status: ref}, "request": ref, "parameters": [query
  parameter objects]}}``; a route or method
  without a declaration makes :func:`openapi_document` raise, so it cannot ship undocumented.
- Errors are ``{detail, code?}`` (``api.schema.json#/$defs/error``): every operation of a login-required view
  also answers 403 (anonymous, missing CSRF token) and every operation with a path parameter 404.
- The document is public (``GET /api/schema/``): it describes shapes, never data, and an integrator reads it
  before holding an account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from grading.engine.schema import RESULT_SCHEMA
from modules.api import ERROR_REF

SCHEMA_DIR = Path(__file__).with_name("schemas")
BASE = "https://nanochat-lab.invalid/schemas/"
OPERATION_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_PARAM_TYPES = {"int": {"type": "integer"}}


class UndocumentedRoute(LookupError):
    """An ``/api/`` route or method whose view declares no ``openapi`` entry for it."""


def component_name(file: str) -> str:
    """``common.schema.json`` -> ``common``; ``result-v1.json`` -> ``result-v1``."""
    return file.removesuffix(".json").removesuffix(".schema")


def component_ref(ref: str, *, within: str = "") -> str:
    """A contract ref (``file#/pointer``, or ``#/pointer`` inside the file ``within``) as a document pointer."""
    file, _, pointer = ref.partition("#")
    file = file.removeprefix(BASE) or within
    return f"#/components/schemas/{component_name(file)}{pointer}"


def _rewrite(node: Any, within: str) -> Any:
    if isinstance(node, dict):
        return {
            key: component_ref(value, within=within) if key == "$ref" else _rewrite(value, within)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item, within) for item in node]
    return node


def contract_schemas() -> dict[str, dict[str, Any]]:
    """The contract's schemas (``labplatform/schemas`` and the engine's result schema), by file name."""
    schemas = {
        path.name: json.loads(path.read_text(encoding="utf-8")) for path in SCHEMA_DIR.glob("*.schema.json")
    }
    schemas[RESULT_SCHEMA["$id"].removeprefix(BASE)] = RESULT_SCHEMA
    return dict(sorted(schemas.items()))


def components() -> dict[str, Any]:
    out = {}
    for file, schema in contract_schemas().items():
        body = {key: value for key, value in schema.items() if key not in ("$id", "$schema")}
        out[component_name(file)] = _rewrite(body, file)
    return out


def api_routes() -> Iterator[tuple[str, dict[str, str], type[APIView]]]:
    """``(OpenAPI path, {parameter: converter}, view class)`` for every API view route under ``/api/``, in URL conf
    order."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    for route, callback in walk(get_resolver().url_patterns, ""):
        view = getattr(callback, "view_class", None)
        if route.startswith("api/") and view is not None and issubclass(view, APIView):
            params = {name: converter or "str" for converter, name in _PARAM.findall(route)}
            yield "/" + _PARAM.sub(r"{\2}", route), params, view


def _content(ref: str | dict[str, Any]) -> dict[str, Any]:
    """A contract ref as JSON content; a declared dict is the content map itself (``{"text/csv": {...}}``)."""
    if isinstance(ref, dict):
        return ref
    return {"application/json": {"schema": {"$ref": component_ref(ref)}}}


def _operation(path: str, params: dict[str, str], method: str, view: type[APIView]) -> dict[str, Any]:
    declared = getattr(view, "openapi", {}).get(method)
    if declared is None:
        raise UndocumentedRoute(f"{method.upper()} {path}: {view.__name__}.openapi declares nothing")
    responses: dict[int, str | dict[str, Any]] = dict(declared["responses"])
    if AllowAny not in view.permission_classes:
        responses.setdefault(403, ERROR_REF)
    if params:
        responses.setdefault(404, ERROR_REF)
    operation: dict[str, Any] = {
        "operationId": f"{view.__name__}.{method}",
        "summary": (view.__doc__ or view.__name__).strip().splitlines()[0],
        "responses": {
            str(code): {"description": HTTPStatus(code).phrase, "content": _content(ref)}
            for code, ref in sorted(responses.items())
        },
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _PARAM_TYPES.get(conv, {"type": "string"})}
        for name, conv in params.items()
    ]
    parameters += declared.get("parameters", [])
    if parameters:
        operation["parameters"] = parameters
    if AllowAny in view.permission_classes:
        operation["security"] = []
    if "request" in declared:
        operation["requestBody"] = {"required": True, "content": _content(declared["request"])}
    return operation


def view_methods(view: type[APIView]) -> list[str]:
    return [method for method in OPERATION_METHODS if hasattr(view, method)]


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, built once per process (URL conf and schemas are fixed at deploy time)."""
    return document_build()


def document_build() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the URL conf in use; :class:`UndocumentedRoute` for an undeclared method."""
    paths: dict[str, dict[str, Any]] = {}
    for path, params, view in api_routes():
        item = paths.setdefault(path, {})
        for method in view_methods(view):
            item[method] = _operation(path, params, method, view)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "nanochat Lab API",
            "version": "1",
            "description": "Session authentication; unsafe methods need the CSRF token in the X-CSRFToken header. "
            "Errors are {detail, code?}. Payloads are the JSON Schemas of labplatform/schemas/.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": components(),
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "sessionid"}},
        },
        "security": [{"session": []}],
        "paths": paths,
    }


class SchemaView(APIView):
    """``GET /api/schema/`` -> this document (public: it holds shapes, no data)."""

    permission_classes = [AllowAny]
    openapi: ClassVar[dict[str, dict[str, Any]]] = {
        "get": {
            "responses": {
                200: {
                    "application/json": {
                        "schema": {"type": "object", "description": "This document (OpenAPI 3.1)"}
                    }
                }
            }
        }
    }

    def get(self, request: Request) -> Response:
        return Response(openapi_document())
