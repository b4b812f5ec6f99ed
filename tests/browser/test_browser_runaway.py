"""A runaway function fails only its own tests, on a real page, in English and in Chinese.

Module 1's reference with ``greet`` turned into an endless loop is pasted into the editor and run: the real engine
in the real sandbox grades it and the events arrive over the real websocket. While ``greet``'s first test runs, the
countdown shows it against the per-call limit; in the report every ``greet`` test fails saying, in the page's
language, that it ran out of time (the first one stopped at the limit, the others not run again), with no
internal marker (``'Timeout' == 'ValueError'``), and every test of the other functions passes. One endless loop costs one call's limit, not one
per test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, set_editor_text, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFERENCE = (REPO / "content" / FIRST_MODULE / "reference" / "hello.py").read_text(encoding="utf-8")
RUNAWAY = REFERENCE.replace("    cleaned = name.strip()\n", "    while True:\n        pass\n", 1)
GRADING_TIMEOUT_MS = 120_000
TEXT = {
    "en": {
        "countdown": "s left of the 10 s one call into your code may take",
        "fail": "Some tests failed",
        "first": "greet() ran out of time: a call took longer than 10 s and was stopped.",
        "every": "ran out of time",
        "later": "Not run: greet() ran out of time (10 s) in an earlier test",
    },
    "zh-hans": {  # the engine's sentences in Chinese (grading/engine/messages.json)
        "countdown": "对你代码的每次调用最多 10 秒",
        "fail": "部分测试未通过",
        "first": "greet() 超时：一次调用超过了 10 秒，已被停止。",
        "every": "超时",
        "later": "未运行：greet() 在前面的测试中超时（10 秒）",
    },
}
INTERNAL_MARKERS = ("'Timeout'", "== 'ValueError'", "LearnerTimeout", "LearnerGone", "Traceback")


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_a_runaway_function_fails_only_its_own_tests(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    assert RUNAWAY != REFERENCE
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    text = TEXT[lang]
    try:
        signup(page, lab_server, lang, f"looper-{lang}-{int(time.time() * 1000) % 10**8}")
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        set_editor_text(page, RUNAWAY)
        page.click("[data-testid=run]")

        # while greet's first test runs: the countdown names it and counts against the 10 s limit
        page.wait_for_function(
            """() => { const box = document.querySelector('[data-testid=countdown]');
                return !box.hidden && box.innerText.includes('test_greet_says_hello_with_the_name'); }""",
            timeout=GRADING_TIMEOUT_MS,
        )
        countdown = page.inner_text("[data-testid=countdown]")
        assert "test_greet_says_hello_with_the_name" in countdown and text["countdown"] in countdown, (
            countdown
        )
        assert page.query_selector("[data-testid=countdown] .countdown-bar[role=progressbar]") is not None
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=countdown]').dataset.elapsed) >= 3"
        )
        page.locator("[data-testid=results]").screenshot(
            path=str(screenshots / f"runaway-running-{lang}.png")
        )

        page.wait_for_selector("[data-testid=verdict] .verdict[data-status=fail]", timeout=GRADING_TIMEOUT_MS)
        assert text["fail"] in page.inner_text("[data-testid=verdict]")
        assert page.is_hidden("[data-testid=countdown]")
        # the first failure opens by itself; the learner opens greet's other rows
        for row in page.query_selector_all("[data-testid=tests] details.test[data-test-id*='::test_greet']"):
            if row.get_attribute("open") is None:
                row.query_selector("summary").click()
        rows = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=tests] .test[data-visibility=visible]')]
                .map((el) => [el.dataset.testId, el.dataset.status, el.innerText])"""
        )
        greet = {tid: (status, body) for tid, status, body in rows if "::test_greet" in tid}
        others = {tid: status for tid, status, _ in rows if "::test_greet" not in tid}
        assert len(greet) == 4 and len(others) >= 10, rows
        assert all(status == "error" for status, _ in greet.values()), greet
        first = greet["visible/test_hello.py::test_greet_says_hello_with_the_name"][1]
        assert text["first"] in first, first
        for tid, (_, body) in greet.items():
            assert text["every"] in body, (tid, body)
            assert not any(marker in body for marker in INTERNAL_MARKERS), (tid, body)
            if not tid.endswith("test_greet_says_hello_with_the_name"):
                assert text["later"] in body, body
        assert set(others.values()) == {"pass"}, others
        hidden = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid=tests] .test[data-visibility=hidden]')]
                .map((el) => [el.dataset.testId, el.dataset.status])"""
        )
        assert {status for tid, status in hidden if "::test_greet" not in tid} == {"pass"}, hidden
        assert {status for tid, status in hidden if "::test_greet" in tid} == {"error"}, hidden
        page.locator(
            "[data-test-id='visible/test_hello.py::test_greet_says_hello_with_the_name']"
        ).scroll_into_view_if_needed()
        page.locator("[data-testid=results]").screenshot(path=str(screenshots / f"runaway-report-{lang}.png"))

        # the run cost one call's limit for greet, not one per test (the server's own durations)
        detail = json.loads(
            page.evaluate(
                """async () => {
                    const id = document.querySelector('[data-testid=results]').dataset.submission;
                    return (await fetch(`/api/submissions/${id}/`, {credentials: 'same-origin'})).text();
                }"""
            )
        )
        spent = sum(
            t["duration_seconds"] for t in detail["result"]["tests"] if t["name"].startswith("test_greet")
        )
        assert spent < 20, spent
        assert errors == [], errors
    finally:
        context.close()
