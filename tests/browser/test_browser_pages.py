"""Page behaviours besides the main walk: autosave across a reload, layered hints, the learning log, a phone."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, LabServer, server_draft, signup, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_ids = itertools.count()


def learner_page(chromium: Any, server: LabServer, **context_args: Any) -> tuple[Any, Any, list[str]]:
    context = chromium.new_context(**({"viewport": {"width": 1280, "height": 860}} | context_args))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    signup(page, server, "en", f"pages-{next(_ids)}-{int(time.time() * 1000) % 10**8}")
    return context, page, errors


def open_module(page: Any, server: LabServer) -> None:
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)


def test_keystrokes_typed_just_before_a_reload_are_kept(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = learner_page(chromium, lab_server)
    try:
        open_module(page, lab_server)
        page.click(".monaco-editor .view-lines")
        page.keyboard.press("Control+End")
        page.keyboard.type("# typed right before the reload")
        page.reload()  # no wait for the debounced save
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        wait_saved(page)
        assert "# typed right before the reload" in server_draft(page, FIRST_MODULE)["hello.py"]
        page.click(".monaco-editor .view-lines")
        page.keyboard.press("Control+End")
        page.wait_for_function(
            "() => document.querySelector('.monaco-editor .view-lines').innerText"
            ".replace(/\\u00a0/g, ' ').includes('# typed right before the reload')"
        )
        page.screenshot(path=str(screenshots / "after-reload.png"))
        assert errors == []
    finally:
        context.close()


def test_hints_open_level_by_level_and_stay_revealed(lab_server: LabServer, chromium: Any, screenshots: Path):
    context, page, errors = learner_page(chromium, lab_server)
    try:
        open_module(page, lab_server)
        page.click("[data-tab=hints]")
        assert page.query_selector_all(".hint-card") == []
        page.click("[data-testid=reveal-hint]")
        page.wait_for_selector(".hint-card[data-level='1']")
        assert page.query_selector(".hint-card[data-level='2']") is None
        page.click("[data-testid=reveal-hint]")
        page.wait_for_selector(".hint-card[data-level='2']")
        page.screenshot(path=str(screenshots / "hints.png"))
        page.reload()
        page.wait_for_selector("[data-tab=hints]")
        page.click("[data-tab=hints]")
        # the tabs are drawn before the editor mounts and the hints pane fills: wait for the cards, then count them
        page.wait_for_selector(".hint-card[data-level='2']")
        levels = {c.get_attribute("data-level") for c in page.query_selector_all(".hint-card")}
        assert levels == {"1", "2"}
        assert errors == []
    finally:
        context.close()


def test_a_note_lands_in_the_learning_log(lab_server: LabServer, chromium: Any, screenshots: Path):
    context, page, errors = learner_page(chromium, lab_server)
    try:
        page.wait_for_selector("[data-testid=notes]")
        page.fill(".note-form textarea", "Depth is the one dial: width, heads and context follow.")
        page.select_option(".note-form select", FIRST_MODULE)
        page.click(".note-form button[type=submit]")
        page.wait_for_selector("[data-testid=notes] .note-item")
        assert "Depth is the one dial" in page.inner_text("[data-testid=notes]")
        align = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=notes] .note-item p')).textAlign"
        )
        assert align in ("left", "start")  # a note reads from the left, like the form above it
        page.reload()
        page.wait_for_selector("[data-testid=notes] .note-item")
        assert "Depth is the one dial" in page.inner_text("[data-testid=notes]")
        page.screenshot(path=str(screenshots / "notes.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def test_the_pages_fit_a_phone_screen(lab_server: LabServer, chromium: Any, screenshots: Path):
    """The dashboard in English, then the module page in Chinese: one pane at a time (guide, editor, results)."""
    context, page, errors = learner_page(
        chromium, lab_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    overflow = "() => document.documentElement.scrollWidth - window.innerWidth"
    try:
        page.wait_for_selector("[data-testid=module-map]")
        assert page.evaluate(overflow) <= 0
        # card titles wrap between words, never inside one
        broken = page.evaluate(
            """() => [...document.querySelectorAll('.module-card .title')].filter(
                (el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent)"""
        )
        assert broken == []
        page.screenshot(path=str(screenshots / "dashboard-phone-en.png"), full_page=True)

        page.click("[data-testid=lang-switch] button[value='zh-hans']")
        page.wait_for_selector("html[lang='zh-hans']")
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector("[data-testid=phone-switch]")
        assert page.evaluate(overflow) <= 0
        tabs = page.evaluate(
            "() => { const t = document.querySelector('.tabs'); return [t.scrollWidth, t.clientWidth]; }"
        )
        assert tabs[0] <= tabs[1], tabs  # the tab bar fits: no tab hides off the edge
        page.screenshot(path=str(screenshots / "module-phone-guide-zh.png"))

        page.click("[data-testid=phone-switch] [data-view=editor]")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        assert page.is_hidden("[data-testid=panel-guide]") and page.is_visible("[data-testid=run]")
        box = page.query_selector(".editor-host").bounding_box()
        # the editor is near the top, not below the guide
        assert box is not None and box["y"] < 400 and box["width"] >= 360 and box["height"] >= 300, box
        assert page.evaluate(overflow) <= 0
        page.screenshot(path=str(screenshots / "module-phone-editor-zh.png"))

        page.click("[data-testid=phone-switch] [data-view=results]")
        assert page.is_visible("[data-testid=results]") and page.is_hidden(".editor-host")
        page.screenshot(path=str(screenshots / "module-phone-results-zh.png"))
        assert errors == []
    finally:
        context.close()


def test_the_editor_marks_lint_issues_and_completes_names(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = learner_page(chromium, lab_server)
    try:
        open_module(page, lab_server)
        page.click(".monaco-editor .view-lines")
        page.keyboard.press("Control+End")
        page.keyboard.type("import os")
        page.wait_for_function(
            "() => /\\d/.test(document.querySelector('[data-testid=lint-state]').textContent)", timeout=15_000
        )
        page.wait_for_selector(
            ".monaco-editor .squiggly-warning, .monaco-editor .squiggly-error", timeout=15_000
        )
        page.keyboard.press("Enter")
        page.keyboard.type("NotImpl")
        page.keyboard.press("Control+Space")
        page.wait_for_selector(".suggest-widget.visible", timeout=15_000)
        assert "NotImplementedError" in page.inner_text(".suggest-widget.visible")
        page.screenshot(path=str(screenshots / "lint-and-completion.png"))
        assert errors == []
    finally:
        context.close()
