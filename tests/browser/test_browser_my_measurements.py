"""My measurements on a real page, in English and in Chinese.

A new learner opens "My measurements" from the left navigation: nothing measured yet, the page lists the modules
whose tests record measurements, linking to the open ones. Module 1's reference is then graded for real (the
engine in the sandbox); the page shows that attempt's measurements drawn by the results pane's chart code (the
parameters-by-depth curve, the d20 count in the table) beside the reference's own figure from module 1's guide.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, LabServer, pass_first_module, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = {
    "en": {
        "nav": "My measurements",
        "empty": "No measurements yet. These modules record them when you run their tests:",
        "locked": "(locked for now)",
        "attempt": "From your best passing attempt: score 34 / 34",
        "yours": "Your code",
        "reference": "The reference",
        "curve": "Parameters by depth",
    },
    "zh-hans": {
        "nav": "我的测量结果",
        "empty": "还没有测量结果。运行下面这些模块的测试时会记录测量结果：",
        "locked": "（尚未解锁）",
        "attempt": "来自你得分最高的通过提交：得分 34 / 34",
        "yours": "你的代码",
        "reference": "参考实现",
        "curve": "各深度的参数量",
    },
}


def switch(page: Any, lang: str) -> None:
    page.click(f"[data-testid=lang-switch] button[value='{lang}']")
    page.wait_for_selector(f"html[lang='{lang}']")


def test_my_measurements_lists_producers_then_shows_a_real_runs_measurements_beside_the_reference(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        signup(page, lab_server, "en", f"measurer-{int(time.time() * 1000) % 10**8}")
        for lang in ("en", "zh-hans"):
            text = TEXT[lang]
            if lang != "en":
                switch(page, lang)
            page.click("[data-testid=nav-measurements]")
            page.wait_for_selector("[data-testid=measurements-empty]")
            assert page.get_attribute("[data-testid=nav-measurements]", "aria-current") == "page"
            assert text["nav"] in page.inner_text("h1")
            empty = page.inner_text("[data-testid=measurements-empty]")
            assert text["empty"] in empty
            first = page.locator(f"[data-testid=measurements-empty] li[data-module='{FIRST_MODULE}'] a")
            assert first.get_attribute("href") == f"/modules/{FIRST_MODULE}/"
            locked = page.locator("[data-testid=measurements-empty] li[data-state=locked]")
            assert locked.count() > 0 and text["locked"] in locked.first.inner_text()
            page.screenshot(path=str(screenshots / f"measurements-empty-{lang}.png"))
            page.goto(f"{lab_server.base_url}/")

        pass_first_module(page)
        for lang in ("zh-hans", "en"):
            text = TEXT[lang]
            if lang != "zh-hans":
                switch(page, lang)
            page.click("[data-testid=nav-measurements]")
            page.wait_for_selector("[data-testid=measurements][data-ready='1']", timeout=30_000)
            section = page.locator(f"[data-testid=measurement][data-module='{FIRST_MODULE}']")
            assert section.count() == 1
            assert text["attempt"] in section.locator("[data-testid=measured-attempt]").inner_text()
            own = section.locator("[data-testid=measured-own]")
            assert text["yours"] in (own.text_content() or "")
            curve = own.locator(f".chart[data-chart=lines][aria-label$=': {text['curve']}'] .main-svg")
            curve.first.wait_for(timeout=30_000)
            assert "d20_params" in own.locator("[data-testid=measured-scalars]").inner_text()
            reference = section.locator("[data-testid=measured-reference]")
            assert text["reference"] in (reference.text_content() or "")
            plot = reference.locator(
                ".guide-plot[data-figure='01-onboarding/params-by-depth'][data-plotted='1']"
            )
            plot.locator(".main-svg").first.wait_for(timeout=30_000)
            section.screenshot(path=str(screenshots / f"measurements-module1-{lang}.png"))
        assert errors == [], errors
    finally:
        context.close()
