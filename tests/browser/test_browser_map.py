"""The dashboard's module map draws the unlock graph: one edge per prerequisite pair, on the right cards, by state.

The pairs come from ``GET /api/modules/`` (the synced content as the server sees it), never from a list here.
Module 1 is passed through the real submissions endpoint with the reference solution, so the edges' states are
the server's own.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import (
    FIRST_MODULE,
    LabServer,
    api_modules,
    pass_first_module,
    reflect_first_module,
    signup,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOLERANCE_PX = 1.5

EDGES_JS = """() => {
    const card = (slug) => document.querySelector(`[data-testid=module-map] .module-card[data-module="${slug}"]`);
    const rect = (el) => { const r = el.getBoundingClientRect();
        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
    return [...document.querySelectorAll('[data-testid=map-graph] .map-edge')].map((g) => {
        const line = g.querySelector('.map-edge-line');
        const ctm = line.getScreenCTM();
        const at = (len) => { const p = line.getPointAtLength(len).matrixTransform(ctm); return {x: p.x, y: p.y}; };
        return {
            from: g.dataset.from, to: g.dataset.to, state: g.dataset.state,
            start: at(0), end: at(line.getTotalLength()),
            fromBox: rect(card(g.dataset.from)), toBox: rect(card(g.dataset.to)),
            stroke: getComputedStyle(line).stroke, dash: getComputedStyle(line).strokeDasharray,
        };
    });
}"""

LAID_OUT_JS = """() => {
    const map = document.querySelector('[data-testid=module-map]');
    const svg = document.querySelector('[data-testid=map-graph]');
    return svg && svg.getAttribute('width') === String(map.clientWidth)
        && svg.getAttribute('height') === String(map.clientHeight)
        && svg.querySelectorAll('.map-edge').length > 0;
}"""


def prerequisite_pairs(modules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    slugs = {m["slug"] for m in modules}
    return {(p, m["slug"]) for m in modules for p in m.get("prerequisites") or [] if p in slugs}


def on_border(point: dict[str, float], box: dict[str, float]) -> bool:
    x, y = point["x"], point["y"]
    inside = (
        box["left"] - TOLERANCE_PX <= x <= box["right"] + TOLERANCE_PX
        and box["top"] - TOLERANCE_PX <= y <= box["bottom"] + TOLERANCE_PX
    )
    gap = min(abs(x - box["left"]), abs(x - box["right"]), abs(y - box["top"]), abs(y - box["bottom"]))
    return inside and gap <= TOLERANCE_PX


def assert_edges_sit_on_their_cards(edges: list[dict[str, Any]]) -> None:
    for e in edges:
        assert on_border(e["start"], e["fromBox"]), f"{e['from']}→{e['to']} starts off {e['from']}: {e}"
        assert on_border(e["end"], e["toBox"]), f"{e['from']}→{e['to']} ends off {e['to']}: {e}"


def test_the_map_draws_one_edge_per_prerequisite_on_the_right_cards_by_state(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    # wide enough for three columns beside the left navigation, so the narrow window below has fewer
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        signup(page, lab_server, "en", f"map-{int(time.time() * 1000) % 10**8}")
        modules = api_modules(page)
        pairs = prerequisite_pairs(modules)
        assert len(pairs) >= 2  # the real course has a graph to draw
        page.wait_for_function(LAID_OUT_JS)
        assert page.get_attribute("[data-testid=map-graph]", "aria-hidden") == "true"

        edges = page.evaluate(EDGES_JS)
        assert len(edges) == len(pairs)
        assert {(e["from"], e["to"]) for e in edges} == pairs
        assert_edges_sit_on_their_cards(edges)
        assert {e["state"] for e in edges} == {
            "locked"
        }  # nothing is passed yet: every module with a prerequisite is locked
        # the cards keep the graph in words
        assert "Unlocks after" in page.inner_text("[data-testid=module-map]")
        page.screenshot(path=str(screenshots / "map-fresh.png"), full_page=True)

        # a narrower window reflows the grid (fewer columns); the edges follow the cards
        columns_before = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=module-map]')).gridTemplateColumns"
        )
        page.set_viewport_size({"width": 760, "height": 900})
        page.wait_for_function(
            "(cols) => getComputedStyle(document.querySelector('[data-testid=module-map]'))"
            ".gridTemplateColumns.split(' ').length !== cols.split(' ').length",
            arg=columns_before,
        )
        page.wait_for_function(LAID_OUT_JS)
        resized = page.evaluate(EDGES_JS)
        assert len(resized) == len(pairs)
        assert_edges_sit_on_their_cards(resized)
        page.screenshot(path=str(screenshots / "map-narrow.png"), full_page=True)

        # complete module 1 (pass + reflection): the edges into the modules it opens change state and look
        page.set_viewport_size({"width": 1440, "height": 900})
        pass_first_module(page)
        reflect_first_module(page)
        page.reload()
        page.wait_for_function(LAID_OUT_JS)
        after = page.evaluate(EDGES_JS)
        states = {(e["from"], e["to"]): e["state"] for e in after}
        by_slug = {m["slug"]: m for m in api_modules(page)}
        assert states == {(f, t): by_slug[t]["state"] for f, t in pairs}
        opened = [e for e in after if e["from"] == FIRST_MODULE]
        still_locked = [e for e in after if e["state"] == "locked"]
        assert opened and all(e["state"] == "unlocked" for e in opened)
        assert still_locked
        assert {e["stroke"] for e in opened}.isdisjoint({e["stroke"] for e in still_locked})
        assert all(e["dash"] == "none" for e in opened) and all(e["dash"] != "none" for e in still_locked)
        assert_edges_sit_on_their_cards(after)
        page.screenshot(path=str(screenshots / "map-after-module-1.png"), full_page=True)

        # what can be done next stands out: edges into locked (later) modules are faint
        opacity = (
            """(sel) => [...document.querySelectorAll(sel)].map((g) => Number(getComputedStyle(g).opacity))"""
        )
        assert max(page.evaluate(opacity, ".map-edge.is-locked")) < min(
            page.evaluate(opacity, ".map-edge.is-unlocked")
        )
        # pointing at a card brings out its own edges and fades the rest
        page.hover(f".module-card[data-module='{FIRST_MODULE}']")
        page.wait_for_selector("[data-testid=map-graph].is-focusing")
        focused = page.evaluate(
            "() => [...document.querySelectorAll('.map-edge.is-focus')].map((g) => [g.dataset.from, g.dataset.to])"
        )
        assert focused and all(FIRST_MODULE in pair for pair in focused)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.map-edge:not(.is-focus)')]"
            ".every((g) => Number(getComputedStyle(g).opacity) <= 0.1)"
        )
        page.screenshot(path=str(screenshots / "map-focus-module-1.png"), full_page=True)
        page.mouse.move(2, 2)
        page.wait_for_selector("[data-testid=map-graph]:not(.is-focusing)")
        assert errors == []
    finally:
        context.close()


def test_the_map_hides_its_edges_on_a_phone_and_keeps_the_words(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        signup(page, lab_server, "en", f"map-phone-{int(time.time() * 1000) % 10**8}")
        page.wait_for_selector("[data-testid=module-map] .module-card")
        page.wait_for_function("() => document.querySelector('[data-testid=map-graph]') !== null")
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        assert not page.is_visible("[data-testid=map-graph]")
        assert page.query_selector_all("[data-testid=map-graph] .map-edge") == []
        assert "Unlocks after" in page.inner_text("[data-testid=module-map]")
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1
        page.screenshot(path=str(screenshots / "map-phone.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
