"""Module 14 on a real page: the reference chat_web.py, graded by the real engine, passes its streaming route and
worker-pool step; a learner's route that releases its worker after the streaming loop (not in a finally) fails
that step with a message naming the leak and the module's advice, in English and in Chinese.

An instructor submits through the API the editor uses (as in ``test_browser_measurements.py``); the page then shows
each attempt's result as it shows any latest attempt after a reload. The buggy file is the reference with the
catalogue's ``10-release-after-loop`` change, so the walk shows what a learner with that bug reads.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer
from tests.browser.test_browser_measurements import DETAIL_JS, grade_reference, mentor_on_module

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULE = "14-chat-web"
GRADING_TIMEOUT_S = 240
STEP4 = {"en": "The streaming route and the worker pool", "zh-hans": "流式路由与工作进程池"}
ADVICE = {"en": "exactly once per request", "zh-hans": "恰好归还一次"}
RELEASE_TEST = "visible/test_chat_web.py::test_the_worker_is_released_when_the_engine_raises"

# The reference's release in a finally, moved after the loop: correct when the reply ends, a leak on an error.
IN_FINALLY = """            try:
                async for chunk in generate_stream(worker, tokens, temperature, max_new_tokens, top_k):
                    data = json.loads(chunk[len("data: ") :])
                    if "token" in data:
                        response_tokens.append(data["token"])
                    yield chunk
                logger.info("[ASSISTANT] (worker %d): %s", worker.gpu_id, "".join(response_tokens))
            finally:
                await pool.release_worker(worker)"""
AFTER_LOOP = """            async for chunk in generate_stream(worker, tokens, temperature, max_new_tokens, top_k):
                data = json.loads(chunk[len("data: ") :])
                if "token" in data:
                    response_tokens.append(data["token"])
                yield chunk
            logger.info("[ASSISTANT] (worker %d): %s", worker.gpu_id, "".join(response_tokens))
            await pool.release_worker(worker)"""

SUBMIT_PATCHED_JS = """async ([slug, before, after]) => {
    const token = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || '');
    const reference = await (await fetch(`/api/modules/${slug}/reference/`, {credentials: 'same-origin'})).json();
    const files = Object.fromEntries(Object.entries(reference.files).map(([path, text]) => {
        if (!text.includes(before)) throw new Error(`${path}: the snippet to patch is not in the reference`);
        return [path, text.replace(before, after)];
    }));
    const res = await fetch(`/api/modules/${slug}/submissions/`, {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
        body: JSON.stringify({files}),
    });
    return [res.status, await res.text()];
}"""


def _wait_done(page: Any, submission: int) -> dict[str, Any]:
    deadline = time.monotonic() + GRADING_TIMEOUT_S
    while True:
        detail = json.loads(page.evaluate(DETAIL_JS, submission))
        if detail["status"] == "done":
            return detail["result"]
        assert time.monotonic() < deadline, f"{MODULE}'s submission still {detail['status']}"
        time.sleep(2)


def _show(page: Any, server: LabServer, lang: str, status: str) -> str:
    if lang != "en":
        page.click("[data-testid=lang-switch] button[value='zh-hans']")
    page.goto(f"{server.base_url}/modules/{MODULE}/")
    page.wait_for_selector(f"[data-testid=verdict] .verdict[data-status={status}]", timeout=30_000)
    page.wait_for_selector("[data-testid=tests] .test[data-visibility=visible]", timeout=30_000)
    return page.inner_text("[data-testid=tests]")


def test_module_fourteen_grades_the_route_and_names_a_leaked_worker(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = mentor_on_module(
        chromium, lab_server, MODULE, "server", {"width": 1440, "height": 1400}
    )
    try:
        started = time.monotonic()
        result = grade_reference(page, MODULE, GRADING_TIMEOUT_S)
        print(f"module 14 reference graded in {time.monotonic() - started:.1f} s (page to verdict)")
        step4 = [t for t in result["tests"] if t.get("step") == "step4"]
        assert len(step4) >= 8 and all(t["status"] == "pass" for t in step4), step4
        for lang in ("en", "zh-hans"):
            tests = _show(page, lab_server, lang, "pass")
            assert STEP4[lang] in tests, tests
            page.query_selector("[data-testid=tests]").screenshot(
                path=str(screenshots / f"module14-reference-{lang}.png")
            )

        page.click("[data-testid=lang-switch] button[value='en']")
        status, body = page.evaluate(SUBMIT_PATCHED_JS, [MODULE, IN_FINALLY, AFTER_LOOP])
        assert status == 201, body
        result = _wait_done(page, json.loads(body)["id"])
        failed = {
            t["name"] for t in result["tests"] if t["status"] != "pass" and t.get("visibility") == "visible"
        }
        assert result["status"] == "fail" and any("released_when" in n for n in failed), failed
        for lang in ("en", "zh-hans"):
            _show(page, lab_server, lang, "fail")
            row = page.query_selector(f"[data-testid=tests] .test[data-test-id='{RELEASE_TEST}']")
            assert row is not None, RELEASE_TEST
            if row.get_attribute("open") is None:
                row.query_selector("summary").click()
            assert "never released" in row.inner_text(), row.inner_text()
            advice = page.inner_text("[data-testid=advice]")
            assert ADVICE[lang] in advice, advice
            if page.query_selector(
                "[data-testid=survey-skip]"
            ):  # the after-pass survey (the reference passed)
                page.click("[data-testid=survey-skip]")
            row.scroll_into_view_if_needed()
            row.screenshot(path=str(screenshots / f"module14-leaked-worker-test-{lang}.png"))
            page.query_selector("[data-testid=advice]").screenshot(
                path=str(screenshots / f"module14-leaked-worker-advice-{lang}.png")
            )
        assert errors == [], errors
    finally:
        context.close()
