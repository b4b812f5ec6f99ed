"""The left navigation, global search and settings in a real browser, in English and Chinese.

- Every nav link opens its page (desktop, both languages); on a phone the nav is a menu behind the top bar's button.
- Searching a Chinese guide term (two characters in the middle of a sentence, which only the CJK bigram index
  finds) lists its section, and the click lands on that section of the module page, scrolled into view.
- Settings switch English to Chinese and the editor's font size and minimap, and the module page's Monaco follows.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, LabServer, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAV_PAGES = [
    ("nav-progress", "/progress/", "progress-page"),
    ("nav-measurements", "/measurements/", "measurements-page"),
    ("nav-references", "/references/", "references-page"),
    ("nav-discussions", "/discussions/", "discussions-page"),
    ("nav-settings", "/settings/", "settings-page"),
    ("nav-roadmap", "/", "dashboard"),
]
#: A term of module 1's guide (open to a new learner), in the middle of a sentence.
GUIDE_TERM = {"zh-hans": "梯度"}


def new_page(chromium: Any, width: int = 1280, height: int = 900) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    return page


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_nav_links_open_their_pages(lab_server: LabServer, chromium: Any, screenshots: Path, lang: str):
    page = new_page(chromium)
    signup(page, lab_server, lang, f"nav{lang[:2]}{uuid.uuid4().hex[:6]}")
    for testid, path, landmark in NAV_PAGES:
        page.click(f"[data-testid=sidenav] [data-testid={testid}]")
        page.wait_for_url(f"{lab_server.base_url}{path}")
        page.wait_for_selector(f"[data-testid={landmark}]")
        assert page.get_attribute(f"[data-testid={testid}]", "aria-current") == "page"
        assert page.get_attribute("html", "lang") == lang
        page.screenshot(path=str(screenshots / f"{lang}-{testid}.png"))
    assert page.errors == []
    page.context.close()


def test_search_finds_a_chinese_guide_term_mid_sentence_and_the_click_jumps_to_its_section(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    lang = "zh-hans"
    page = new_page(chromium)
    signup(page, lab_server, lang, f"find{uuid.uuid4().hex[:6]}")
    page.fill("[data-testid=search-input]", GUIDE_TERM[lang])
    page.press("[data-testid=search-input]", "Enter")
    page.wait_for_selector("[data-testid=search-page]")
    hit = page.locator(
        f"[data-testid=search-hit][data-kind=section] a[href^='/modules/{FIRST_MODULE}/#']"
    ).first
    href = hit.get_attribute("href")
    anchor = href.split("#", 1)[1]
    page.screenshot(path=str(screenshots / f"{lang}-search.png"), full_page=True)
    hit.click()
    page.wait_for_url(f"{lab_server.base_url}{href}")
    heading = page.locator(f"[data-testid=guide] [id='{anchor}']")
    heading.wait_for()
    page.wait_for_function(
        """(id) => { const el = document.getElementById(id); if (!el) return false;
            const r = el.getBoundingClientRect(); return el.classList.contains('is-target')
            && r.top >= -2 && r.top < window.innerHeight / 2; }""",
        arg=anchor,
    )
    section_text = page.evaluate(
        """(id) => { const out = []; let el = document.getElementById(id).nextElementSibling;
            while (el && !/^H[1-3]$/.test(el.tagName)) { out.push(el.textContent); el = el.nextElementSibling; }
            return out.join(' ').toLowerCase(); }""",
        anchor,
    )
    assert GUIDE_TERM[lang] in section_text
    page.screenshot(path=str(screenshots / f"{lang}-section.png"))
    # the module page keeps its width for guide and editor: the nav is the menu there, at desktop width too
    assert not page.is_visible("[data-testid=sidenav]")
    page.click("[data-testid=nav-toggle]")
    page.wait_for_selector("[data-testid=sidenav]", state="visible")
    page.screenshot(path=str(screenshots / f"{lang}-module-menu.png"))
    assert page.errors == []
    page.context.close()


def test_settings_change_the_language_and_the_editor_preferences(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    start, switch_to = "en", "zh-hans"
    page = new_page(chromium)
    signup(page, lab_server, start, f"set{start[:2]}{uuid.uuid4().hex[:6]}")
    page.goto(f"{lab_server.base_url}/settings/")
    page.select_option("#id_language", switch_to)
    page.select_option("#id_editor_font_size", "18")
    page.check("#id_editor_minimap")
    page.click("[data-testid=preferences-save]")
    page.wait_for_selector("[data-testid=settings-saved]")
    assert page.get_attribute("html", "lang") == switch_to
    page.screenshot(path=str(screenshots / f"{start}-to-{switch_to}-settings.png"))
    page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector("body[data-ready='1'] [data-testid=editor] .view-lines")
    font_size = page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=editor] .view-lines')).fontSize"
    )
    assert font_size == "18px"
    assert page.locator("[data-testid=editor] .minimap").count() == 1
    assert page.locator("[data-testid=editor] .minimap").first.is_visible()
    assert page.get_attribute("html", "lang") == switch_to
    page.screenshot(path=str(screenshots / f"{start}-to-{switch_to}-editor.png"))
    assert page.errors == []
    page.context.close()


def test_on_a_phone_the_nav_is_a_menu_that_opens_and_navigates(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    page = new_page(chromium, 390, 844)
    signup(page, lab_server, "zh-hans", f"phone{uuid.uuid4().hex[:6]}")
    assert not page.is_visible("[data-testid=sidenav]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshots / "zh-phone-closed.png"))
    page.click("[data-testid=nav-toggle]")
    page.wait_for_selector("[data-testid=sidenav]", state="visible")
    assert page.get_attribute("[data-testid=nav-toggle]", "aria-expanded") == "true"
    page.screenshot(path=str(screenshots / "zh-phone-open.png"))
    page.click("[data-testid=sidenav] [data-testid=nav-progress]")
    page.wait_for_selector("[data-testid=progress-page]")
    assert not page.is_visible("[data-testid=sidenav]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(screenshots / "zh-phone-progress.png"), full_page=True)
    assert page.errors == []
    page.context.close()
