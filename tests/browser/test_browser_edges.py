"""The rough edges of the learner's pages, in English and Chinese: steps named by their titles (chips, test rows,
hints), hints opened per step, the untouched starter lint-clean, a long test's countdown, the learning log and
its badge without a reload, and the account pages (change and reset a password) in the lab's look. (The phone
layout: ``test_browser_pages.test_the_pages_fit_a_phone_screen``.)

The run on the module page is streamed by a stand-in websocket (``page.route_web_socket``) so the test decides
when a test starts and when the verdict comes; the page, its decoders and its views are the real ones.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, LabServer, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_ids = itertools.count()
FAKE_ID = 987654322
RAW_STEP_ID = re.compile(r"\bstep\d\b|\bh\d\b", re.IGNORECASE)
TEXTS = {
    "en": {
        "step2": "Step 2 · Hello, nanochat",
        "label": "Steps in attempt #1:",
        "hint_link": "Stuck? Open the hints for Step 2 · Hello, nanochat",
        "lint_clean": "No lint issues",
        "countdown": "s left of the 10 s one call into your code may take",
        "chronicler": "Chronicler",
    },
    "zh-hans": {
        "step2": "步骤 2 · 你好，nanochat",
        "label": "第 1 次提交的各步骤：",
        "hint_link": "卡住了？查看「步骤 2 · 你好，nanochat」的提示",
        "lint_clean": "代码检查无问题",
        "countdown": "对你代码的每次调用最多 10 秒",
        "chronicler": "勤于记录",
    },
}


def _name(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}-{int(time.time() * 1000) % 10**8}"


def _new_page(chromium: Any, **context_args: Any) -> tuple[Any, Any, list[str]]:
    context = chromium.new_context(**({"viewport": {"width": 1366, "height": 900}} | context_args))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def _test(name: str, step: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"visible/test_hello.py::{name}",
        "name": name,
        "step": step,
        "status": status,
        "message": "",
        "output": "",
        "duration_seconds": 0.5,
        "visibility": "visible",
        "hint": None,
        "metrics": {},
    } | extra


def _run_events(sid: int) -> tuple[list[dict], list[dict]]:
    """The stand-in run: first a test that starts and keeps running, then (on demand) its end and the verdict."""
    slow = _test("test_greet_strips_surrounding_whitespace", "step2", "fail", hint="h4")
    slow["message"] = "greet('  Ada ') returned 'Hello,   Ada !': strip the name first (step 2)."
    quick = _test("test_env_report_has_exactly_the_four_keys", "step1", "pass", hint="h1")
    tests = [quick, slow]
    start = [
        {"type": "phase", "seq": 0, "t": 0.0, "phase": "tests_collected", "count": 2},
        {
            "type": "test_started",
            "seq": 1,
            "t": 0.1,
            "id": quick["id"],
            "name": quick["name"],
            "step": "step1",
            "visibility": "visible",
        },  # fmt: skip
        {"type": "test_finished", "seq": 2, "t": 0.2, "test": quick},
        {
            "type": "test_started",
            "seq": 3,
            "t": 0.3,
            "id": slow["id"],
            "name": slow["name"],
            "step": "step2",
            "visibility": "visible",
        },  # fmt: skip
    ]
    result = {
        "schema_version": 1,
        "status": "fail",
        "outcome": "tests_failed",
        "fault": "learner",
        "message": "1 of 2 tests failed",
        "score": 1,
        "max_score": 2,
        "tests": tests,
        "metrics": {},
        "usage": {"wall_seconds": 3.2, "cpu_seconds": 2.9, "max_rss_bytes": 300 * 2**20},
        "timestamps": {"queued": None, "started": "2026-11-29T19:00:00Z", "finished": "2026-11-29T19:00:03Z"},
        "module": FIRST_MODULE,
        "submission_id": str(sid),
    }
    end = [
        {"type": "test_finished", "seq": 4, "t": 3.1, "test": slow},
        {
            "type": "verdict",
            "seq": 5,
            "t": 3.2,
            "result": result,
            "advice": [],
            "attempt": {
                "id": sid,
                "status": "done",
                "created_at": "2026-11-29T19:00:00Z",
                "finished_at": "2026-11-29T19:00:03Z",
                "result": {"status": "fail", "outcome": "tests_failed", "score": 1, "max_score": 2},
                "superseded_by": None,
                "url": f"/api/submissions/{sid}/",
            },
            "progress": {
                "state": "unlocked",
                "attempts": 1,
                "best_score": 1,
                "max_score": 2,
                "passed_at": None,
            },
            "unlocked": [],
            "next_module": None,
        },
    ]
    return start, end


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_steps_read_as_titles_hints_open_per_step_and_a_long_test_counts_down(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    text = TEXTS[lang]
    context, page, errors = _new_page(chromium)
    sockets: list[tuple[Any, int]] = []

    def fake_socket(ws: Any) -> None:
        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "subscribe":
                sid = frame["submission_id"]
                sockets.append((ws, sid))
                for event in _run_events(sid)[0]:
                    ws.send(json.dumps({"type": "grading.event", "submission_id": sid, "event": event}))

        ws.on_message(on_message)

    def submissions(route: Any) -> None:  # no real grading run: the stand-in socket streams this one
        if route.request.method != "POST":
            route.continue_()
            return
        route.fulfill(
            status=201, content_type="application/json", body=json.dumps({"id": FAKE_ID, "status": "queued"})
        )

    try:
        signup(page, lab_server, lang, _name("edges"))
        page.route_web_socket("**/ws/grading/", fake_socket)
        page.route(f"**/api/modules/{FIRST_MODULE}/submissions/", submissions)
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        # the untouched starter is not the learner's doing: no lint issues
        page.wait_for_function(
            "(t) => document.querySelector('[data-testid=lint-state]').textContent === t",
            arg=text["lint_clean"],
            timeout=15_000,
        )

        page.click("[data-testid=run]")
        page.wait_for_selector("[data-testid=countdown]:not([hidden])", timeout=15_000)
        countdown = page.inner_text("[data-testid=countdown]")
        assert "test_greet_strips_surrounding_whitespace" in countdown and text["countdown"] in countdown
        elapsed = int(page.get_attribute("[data-testid=countdown]", "data-elapsed") or "0")
        page.wait_for_function(
            "(e) => Number(document.querySelector('[data-testid=countdown]').dataset.elapsed) > e",
            arg=elapsed,
        )
        page.locator("[data-testid=results]").screenshot(path=str(screenshots / f"countdown-{lang}.png"))

        ws, sid = sockets[-1]
        for event in _run_events(sid)[1]:
            ws.send(json.dumps({"type": "grading.event", "submission_id": sid, "event": event}))
        page.wait_for_selector("[data-testid=verdict] .verdict[data-status=fail]", timeout=15_000)
        assert page.is_hidden("[data-testid=countdown]")

        # chips: a label naming the attempt, the step titles, never a raw id
        assert page.inner_text("[data-testid=steps-label]") == text["label"]
        chips = page.query_selector_all("[data-testid=steps] .step-chip")
        assert [c.get_attribute("data-status") for c in chips] == ["pass", "fail", "none"]
        steps_in_guide = page.inner_text("[data-testid=panel-guide] ol:has(li[data-step])")
        assert not RAW_STEP_ID.search(steps_in_guide), steps_in_guide
        header = page.inner_text(".module-header")
        assert not RAW_STEP_ID.search(header), header
        # test rows: the step's title; the message once; a hint offered on the failure only, by its step
        results = page.inner_text("[data-testid=tests]")
        assert not RAW_STEP_ID.search(results.replace("(step 2)", "")), results
        failing = page.locator(".test[data-status=fail]")
        assert text["step2"] in failing.inner_text()
        assert failing.inner_text().count("strip the name first") == 1
        assert page.query_selector(".test[data-status=pass] [data-testid=hint-link]") is None
        page.screenshot(path=str(screenshots / f"steps-and-results-{lang}.png"))

        # the failure's hint link opens the hints of its step; revealing there opens that step's level 1 only
        failing.locator("[data-testid=hint-link]").click()
        assert page.inner_text("[data-testid=hint-link]") == text["hint_link"]
        assert page.is_visible("[data-testid=panel-hints]")
        page.click("[data-hint-step=step2] [data-testid=reveal-hint]")
        page.wait_for_selector("[data-hint-step=step2] .hint-card[data-level='1']")
        assert page.query_selector_all("[data-hint-step=step1] .hint-card") == []
        assert page.query_selector_all("[data-hint-step=step3] .hint-card") == []
        hints = page.inner_text("[data-testid=panel-hints]")
        assert text["step2"] in hints and not RAW_STEP_ID.search(hints), hints
        page.locator("[data-testid=panel-hints]").screenshot(
            path=str(screenshots / f"hints-per-step-{lang}.png")
        )
        assert errors == []
    finally:
        context.close()


def test_a_note_is_left_aligned_and_moves_its_badge_without_a_reload(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    """In Chinese (the English learning-log test in test_browser_pages checks the alignment too)."""
    lang = "zh-hans"
    context, page, errors = _new_page(chromium)
    try:
        signup(page, lab_server, lang, _name("log"))
        page.wait_for_selector("[data-testid=badges] [data-badge=chronicler]")
        badge = "[data-testid=badges] [data-badge=chronicler]"
        assert re.search(r"\b0\D+5\b", page.inner_text(badge)) and TEXTS[lang][
            "chronicler"
        ] in page.inner_text(badge)
        page.fill(".note-form textarea", "Depth is the one dial: width, heads and context follow.")
        page.click(".note-form button[type=submit]")
        page.wait_for_selector("[data-testid=notes] .note-item")
        page.wait_for_function(f"() => /\\b1\\D+5\\b/.test(document.querySelector('{badge}').innerText)")
        align = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=notes] .note-item p')).textAlign"
        )
        assert align in ("left", "start")
        page.locator("[data-testid=notes]").screenshot(path=str(screenshots / f"note-{lang}.png"))
        page.screenshot(path=str(screenshots / f"dashboard-{lang}.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def _reset_link(server: LabServer, email: str, deadline_s: float = 10) -> str:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for message in sorted((server.var_dir / "mail").glob("*.log")):
            body = message.read_text(encoding="utf-8", errors="replace")
            if f"To: {email}" in body:
                found = re.search(r"https?://\S+/accounts/reset/\S+/", body)
                assert found, body
                return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no reset e-mail to {email}")


def test_a_learner_changes_and_resets_a_password_on_lab_styled_pages(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    """Find "change password" in English, then forget the password and reset it in Chinese."""
    lang = "en"
    context, page, errors = _new_page(chromium, viewport={"width": 1100, "height": 860})
    username = _name("acct")
    email = f"{username}@example.org"
    try:
        page.goto(f"{lab_server.base_url}/accounts/signup/")
        if lang != "en":
            page.click(f"[data-testid=lang-switch] button[value='{lang}']")
            page.wait_for_selector(f"html[lang='{lang}']")
        page.fill("#id_username", username)
        page.fill("#id_email", email)
        page.fill("#id_password1", "walk-the-lab-42")
        page.fill("#id_password2", "walk-the-lab-42")
        page.click("[data-testid=signup-submit]")
        page.wait_for_url(f"{lab_server.base_url}/")

        # the name in the top bar opens "change password", in the lab's look (the form itself: a platform test)
        page.click("[data-testid=username]")
        page.wait_for_selector("[data-testid=account-page] #id_old_password")
        assert "Django" not in page.content()
        page.screenshot(path=str(screenshots / f"password-change-{lang}.png"))
        page.click("[data-testid=logout]")
        lang = "zh-hans"
        page.wait_for_selector("[data-testid=lang-switch]")
        page.click(f"[data-testid=lang-switch] button[value='{lang}']")
        page.wait_for_selector(f"html[lang='{lang}']")

        # forgot it: the login page links the reset; the e-mail (a file in embedded mode) carries the link
        page.wait_for_selector("[data-testid=forgot-password]")
        page.click("[data-testid=forgot-password]")
        page.wait_for_selector("[data-testid=account-page]")
        assert "Django" not in page.content()
        page.fill("#id_email", email)
        page.screenshot(path=str(screenshots / f"password-reset-{lang}.png"))
        page.click("[data-testid=password-reset-submit]")
        page.wait_for_selector("[data-testid=password-reset-sent]")
        page.goto(_reset_link(lab_server, email))
        page.wait_for_selector("#id_new_password1")
        page.fill("#id_new_password1", "reset-the-dial-44")
        page.fill("#id_new_password2", "reset-the-dial-44")
        page.screenshot(path=str(screenshots / f"password-reset-confirm-{lang}.png"))
        page.click("[data-testid=password-reset-confirm-submit]")
        page.wait_for_selector("[data-testid=password-reset-complete]")

        page.goto(f"{lab_server.base_url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "reset-the-dial-44")
        page.click("[data-testid=login-submit]")
        page.wait_for_url(f"{lab_server.base_url}/")
        assert page.inner_text("[data-testid=username]") == username
        assert errors == []
    finally:
        context.close()
