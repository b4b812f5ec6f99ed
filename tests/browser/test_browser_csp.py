"""The pages boot in Chromium under the lab's Content Security Policy without a single violation: sign-up, the
dashboard, the module page with Monaco (and its worker), the grading websocket, and Plotly drawing every chart
kind. Violations are collected from ``securitypolicyviolation`` events and from the console ("Refused to ...").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, LabServer, signup
from tests.browser.test_browser_results import crafted_submission, fake_submission

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_the_pages_boot_under_the_policy_without_a_violation(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    refused: list[str] = []
    errors: list[str] = []
    sockets: list[str] = []
    workers: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("worker", lambda w: workers.append(w.url))
    violations: list[str] = []
    try:
        signup(page, lab_server, "en", f"csp-{int(time.time() * 1000) % 10**8}")
        violations += page.evaluate("window.__cspViolations")

        response = page.goto(f"{lab_server.base_url}/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("[data-testid=module-map]")
        violations += page.evaluate("window.__cspViolations")

        fake_submission(page, crafted_submission())
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector(".monaco-editor .view-lines", timeout=30_000)
        page.click(".monaco-editor .view-lines")
        page.keyboard.type("# typed under the policy\n")
        page.keyboard.press("Control+Enter")  # the run shortcut: the crafted result draws every chart kind
        for kind in ("lines", "bars", "radar", "heatmap"):
            page.wait_for_selector(
                f"[data-testid=charts] .chart[data-chart={kind}] .main-svg", timeout=30_000
            )
        violations += page.evaluate("window.__cspViolations")
        page.screenshot(path=str(screenshots / "module-under-csp.png"))

        assert any(url.endswith("/ws/grading/") for url in sockets), "the grading websocket opened"
        assert any("editor.worker" in url for url in workers), "Monaco's worker started"
        assert violations == []
        assert refused == []
        assert errors == []
    finally:
        context.close()
