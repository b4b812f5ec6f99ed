"""The learner's walk through the real app in headless Chromium, in English and in Chinese.

sign-up → dashboard → module 1 → type in Monaco → run tests → live events → a failure → fix → pass → diff against
the reference → reflection → module 2 shows unlocked. Everything goes through the browser: the grading is the real
engine in the real sandbox, the events arrive over the real websocket.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import (
    FIRST_MODULE,
    REPO,
    LabServer,
    dependent_module,
    server_draft,
    set_editor_text,
    signup,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFERENCE = (REPO / "content" / FIRST_MODULE / "reference" / "hello.py").read_text(encoding="utf-8")
GOOD_RETURN = 'return f"Hello, {cleaned}! Welcome to nanochat."'
# the broken attempt also prints, so there is learner output to stream
BROKEN = REFERENCE.replace(
    GOOD_RETURN, 'print("debug: greeting", cleaned)\n    return f"Hello {cleaned}! Welcome to nanochat."'
)
TYPED_COMMENT = "# my own note: depth is the only dial"
GRADING_TIMEOUT_MS = 90_000

TEXT = {
    "en": {
        "run": "Run tests",
        "dashboard": "Your route",
        "fail": "Some tests failed",
        "pass": "All tests passed",
        "locked_todo": "pass its tests, then submit its reflection",
    },
    "zh-hans": {
        "run": "运行测试",
        "dashboard": "你的路线",
        "fail": "部分测试未通过",
        "pass": "全部测试通过",
        "locked_todo": "先通过它的测试，再提交反思",
    },
}


def run_and_wait(page: Any, shots: Path, name: str) -> str:
    """Click Run tests, catch the running state, wait for this submission's verdict; returns its status."""
    previous = page.get_attribute("[data-testid=results]", "data-submission") or ""
    page.click("[data-testid=run]")
    page.wait_for_function(
        "(prev) => { const id = document.querySelector('[data-testid=results]').dataset.submission;"
        " return id && id !== prev; }",
        arg=previous,
        timeout=15_000,
    )
    # the first streamed test row (a screenshot of the live state when the run is still going)
    page.wait_for_selector(
        "[data-testid=tests] .test, [data-testid=verdict] .verdict:not(.is-running)",
        timeout=GRADING_TIMEOUT_MS,
    )
    if page.query_selector("[data-testid=verdict] .verdict.is-running"):
        page.screenshot(path=str(shots / f"{name}-running.png"))
    page.wait_for_selector("[data-testid=verdict] .verdict:not(.is-running)", timeout=GRADING_TIMEOUT_MS)
    return page.get_attribute("[data-testid=verdict] .verdict", "data-status")


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_learner_walks_module_one_to_an_unlock(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    context = chromium.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN" if lang != "en" else "en-US"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))),
    )
    text = TEXT[lang]
    try:
        signup(page, lab_server, lang, f"walker-{lang}-{int(time.time() * 1000) % 10**8}")
        # dashboard: module 1 open, its dependent locked
        page.wait_for_selector("[data-testid=module-map]")
        assert page.inner_text("h1") == text["dashboard"]
        nxt = dependent_module(lab_server)
        assert (
            page.get_attribute(f".module-card[data-module='{FIRST_MODULE}']", "class").count("is-unlocked")
            == 1
        )
        assert page.query_selector(f"div.module-card.is-locked[data-module='{nxt}']") is not None
        page.screenshot(path=str(screenshots / "01-dashboard.png"), full_page=True)

        # the locked module's URL: a styled page that names what is missing, with links, not a bare 403
        response = page.goto(f"{lab_server.base_url}/modules/{nxt}/")
        assert response is not None and response.status == 403
        page.wait_for_selector("[data-testid=unavailable][data-status='403']")
        missing = page.query_selector(f"[data-testid=missing-prerequisites] li[data-module='{FIRST_MODULE}']")
        assert missing is not None and missing.get_attribute("data-state") == "unlocked"
        assert text["locked_todo"] in missing.inner_text()
        page.screenshot(path=str(screenshots / "01b-locked.png"))
        page.click("[data-testid=back-to-dashboard]")
        page.wait_for_selector("[data-testid=module-map]")

        # module 1: the editor shows the starter
        page.click(f"a.module-card[data-module='{FIRST_MODULE}']")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        assert text["run"] in page.inner_text("[data-testid=run]")
        assert page.is_disabled("[data-testid=compare]"), (
            "no step of the reference is open for an untouched starter"
        )
        page.screenshot(path=str(screenshots / "02-module.png"))

        # a broken attempt, then a line typed key by key at the end; autosave reaches the server
        set_editor_text(page, BROKEN)
        page.keyboard.press("Control+End")
        page.keyboard.type(TYPED_COMMENT)
        page.keyboard.press("Enter")
        wait_saved(page)
        draft = server_draft(page, FIRST_MODULE)["hello.py"]
        assert draft == BROKEN + TYPED_COMMENT + "\n"

        # run: live events over the websocket, then a failing verdict with the greet test open
        status = run_and_wait(page, screenshots, "03")
        assert status == "fail"
        assert text["fail"] in page.inner_text("[data-testid=verdict]")
        failed = page.query_selector_all(
            "[data-testid=tests] .test[data-status=fail], [data-testid=tests] .test[data-status=error]"
        )
        assert any("greet" in (row.get_attribute("data-test-id") or "") for row in failed)
        events = [f["event"] for f in frames if f.get("type") == "grading.event"]
        kinds = [e["type"] for e in events]
        assert "test_finished" in kinds and "verdict" in kinds
        assert kinds.index("test_finished") < kinds.index("verdict"), (
            "test results must stream before the verdict"
        )
        page.screenshot(path=str(screenshots / "04-failure.png"))

        # fix: the reference body plus the typed note; pass; the page asks for the reflection in place, and
        # the dependent module stays locked until it is in
        set_editor_text(page, REFERENCE + TYPED_COMMENT + "\n")
        wait_saved(page)
        status = run_and_wait(page, screenshots, "05")
        assert status == "pass"
        assert text["pass"] in page.inner_text("[data-testid=verdict]")
        page.wait_for_selector("[data-testid=reflection-prompt]", timeout=15_000)
        assert page.query_selector(f"[data-testid=unlock-notice][data-module='{nxt}']") is None
        assert page.is_visible("[data-testid=reflection-form]"), "the reflection tab opens beside the verdict"
        assert page.get_attribute("[data-testid=next-module]", "href") == f"/modules/{nxt}/"
        page.screenshot(path=str(screenshots / "06-pass.png"))

        # compare with the reference: a diff editor with the typed note as the one change
        page.click("[data-testid=compare]")
        page.wait_for_selector("[data-testid=diff] .monaco-diff-editor", timeout=15_000)
        page.wait_for_selector(
            "[data-testid=diff] .line-insert, [data-testid=diff] .char-insert", timeout=15_000
        )
        page.screenshot(path=str(screenshots / "07-diff.png"))
        page.click("[data-testid=compare]")

        # after a reload the latest result is back, and the attempts tab keeps both attempts with their code
        page.reload()
        page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=20_000)
        page.click("[data-tab=history]")
        attempts = page.query_selector_all("[data-testid=history] .attempt")
        assert [a.get_attribute("data-status") for a in attempts] == ["pass", "fail"]
        attempts[1].query_selector("[data-action=show-code]").click()
        page.wait_for_selector(".attempt[data-status=fail] .code pre")
        assert 'f"Hello {cleaned}!' in page.inner_text(".attempt[data-status=fail] .code pre")
        page.screenshot(path=str(screenshots / "08-attempts.png"))

        # reflection: answer every question
        page.click("[data-tab=reflection]")
        form = page.wait_for_selector("[data-testid=reflection-form]")
        for question in form.query_selector_all(".question"):
            radio = question.query_selector("input[type=radio]")
            if radio:
                radio.check()
            else:
                question.query_selector("textarea").fill("Untied embeddings: wte and lm_head are separate.")
        form.query_selector("button[type=submit]").click()
        page.wait_for_selector("[data-testid=module-state][data-state=completed]", timeout=15_000)
        page.wait_for_selector(f"[data-testid=unlock-notice][data-module='{nxt}']", timeout=15_000)
        assert page.query_selector("[data-testid=reflection-prompt]") is None
        page.screenshot(path=str(screenshots / "09-reflection.png"))

        # back on the dashboard: module 1 completed, module 2 open
        page.goto(f"{lab_server.base_url}/")
        page.wait_for_selector("[data-testid=module-map]")
        assert page.query_selector(f"a.module-card.is-completed[data-module='{FIRST_MODULE}']") is not None
        assert page.query_selector(f"a.module-card.is-unlocked[data-module='{nxt}']") is not None
        page.screenshot(path=str(screenshots / "10-dashboard-unlocked.png"), full_page=True)
        assert errors == [], errors
    except Exception:
        page.screenshot(path=str(screenshots / "zz-failure.png"), full_page=True)
        print(lab_server.log_tail())
        raise
    finally:
        context.close()
