"""What a learner sees while their run waits behind another learner's, and when they replace a waiting run.

The real embedded lab (one grading thread on the short lane): learner A's run of module 1 sleeps at import, so
learner B's runs wait for it; B reads why on the page, runs again twice while waiting (the second replaces their
first waiting run), and the attempts tab says which attempt replaced it.
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
SLOW = REFERENCE + "\nimport time\n\ntime.sleep(8)\n"
TIMEOUT_MS = 120_000


def api(page: Any, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    text = page.evaluate(
        """async ([method, path, body]) => {
            const token = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || '');
            const res = await fetch(path, {
                method, credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                body: body === null ? undefined : JSON.stringify(body),
            });
            return res.text();
        }""",
        [method, path, body],
    )
    return json.loads(text)


def open_module(page: Any, server: LabServer) -> None:
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def test_a_waiting_run_says_why_and_a_newer_run_replaces_it(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    stamp = int(time.time() * 1000) % 10**8
    contexts = [chromium.new_context(viewport={"width": 1440, "height": 900}) for _ in range(2)]
    errors: list[str] = []
    try:
        flooder, learner = (context.new_page() for context in contexts)
        for page, name in ((flooder, f"slow-{stamp}"), (learner, f"waits-{stamp}")):
            page.on("pageerror", lambda e: errors.append(str(e)))
            signup(page, lab_server, "en", name)
        open_module(flooder, lab_server)
        slow = api(
            flooder, "POST", f"/api/modules/{FIRST_MODULE}/submissions/", {"files": {"hello.py": SLOW}}
        )
        deadline = time.monotonic() + 60
        while api(flooder, "GET", f"/api/submissions/{slow['id']}/")["status"] != "running":
            assert time.monotonic() < deadline, "the slow run never started"
            time.sleep(0.2)

        open_module(learner, lab_server)
        set_editor_text(learner, REFERENCE)
        learner.click("[data-testid=run]")
        queue = learner.wait_for_selector("[data-testid=verdict] [data-testid=queue]", timeout=30_000)
        assert queue.inner_text() == "Next in the tests queue: it starts as soon as a grader is free."
        assert learner.is_enabled("[data-testid=run]"), "a waiting run may be replaced"
        learner.screenshot(path=str(screenshots / "01-next-in-line.png"))

        learner.click("[data-testid=run]")  # attempt 2: waits behind attempt 1
        learner.wait_for_selector(
            "[data-testid=queue]:has-text('Waiting for your earlier run')", timeout=30_000
        )
        learner.click("[data-testid=run]")  # attempt 3: at the cap, it replaces attempt 1
        own = learner.wait_for_selector("[data-testid=queue][data-position='2']", timeout=30_000)
        assert own.inner_text() == "Waiting for your earlier run to finish first (#2 in the tests queue)."
        learner.screenshot(path=str(screenshots / "02-waiting-for-my-earlier-run.png"))

        learner.wait_for_selector("[data-testid=verdict] .verdict.is-pass", timeout=TIMEOUT_MS)
        learner.click("[data-tab=history]")
        replaced = learner.wait_for_selector(".attempt[data-status=superseded]")
        assert replaced.query_selector("[data-testid=superseded-by]").inner_text() == (
            "replaced by attempt 3 before it ran"
        )
        learner.screenshot(path=str(screenshots / "03-attempts.png"))
        replaced.query_selector("[data-action=show-result]").click()
        banner = learner.wait_for_selector("[data-testid=verdict] [data-testid=superseded]")
        assert "attempt 3 replaced it, so it was never graded" in banner.inner_text()
        assert errors == []
    finally:
        for context in contexts:
            context.close()
