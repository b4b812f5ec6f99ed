"""Handouts of modules 10 (RL) and 13 (evaluation) in the real app, in English and in Chinese: typeset maths, the
generated Plotly figure (the policy-gradient spread; CORE's centring) and the deviations box, under the lab's Content
Security Policy without a violation. An instructor reads them (the modules are locked for a new learner).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer
from tests.browser.test_browser_csp import COLLECT_VIOLATIONS
from tests.browser.test_browser_discussion import login, make_mentor
from tests.browser.test_browser_handouts import DEVIATIONS_TITLE, read_guide

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULES = ("10-rl", "13-eval")


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_rl_and_eval_handouts_show_maths_their_figure_and_deviations(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    name = f"rl-reader-{lang[:2]}-{int(time.time() * 1000) % 10**8}"
    make_mentor(lab_server, name)
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, lab_server, name)
        context.add_cookies([{"name": "django_language", "value": lang, "url": lab_server.base_url}])
        for slug in MODULES:
            seen = read_guide(page, lab_server, slug, "plot")
            assert page.get_attribute("html", "lang") == lang
            assert seen["typeset"] >= 5 and seen["display"] >= 2 and seen["errors"] == 0, seen
            assert seen["caption"] and seen["figureWidth"] > 300, seen
            assert DEVIATIONS_TITLE[lang] in seen["deviations"]
            page.locator("[data-testid=guide] figure.guide-figure").first.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / f"{slug}-{lang}-figure.png"))
            assert page.evaluate("window.__cspViolations") == []
        assert errors == []
    finally:
        context.close()
