"""/static/ served by the ASGI app itself (no nginx needed), compressed and cached as a CDN would serve it.

- **Encodings:** the frontend build writes Brotli and gzip variants next to each text asset
  (`frontend/scripts/compress.mjs`). The handler sends the best one the request's `Accept-Encoding` allows
  (br, then gzip, then identity), with `Content-Encoding` and `Vary: Accept-Encoding`. Nothing is compressed per
  request.
- **Caching:** Vite names every asset under `assets/` with a content hash (`monaco-C_xgagmn.js`). A hashed name
  never changes content, so it is sent with `Cache-Control: public, max-age=31536000, immutable` and the browser
  never asks again. Anything else (Django admin's files, unhashed names) is `no-cache`: the browser keeps it but
  revalidates, with `ETag` / `Last-Modified` answered by 304.

Files are found by Django's staticfiles finders (frontend/dist and the apps' static folders), as before.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
import re
from typing import Any

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
)
from django.utils.http import http_date
from django.views.static import was_modified_since

# Vite's output names: `<name>-<8 hash chars>.<ext>` under assets/ (vite.config.ts keeps the defaults).
HASHED_ASSET = re.compile(r"^assets/(?:.+/)?[^/]+-[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+$")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# encoding name -> file suffix, best first
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def accepted_encodings(header: str) -> set[str]:
    """The content codings an `Accept-Encoding` header allows (q=0 excludes one; `*` allows the others)."""
    allowed: set[str] = set()
    refused: set[str] = set()
    wildcard = False
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name == "*":
            wildcard = quality > 0
        elif quality > 0:
            allowed.add(name)
        else:
            refused.add(name)
    if wildcard:
        allowed |= {name for name, _ in ENCODINGS} - refused
    return allowed


def static_response(request: HttpRequest, path: str) -> HttpResponse | FileResponse:
    """The response for the static file at `path` (relative to STATIC_URL), or 404."""
    normalized = posixpath.normpath(path).lstrip("/")
    if normalized.startswith("..") or "\x00" in normalized:
        raise Http404(path)
    absolute = finders.find(normalized)
    if not isinstance(absolute, str) or not os.path.isfile(absolute):
        raise Http404(path)
    allowed = accepted_encodings(request.headers.get("Accept-Encoding", ""))
    chosen, encoding = absolute, ""
    has_variants = False
    for name, suffix in ENCODINGS:
        if os.path.isfile(absolute + suffix):
            has_variants = True
            if not encoding and name in allowed:
                chosen, encoding = absolute + suffix, name
    stat = os.stat(chosen)
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{"-" + encoding if encoding else ""}"'
    cache_control = IMMUTABLE if HASHED_ASSET.match(normalized) else REVALIDATE
    headers: dict[str, Any] = {"ETag": etag, "Cache-Control": cache_control}
    if has_variants:
        headers["Vary"] = "Accept-Encoding"
    if_none_match = request.headers.get("If-None-Match")
    if (if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}) or (
        if_none_match is None
        and not was_modified_since(request.headers.get("If-Modified-Since"), int(stat.st_mtime))
    ):
        not_modified = HttpResponseNotModified()
        for key, value in headers.items():
            not_modified[key] = value
        return not_modified
    content_type, _ = mimetypes.guess_type(absolute)
    response = FileResponse(open(chosen, "rb"), content_type=content_type or "application/octet-stream")
    response.headers.pop("Content-Disposition", None)
    response["Last-Modified"] = http_date(stat.st_mtime)
    if encoding:
        response["Content-Encoding"] = encoding
    for key, value in headers.items():
        response[key] = value
    return response


class CompressedStaticFilesHandler(ASGIStaticFilesHandler):
    """Django's ASGI static handler, serving through `static_response` (encodings, immutable caching, 304s)."""

    def serve(self, request: HttpRequest) -> HttpResponse | FileResponse:
        return static_response(request, self.file_path(request.path))
