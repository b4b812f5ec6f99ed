"""Badges on the dashboard, in Chinese: every badge is shown from the start (greyed, with its progress), and
passing module 1 for real (the reference solution through the submissions endpoint) earns "首次通过"."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer, pass_first_module, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AWARDS_JS = """() => [...document.querySelectorAll('[data-testid=badges] .award')].map((el) => ({
    id: el.dataset.badge, earned: el.classList.contains('is-earned'), text: el.innerText }))"""


def test_badges_show_what_to_earn_and_light_up_when_module_1_passes(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        signup(page, lab_server, "zh-hans", f"badges-{int(time.time() * 1000) % 10**8}")
        page.wait_for_selector("[data-testid=badges] .award")
        before = page.evaluate(AWARDS_JS)
        assert len(before) == 6 and not any(a["earned"] for a in before)
        assert "已获得 0 / 6" in page.inner_text("[data-testid=badges]")
        first = next(a for a in before if a["id"] == "first_pass")
        assert "首次通过" in first["text"] and "0 / 1" in first["text"]
        assert page.query_selector("[data-testid=mentor-queue]") is None  # learners have no mentor queue

        pass_first_module(page)
        page.reload()
        page.wait_for_selector("[data-testid=badges] .award.is-earned")
        after = {a["id"]: a for a in page.evaluate(AWARDS_JS)}
        assert after["first_pass"]["earned"] and "获得" in after["first_pass"]["text"]
        assert after["unaided"]["earned"]  # no hint was revealed
        assert not after["graduate"]["earned"] and "1 / 16" in after["graduate"]["text"]
        # earned badges come first
        assert [a["earned"] for a in page.evaluate(AWARDS_JS)][:2] == [True, True]
        page.locator("[data-testid=badges]").screenshot(path=str(screenshots / "badges-zh.png"))
        assert errors == []
    finally:
        context.close()
