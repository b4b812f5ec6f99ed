"""Handouts in the real app: modules 5, 6 and 7 in English and in Chinese show typeset maths (self-hosted KaTeX),
their generated figure (an SVG image, or a Plotly chart), a fact with its upstream link and the deviations box,
under the lab's Content Security Policy without a single violation.

The modules are locked for a new learner, so an instructor (who sees every module) reads them; the server's
``sync_content`` generated the figures from the reference code into its own ``var/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer
from tests.browser.test_browser_csp import COLLECT_VIOLATIONS
from tests.browser.test_browser_discussion import login, make_mentor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULES = {"05-gpt": "img", "06-optimizers": "img", "07-base-training": "plot"}
DEVIATIONS_TITLE = {"en": "Where the lab differs from nanochat", "zh-hans": "本实验与 nanochat 的不同之处"}


def read_guide(page: Any, server: LabServer, slug: str, kind: str) -> dict[str, Any]:
    page.goto(f"{server.base_url}/modules/{slug}/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.wait_for_selector("[data-testid=guide] .arithmatex[data-maths] .katex", timeout=30_000)
    if kind == "img":
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=guide] figure.guide-figure img');"
            " return i && i.complete && i.naturalWidth > 0; }",
            timeout=30_000,
        )
    else:
        page.wait_for_selector("[data-testid=guide] .guide-plot[data-plotted] .main-svg", timeout=30_000)
    return page.evaluate(
        """async () => {
            await document.fonts.ready;
            const guide = document.querySelector('[data-testid=guide]');
            const figure = guide.querySelector('figure.guide-figure');
            const katexFont = [...document.fonts].some((f) => f.family.includes('KaTeX') && f.status === 'loaded');
            return {
                typeset: guide.querySelectorAll('.arithmatex[data-maths=ok] .katex').length,
                errors: guide.querySelectorAll('.maths-error').length,
                display: guide.querySelectorAll('div.arithmatex .katex-display').length,
                katexFont,
                caption: figure.querySelector('figcaption').textContent,
                figureWidth: figure.getBoundingClientRect().width,
                facts: [...guide.querySelectorAll('sup.fact-source a')].map((a) => a.href),
                deviations: guide.querySelector('aside.deviations')?.textContent ?? '',
            };
        }"""
    )


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_handouts_show_maths_figures_facts_and_deviations_under_the_policy(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    name = f"reader-{lang[:2]}-{int(time.time() * 1000) % 10**8}"
    make_mentor(lab_server, name)
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    refused: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, lab_server, name)
        context.add_cookies([{"name": "django_language", "value": lang, "url": lab_server.base_url}])
        for slug, kind in MODULES.items():
            seen = read_guide(page, lab_server, slug, kind)
            assert page.get_attribute("html", "lang") == lang
            assert seen["typeset"] >= 2 and seen["display"] >= 1 and seen["errors"] == 0, seen
            assert seen["katexFont"], "KaTeX's fonts load from /static/"
            assert seen["caption"] and seen["figureWidth"] > 300, seen
            assert seen["facts"] and all(
                url.startswith("https://github.com/karpathy/nanochat/blob/48abd7d/") for url in seen["facts"]
            )
            assert DEVIATIONS_TITLE[lang] in seen["deviations"]
            figure = page.locator("[data-testid=guide] figure.guide-figure").first
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / f"{slug}-{lang}-figure.png"))
            page.locator("[data-testid=guide] aside.deviations").scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / f"{slug}-{lang}-deviations.png"))
            assert page.evaluate("window.__cspViolations") == []
        assert refused == [] and errors == []
    finally:
        context.close()
