"""The results panel against a crafted result: charts from metrics, neutral hidden tests, advice, shortcuts.

Module 1's tests record a single scalar metric, so the chart kinds (loss curves, baseline-vs-optimized bars,
eval radar, heatmap) are exercised by answering the page's own API calls with a schema-1 result that has them:
the page, the decoders, the results view and the Plotly adapter are all real; only the grader is stood in for.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, LabServer, server_draft, signup, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FAKE_ID = 987654321
_ids = itertools.count()


def crafted_submission() -> dict[str, Any]:
    def test(name: str, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": f"visible/test_train.py::{name}",
            "name": name,
            "step": "step1",
            "status": status,
            "message": "",
            "output": "",
            "duration_seconds": 0.25,
            "visibility": "visible",
            "hint": None,
            "metrics": {},
        } | extra

    result = {
        "schema_version": 1,
        "status": "fail",
        "outcome": "tests_failed",
        "fault": "learner",
        "message": "1 of 3 tests failed",
        "score": 2,
        "max_score": 3,
        "tests": [
            test("test_loss_goes_down", "pass", output="step 0 loss 4.10\nstep 4 loss 1.90\n"),
            test("test_logits_shape", "fail", message="AssertionError: expected (2, 16, 64)", hint="h1"),
            test(
                "test_hidden_generalises",
                "fail",
                id="hidden/test_h.py::test_hidden_generalises",
                visibility="hidden",
                message="hidden test failed",
            ),
        ],
        "metrics": {
            "train_loss": [4.1, 3.2, 2.5, 2.1, 1.9],
            "val_loss": [4.2, 3.4, 2.8, 2.4, 2.2],
            "tokens_per_sec_baseline": 1000.0,
            "tokens_per_sec_optimized": 2500.0,
            "eval/arc": 0.41,
            "eval/mmlu": 0.32,
            "eval/gsm8k": 0.12,
            "heatmap/attention": [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0.3, 0.3, 0.4, 0, 0.25, 0.25, 0.25, 0.25],
            "max_abs_err": 1.5e-6,
        },
        "usage": {"wall_seconds": 3.2, "cpu_seconds": 2.9, "max_rss_bytes": 300 * 2**20},
        "timestamps": {"queued": None, "started": "2026-11-29T19:00:00Z", "finished": "2026-11-29T19:00:03Z"},
        "module": FIRST_MODULE,
        "submission_id": str(FAKE_ID),
    }
    return {
        "id": FAKE_ID,
        "module": FIRST_MODULE,
        "status": "done",
        "queue": None,
        "superseded_by": None,
        "created_at": "2026-11-29T19:00:00Z",
        "started_at": "2026-11-29T19:00:00Z",
        "finished_at": "2026-11-29T19:00:03Z",
        "content_hash": "crafted",
        "files": {"hello.py": "print('hi')\n"},
        "result": result,
        "advice": [{"id": "shape", "advice": "Check the `view` before the head: (B, T, C)."}],
        "events": [],
    }


def fake_submission(page: Any, body: dict[str, Any]) -> None:
    """Answer "run tests" with submission ``FAKE_ID`` (queued) and its detail endpoint with ``body``."""

    def submissions(route: Any) -> None:
        if route.request.method == "POST":
            route.fulfill(
                status=201,
                content_type="application/json",
                body=json.dumps({"id": FAKE_ID, "status": "queued"}),
            )
        else:
            route.continue_()

    page.route(f"**/api/modules/{FIRST_MODULE}/submissions/", submissions)
    page.route(
        f"**/api/submissions/{FAKE_ID}/",
        lambda route: route.fulfill(content_type="application/json", body=json.dumps(body)),
    )


def test_a_result_with_metrics_draws_every_chart_kind_and_keeps_hidden_tests_neutral(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        signup(page, lab_server, "en", f"results-{next(_ids)}-{int(time.time() * 1000) % 10**8}")

        fake_submission(page, crafted_submission())
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        page.click(".monaco-editor .view-lines")
        page.keyboard.press("Control+Enter")  # the editor's run shortcut
        page.wait_for_selector("[data-testid=verdict] .verdict[data-status=fail]", timeout=20_000)

        for kind in ("lines", "bars", "radar", "heatmap"):
            page.wait_for_selector(
                f"[data-testid=charts] .chart[data-chart={kind}] .main-svg", timeout=30_000
            )
        assert "max_abs_err" in page.inner_text(".metric-table")
        assert "train_loss" not in page.inner_text(".metric-table")

        hidden = page.query_selector(".test[data-visibility=hidden]")
        assert hidden is not None
        assert hidden.query_selector(".badge-hidden") is not None
        assert hidden.query_selector("pre.output") is None and hidden.query_selector(".hint-link") is None

        failing = page.query_selector(".test[data-test-id='visible/test_train.py::test_logits_shape']")
        assert failing.get_attribute("open") is not None, "the first visible failure opens by itself"
        assert "expected (2, 16, 64)" in failing.inner_text()
        failing.query_selector(".hint-link").click()
        assert page.is_visible("[data-testid=panel-hints]")

        advice = page.query_selector("[data-testid=advice]")
        assert advice.query_selector("code").inner_text() == "view"
        page.screenshot(path=str(screenshots / "crafted-result.png"))
        page.query_selector("[data-testid=charts]").screenshot(path=str(screenshots / "crafted-charts.png"))
        assert errors == []
    finally:
        context.close()


def test_format_rewrites_the_file_and_ctrl_s_saves_it(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    try:
        signup(page, lab_server, "en", f"format-{next(_ids)}-{int(time.time() * 1000) % 10**8}")
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        page.click(".monaco-editor .view-lines")
        page.keyboard.press("Control+End")
        page.keyboard.type("answer=41+1")
        with page.expect_response("**/api/tools/format/") as formatted:
            page.click("[data-testid=format]")
        assert formatted.value.ok, formatted.value.text()
        page.keyboard.press("Control+s")
        page.wait_for_function(
            "() => document.querySelector('.monaco-editor .view-lines').innerText"
            ".replace(/\\u00a0/g, ' ').includes('answer = 41 + 1')",
            timeout=15_000,
        )
        wait_saved(page)
        assert "answer = 41 + 1" in server_draft(page, FIRST_MODULE)["hello.py"]
    except Exception:
        page.screenshot(path=str(screenshots / "zz-failure.png"))
        raise
    finally:
        context.close()


def test_the_live_view_survives_a_dropped_websocket(lab_server: LabServer, chromium: Any, screenshots: Path):
    """The socket drops right after the subscribe; the page reconnects, re-subscribes and streams to a verdict."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    connections: list[list[dict]] = []

    def fake_socket(ws: Any) -> None:
        received: list[dict] = []
        connections.append(received)
        number = len(connections)

        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            received.append(frame)
            if frame.get("type") != "subscribe":
                return
            if number == 1:
                ws.close()
                return
            sid = frame["submission_id"]
            test = {
                "id": "visible/test_hello.py::test_greet",
                "name": "test_greet",
                "step": "step2",
                "status": "pass",
                "message": "",
                "output": "",
                "duration_seconds": 0.01,
                "visibility": "visible",
                "hint": None,
                "metrics": {},
            }
            events = [
                {"type": "phase", "seq": 0, "t": 0.0, "phase": "tests_collected", "count": 1},
                {
                    "type": "test_started",
                    "seq": 1,
                    "t": 0.1,
                    "id": test["id"],
                    "name": "test_greet",
                    "step": "step2",
                    "visibility": "visible",
                },
                {"type": "test_finished", "seq": 2, "t": 0.2, "test": test},
                {
                    "type": "verdict",
                    "seq": 3,
                    "t": 0.3,
                    "result": crafted_submission()["result"]
                    | {"status": "pass", "outcome": "ok", "tests": [test], "metrics": {}},
                    "advice": [],
                    "attempt": {
                        "id": sid,
                        "status": "done",
                        "created_at": "2026-11-29T19:00:00Z",
                        "finished_at": "2026-11-29T19:00:03Z",
                        "result": {"status": "pass", "outcome": "ok", "score": 2, "max_score": 3},
                        "superseded_by": None,
                        "url": f"/api/submissions/{sid}/",
                    },
                    "progress": {
                        "state": "passed",
                        "attempts": 1,
                        "best_score": 2,
                        "max_score": 3,
                        "passed_at": "2026-11-29T19:00:03Z",
                    },
                    "unlocked": [],
                    "next_module": None,
                },
            ]
            for event in events:
                ws.send(json.dumps({"type": "grading.event", "submission_id": sid, "event": event}))

        ws.on_message(on_message)

    pending = {
        "id": FAKE_ID,
        "module": FIRST_MODULE,
        "status": "running",
        "queue": None,
        "superseded_by": None,
        "created_at": "2026-11-29T19:00:00Z",
        "started_at": "2026-11-29T19:00:00Z",
        "finished_at": None,
        "content_hash": "crafted",
        "files": {},
        "result": None,
        "advice": [],
        "events": [],
    }
    try:
        signup(page, lab_server, "en", f"socket-{next(_ids)}-{int(time.time() * 1000) % 10**8}")
        page.route_web_socket("**/ws/grading/", fake_socket)

        fake_submission(page, pending)
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        page.click("[data-testid=run]")
        page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=20_000)
        assert len(connections) >= 2, "the page must reconnect after the drop"
        subscribed = [
            [f.get("submission_id") for f in c if f.get("type") == "subscribe"] for c in connections[:2]
        ]
        assert subscribed == [[FAKE_ID], [FAKE_ID]], subscribed
        assert page.query_selector(
            ".test[data-test-id='visible/test_hello.py::test_greet'][data-status=pass]"
        )
        page.screenshot(path=str(screenshots / "after-reconnect.png"))
    finally:
        context.close()
