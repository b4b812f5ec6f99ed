"""The spec's measurements on a real page: module 2's reference graded by the real engine draws the compression
curve and the Python-vs-Rust training time as the baseline-vs-optimized bars, in English and in Chinese: chart
titles and axis labels in the page's language (a series' own title from the module's test, the generic ones from
the frontend's strings), the compression curve plotted against its real x values (merges), not the point index.

The submission leaves out the optional Rust step's ``lib.rs`` (a compile would add minutes): step 5's
``train_seconds_optimized`` is the reference rustbpe's, as for a learner who skips step 6.

An instructor (who sees every module and its whole reference) submits the reference through the API the editor
uses, once; the page then shows that attempt's result as it shows any latest attempt after a reload. Nothing is
stood in for: the metrics are the ones module 2's step 5 recorded in the sandbox.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer
from tests.browser.test_browser_discussion import login, make_mentor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULE = "02-tokenizer"
GRADING_TIMEOUT_S = 420

SUBMIT_REFERENCE_JS = """async ([slug, leaveOut]) => {
    const token = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || '');
    const reference = await (await fetch(`/api/modules/${slug}/reference/`, {credentials: 'same-origin'})).json();
    const res = await fetch(`/api/modules/${slug}/submissions/`, {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
        body: JSON.stringify({files: Object.fromEntries(
            Object.entries(reference.files).filter(([path]) => !leaveOut || !path.endsWith(leaveOut)))}),
    });
    return [res.status, await res.text()];
}"""

DETAIL_JS = """async (id) => (await fetch(`/api/submissions/${id}/`, {credentials: 'same-origin'})).text()"""


def mentor_on_module(
    chromium: Any, server: LabServer, module: str, prefix: str, viewport: dict[str, int]
) -> tuple[Any, Any, list[str]]:
    """A fresh instructor (``<prefix>-<stamp>``) signed in on ``module``'s page, the page ready: its browser
    context, the page and the page errors collected so far. The context is closed if getting there fails."""
    name = f"{prefix}-{int(time.time() * 1000) % 10**8}"
    make_mentor(server, name)
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, server, name)
        page.goto(f"{server.base_url}/modules/{module}/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    except BaseException:
        context.close()
        raise
    return context, page, errors


def grade_reference(page: Any, module: str, timeout_s: float, *, leave_out: str = "") -> dict[str, Any]:
    """Submit ``module``'s reference (files ending in ``leave_out`` left out) through the API the editor uses, as
    the signed-in instructor on ``page``, and wait for its verdict; the result, asserted to pass."""
    status, body = page.evaluate(SUBMIT_REFERENCE_JS, [module, leave_out])
    assert status == 201, body
    submission = json.loads(body)["id"]
    deadline = time.monotonic() + timeout_s
    while True:
        detail = json.loads(page.evaluate(DETAIL_JS, submission))
        if detail["status"] == "done":
            break
        assert time.monotonic() < deadline, f"{module}'s reference still {detail['status']}"
        time.sleep(2)
    result: dict[str, Any] = detail["result"]
    assert result["status"] == "pass", [t["message"] for t in result["tests"] if t["status"] != "pass"]
    return result


def test_module_two_draws_compression_and_python_vs_rust_from_a_real_run(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = mentor_on_module(
        chromium, lab_server, MODULE, "measurer", {"width": 1440, "height": 1000}
    )
    try:
        result = grade_reference(page, MODULE, GRADING_TIMEOUT_S, leave_out=".rs")  # step 6's Rust: see above
        metrics = {k: v for t in result["tests"] for k, v in t["metrics"].items()}
        assert {"train_seconds_baseline", "train_seconds_optimized", "bytes_per_token"} <= set(metrics)

        texts = {  # the legend's optimized bar, the curve's title and its x axis
            "en": ("optimized", "Bytes per token on held-out text", "merges"),
            "zh-hans": ("优化", "留出文本上的每 token 字节数", "合并次数"),
        }
        for lang, (title, curve, x_label) in texts.items():
            if lang != "en":
                page.click("[data-testid=lang-switch] button[value='zh-hans']")
            page.goto(f"{lab_server.base_url}/modules/{MODULE}/")
            page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=30_000)
            bars = page.wait_for_selector(
                "[data-testid=charts] .chart[data-chart=bars] .main-svg", timeout=30_000
            )
            assert bars is not None
            labels = page.inner_text("[data-testid=charts] .chart[data-chart=bars]")
            assert "train_seconds" in labels, labels
            assert "×" in labels, labels  # the comparison's title gives the speed-up
            page.wait_for_selector("[data-testid=charts] .chart[data-chart=lines] .main-svg", timeout=30_000)
            lines = page.inner_text("[data-testid=charts] .chart[data-chart=lines]")
            assert curve in lines and x_label in lines, lines
            assert title in labels, labels
            xs = page.evaluate(
                """() => [...document.querySelectorAll("[data-testid=charts] .chart[data-chart=lines]")]
                    .flatMap((el) => el.data || []).filter((d) => d.name === "bytes_per_token")[0].x"""
            )
            assert xs == [0, 16, 48, 128], xs
            page.query_selector("[data-testid=charts]").screenshot(
                path=str(screenshots / f"module2-python-vs-rust-{lang}.png")
            )
        assert errors == [], errors
    finally:
        context.close()
