"""What one submission costs the browser, and a run that survives its socket closing mid-way.

The module page follows a run over the websocket alone: the verdict frame carries the advice, the attempt, the
module's progress and the modules it unlocked, so from "Run tests" to a verdict shown (history, state badge, next
link and unlock notice updated) the page makes at most a draft save, the submission POST and one more request.
Both tests grade module 1's reference with the real engine; the second closes the page's socket after the first
event and checks that the page re-subscribes on the new socket (the server replays what it missed) instead of
polling the submission over HTTP.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, dependent_module, set_editor_text, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFERENCE = (REPO / "content" / FIRST_MODULE / "reference" / "hello.py").read_text(encoding="utf-8")
GRADING_TIMEOUT_MS = 90_000
MAX_REQUESTS_PER_SUBMISSION = 3
_ids = itertools.count()


def open_module_one(chromium: Any, server: LabServer) -> tuple[Any, Any, list[str]]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    signup(page, server, "en", f"requests-{next(_ids)}-{int(time.time() * 1000) % 10**8}")
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
    return context, page, errors


def wait_for_settled_verdict(page: Any, server: LabServer) -> str:
    """The verdict is shown and everything it updates is on the page; returns the submission id."""
    page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=GRADING_TIMEOUT_MS)
    submission = page.get_attribute("[data-testid=results]", "data-submission")
    page.wait_for_selector(
        f"[data-testid=history] .attempt[data-submission='{submission}'][data-status=pass]", state="attached"
    )
    page.wait_for_selector("[data-testid=module-state][data-state=passed]")
    # passed, not completed: the verdict asks for the reflection in place; nothing opens before it is in
    page.wait_for_selector("[data-testid=reflection-prompt]")
    assert (
        page.query_selector(f"[data-testid=unlock-notice][data-module='{dependent_module(server)}']") is None
    )
    # the next module is still locked: no "next module" link until the reflection completes this one
    assert page.is_hidden("[data-testid=next-module]")
    page.wait_for_timeout(1500)  # anything the verdict still sets off would be sent by now
    return str(submission)


def test_one_submission_costs_at_most_three_requests_plus_the_socket(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = open_module_one(chromium, lab_server)
    try:
        set_editor_text(page, REFERENCE)
        sent: list[str] = []
        sockets: list[str] = []
        page.on("request", lambda r: sent.append(f"{r.method} {urlparse(r.url).path}"))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.click("[data-testid=run]")
        wait_for_settled_verdict(page, lab_server)
        page.screenshot(path=str(screenshots / "verdict.png"))

        requests = [r for r in sent if not r.split(" ", 1)[1].startswith("/static/")]
        print(f"requests per submission: {len(requests)}: {requests}")
        assert f"POST /api/modules/{FIRST_MODULE}/submissions/" in requests
        assert len(requests) <= MAX_REQUESTS_PER_SUBMISSION, requests
        assert sockets == [], "the run reuses the page's socket"
        assert errors == [], errors
    finally:
        context.close()


def test_a_socket_closed_mid_run_still_shows_the_verdict(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = open_module_one(chromium, lab_server)
    connections: list[list[dict[str, Any]]] = []

    def proxy(ws: Any) -> None:
        """Forward both ways to the real server; the first connection closes after its first grading event."""
        import json

        server = ws.connect_to_server()
        sent_by_page: list[dict[str, Any]] = []
        connections.append(sent_by_page)
        first = len(connections) == 1

        def from_page(message: str | bytes) -> None:
            sent_by_page.append(json.loads(message))
            server.send(message)

        def from_server(message: str | bytes) -> None:
            ws.send(message)
            if first and '"grading.event"' in str(message):
                ws.close()
                server.close()

        ws.on_message(from_page)
        server.on_message(from_server)

    try:
        page.route_web_socket("**/ws/grading/", proxy)
        page.reload()
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        set_editor_text(page, REFERENCE)
        polls: list[str] = []
        page.on(
            "request",
            lambda r: polls.append(r.url) if urlparse(r.url).path.startswith("/api/submissions/") else None,
        )
        page.click("[data-testid=run]")
        submission = wait_for_settled_verdict(page, lab_server)
        page.screenshot(path=str(screenshots / "verdict-after-reconnect.png"))

        assert len(connections) >= 2, "the page must reconnect after the drop"
        resubscribed = [f for f in connections[1] if f.get("type") == "subscribe"]
        assert {"type": "subscribe", "submission_id": int(submission)} in resubscribed, connections[1]
        assert polls == [], "a socket back within seconds is re-read over the socket, not polled"
        assert errors == [], errors
    finally:
        context.close()
