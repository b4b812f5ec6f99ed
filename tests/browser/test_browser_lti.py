"""An LTI 1.3 launch inside the LMS's iframe, in Chromium: the test platform's course page frames the lab, the
iframe runs the OIDC login and the signed launch, and the learner lands signed in on the placed module, in the
language the platform asked for; a launch from an unregistered deployment shows the refusal page in the frame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, server_env
from tests.platform.lti_platform import TestPlatform, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lms(lab_server: LabServer) -> Any:
    platform = TestPlatform(lab_url=lab_server.base_url)
    platform.tool_jwks = lambda: json.load(urlopen(f"{lab_server.base_url}/lti/jwks/", timeout=10))
    with serve(platform):
        proc = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "lti_register",
                "--name=Test LMS",
                f"--issuer={platform.issuer}",
                f"--client-id={platform.client_id}",
                f"--auth-login-url={platform.base_url}/auth",
                f"--auth-token-url={platform.base_url}/token",
                f"--key-set-url={platform.base_url}/jwks",
                f"--deployment={platform.deployment_id}",
                f"--frame-origin={platform.base_url}",
            ],
            cwd=REPO,
            env=server_env(lab_server.var_dir, lab_server.content_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield platform


@pytest.mark.parametrize(("locale", "lang"), [("en-US", "en"), ("zh-CN", "zh-hans")])
def test_a_learner_launched_in_the_lms_iframe_lands_on_the_placed_module(
    lab_server: LabServer, chromium: Any, screenshots: Path, lms: TestPlatform, locale: str, lang: str
):
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
    try:
        page.goto(f"{lms.base_url}/course?sub=browser-{lang}&module={FIRST_MODULE}&locale={locale}")
        frame = page.frame_locator("iframe[name=tool]")
        frame.locator("[data-testid=username]").wait_for(timeout=60_000)
        tool = page.frame(name="tool")
        assert tool is not None and tool.url == f"{lab_server.base_url}/modules/{FIRST_MODULE}/"
        assert tool.evaluate("document.documentElement.lang") == lang
        assert tool.locator("[data-testid=username]").inner_text().startswith("lti-")
        page.screenshot(path=str(screenshots / f"launch-{lang}.png"))
        assert not [m for m in refused if "frame" in m], refused
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_a_refused_launch_explains_itself_in_the_iframe(
    lab_server: LabServer, chromium: Any, screenshots: Path, lms: TestPlatform, lang: str
):
    context = chromium.new_context(
        viewport={"width": 1280, "height": 700}, locale="zh-CN" if lang != "en" else "en"
    )
    page = context.new_page()
    try:
        page.goto(f"{lms.base_url}/course?sub=stranger&module={FIRST_MODULE}&deployment=unregistered")
        frame = page.frame_locator("iframe[name=tool]")
        card = frame.locator("[data-testid=lti-refused]")
        card.wait_for(timeout=30_000)
        assert card.get_attribute("data-code") == "unknown_deployment"
        tool = page.frame(name="tool")
        assert tool is not None and tool.evaluate("document.documentElement.lang") == lang
        page.screenshot(path=str(screenshots / f"refused-{lang}.png"))
    finally:
        context.close()


def test_an_instructor_picks_a_module_in_the_iframe_and_it_is_placed_in_the_course(
    lab_server: LabServer, chromium: Any, screenshots: Path, lms: TestPlatform
):
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    try:
        page.goto(f"{lms.base_url}/course?sub=teacher&module=deep-link&locale=zh-CN")
        frame = page.frame_locator("iframe[name=tool]")
        pick = frame.locator(f"[data-testid=lti-pick-{FIRST_MODULE}]")
        pick.wait_for(timeout=30_000)
        page.screenshot(path=str(screenshots / "deep-link-zh-hans.png"))
        pick.click()
        frame.locator("[data-testid=placed]").wait_for(timeout=30_000)
        assert lms.placements[-1].custom == {"module": FIRST_MODULE}
    finally:
        context.close()
