"""``{% vite_entry "name" %}``: the tags that load one Vite entry (dashboard, module, auth) from the build manifest.

Design choices:
- The manifest is ``<dist>/.vite/manifest.json`` where ``<dist>`` is ``settings.LAB_FRONTEND_DIST_DIR`` when set,
  else ``BASE_DIR/frontend/dist``; the path is resolved at call time (never at import time), so tests and
  operators can point it elsewhere. The parsed manifest is cached per (path, mtime, size): a rebuild is
  picked up without a restart, an unchanged file is read once.
- An entry emits its stylesheets (its own and those of every chunk it imports statically, depth first, each once),
  ``modulepreload`` links for the imported chunks, then its ``<script type="module">``. Dynamic imports (Monaco,
  Plotly) are left to Vite's runtime loader.
- URLs go through ``staticfiles``' ``static()``, so they follow STATIC_URL and hashed storage in production.
- A missing build renders a visible warning banner (and logs it) instead of a 500: the page's server-rendered
  parts still work, and the banner says exactly what to run. An unknown entry name is a programming error and
  raises ``ImproperlyConfigured``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
log = logging.getLogger(__name__)

_cache: dict[Path, tuple[tuple[float, int], dict[str, Any]]] = {}


def dist_dir() -> Path:
    """The Vite output folder (``frontend/dist`` unless ``LAB_FRONTEND_DIST_DIR`` says otherwise)."""
    configured = getattr(settings, "LAB_FRONTEND_DIST_DIR", None)
    return Path(configured) if configured else Path(settings.BASE_DIR) / "frontend" / "dist"


def manifest_path() -> Path:
    return dist_dir() / ".vite" / "manifest.json"


def load_manifest() -> dict[str, Any] | None:
    """The parsed manifest, or None when the frontend has not been built."""
    path = manifest_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    key = (stat.st_mtime, stat.st_size)
    cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise ImproperlyConfigured(f"{path} is not a Vite manifest (expected a JSON object)")
    _cache[path] = (key, manifest)
    return manifest


def find_entry(manifest: dict[str, Any], name: str) -> str:
    """The manifest key of entry ``name``: ``src/<name>.ts`` or any entry chunk whose ``name`` matches."""
    for key in (f"src/{name}.ts", f"src/{name}.js"):
        if key in manifest and manifest[key].get("isEntry"):
            return key
    for key, chunk in manifest.items():
        if chunk.get("isEntry") and chunk.get("name") == name:
            return key
    entries = sorted(c.get("name", k) for k, c in manifest.items() if c.get("isEntry"))
    raise ImproperlyConfigured(
        f"Vite entry {name!r} is not in {manifest_path()} (entries: {', '.join(entries)})"
    )


def entry_assets(manifest: dict[str, Any], name: str) -> tuple[list[str], list[str], str]:
    """(stylesheets, preloaded chunk files, entry file) for entry ``name``, paths relative to the dist folder."""
    key = find_entry(manifest, name)
    css: list[str] = []
    preload: list[str] = []
    seen: set[str] = set()

    def visit(chunk_key: str, is_entry: bool) -> None:
        if chunk_key in seen:
            return
        seen.add(chunk_key)
        chunk = manifest.get(chunk_key) or {}
        for imported in chunk.get("imports", []):
            visit(imported, False)
        for sheet in chunk.get("css", []):
            if sheet not in css:
                css.append(sheet)
        if not is_entry and chunk.get("file"):
            preload.append(chunk["file"])

    visit(key, True)
    return css, preload, manifest[key]["file"]


MISSING_BUILD = (
    '<div role="alert" class="vite-missing" style="padding:12px 16px;background:#fef2f2;color:#991b1b;'
    'border-bottom:1px solid #fecaca;font:14px system-ui,sans-serif">'
    "The frontend is not built ({} is missing): run <code>make frontend</code> "
    "(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>).</div>"
)


@register.simple_tag
def vite_entry(name: str) -> SafeString:
    """``<link rel=stylesheet>`` + ``<link rel=modulepreload>`` + ``<script type=module>`` for entry ``name``."""
    manifest = load_manifest()
    if manifest is None:
        log.warning("Vite manifest %s is missing; pages render without their scripts", manifest_path())
        return format_html(MISSING_BUILD, str(manifest_path()))
    css, preload, entry = entry_assets(manifest, name)
    parts = [
        format_html_join("", '<link rel="stylesheet" href="{}">', ((static(p),) for p in css)),
        format_html_join("", '<link rel="modulepreload" href="{}">', ((static(p),) for p in preload)),
        format_html('<script type="module" src="{}"></script>', static(entry)),
    ]
    return mark_safe("".join(parts))  # every part above is built by format_html
