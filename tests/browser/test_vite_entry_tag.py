"""The ``{% vite_entry %}`` template tag against hand-written manifests and against the real build."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template

from tests.browser.lab import REPO

MANIFEST = {
    "_page-abc.js": {"file": "assets/page-abc.js", "name": "page", "css": ["assets/page-abc.css"]},
    "_shared-def.js": {
        "file": "assets/shared-def.js",
        "name": "shared",
        "imports": ["_page-abc.js"],
        "css": ["assets/shared-def.css", "assets/page-abc.css"],
    },
    "src/dashboard.ts": {
        "file": "assets/dashboard-123.js",
        "name": "dashboard",
        "src": "src/dashboard.ts",
        "isEntry": True,
        "imports": ["_shared-def.js", "_page-abc.js"],
        "dynamicImports": ["node_modules/plotly.js-dist-min/plotly.min.js"],
    },
    "node_modules/plotly.js-dist-min/plotly.min.js": {"file": "assets/plotly-999.js", "isDynamicEntry": True},
    "src/extra.js": {"file": "assets/extra-7.js", "name": "extra", "isEntry": True},
}


def render(name: str) -> str:
    return Template('{% load vite %}{% vite_entry "' + name + '" %}').render(Context({}))


@pytest.fixture
def dist(tmp_path: Path, settings) -> Path:
    settings.LAB_FRONTEND_DIST_DIR = tmp_path
    settings.STATIC_URL = "/static/"
    (tmp_path / ".vite").mkdir()
    (tmp_path / ".vite" / "manifest.json").write_text(json.dumps(MANIFEST))
    return tmp_path


def test_it_emits_stylesheets_then_preloads_then_the_module_script(dist: Path):
    html = render("dashboard")
    tags = re.findall(r"<(link|script)[^>]*(?:href|src)=\"([^\"]+)\"", html)
    assert tags == [
        ("link", "/static/assets/page-abc.css"),
        ("link", "/static/assets/shared-def.css"),
        ("link", "/static/assets/page-abc.js"),
        ("link", "/static/assets/shared-def.js"),
        ("script", "/static/assets/dashboard-123.js"),
    ]
    assert 'rel="modulepreload"' in html and 'type="module"' in html


def test_it_leaves_dynamic_imports_to_the_runtime_loader(dist: Path):
    assert "plotly" not in render("dashboard")


def test_it_finds_an_entry_by_its_chunk_name(dist: Path):
    assert '<script type="module" src="/static/assets/extra-7.js"></script>' == render("extra")


def test_it_rejects_an_unknown_entry_with_the_known_names(dist: Path):
    with pytest.raises(ImproperlyConfigured, match=r"'module'.*dashboard, extra"):
        render("module")


def test_it_shows_a_visible_warning_when_the_build_is_missing(tmp_path: Path, settings):
    settings.LAB_FRONTEND_DIST_DIR = tmp_path / "not-built"
    html = render("dashboard")
    assert 'role="alert"' in html
    assert "make frontend" in html
    assert str(tmp_path / "not-built") in html
    assert "<script" not in html


def test_it_rereads_a_rebuilt_manifest(dist: Path):
    assert "dashboard-123.js" in render("dashboard")
    rebuilt = dict(MANIFEST)
    rebuilt["src/dashboard.ts"] = {**MANIFEST["src/dashboard.ts"], "file": "assets/dashboard-456789.js"}
    path = dist / ".vite" / "manifest.json"
    path.write_text(json.dumps(rebuilt))
    later = time.time() + 5
    os.utime(path, (later, later))
    assert "dashboard-456789.js" in render("dashboard")


@pytest.mark.parametrize("entry", ["dashboard", "module", "auth", "authoring"])
def test_the_real_build_references_only_files_that_exist(entry: str, settings):
    dist_dir = REPO / "frontend" / "dist"
    if not (dist_dir / ".vite" / "manifest.json").is_file():
        pytest.fail("frontend/dist is not built: run make frontend")
    settings.LAB_FRONTEND_DIST_DIR = dist_dir
    settings.STATIC_URL = "/static/"
    urls = re.findall(r"(?:href|src)=\"/static/([^\"]+)\"", render(entry))
    assert any(u.endswith(".js") for u in urls)
    assert any(u.endswith(".css") for u in urls), "every page needs the stylesheet"
    for url in urls:
        assert (dist_dir / url).is_file(), url
