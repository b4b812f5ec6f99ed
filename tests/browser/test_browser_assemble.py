""" "Assemble your own nanochat" in the browser, in English then Chinese: a learner whose base-stage modules are
completed (seeded through the real services, the reference files as their submissions) opens "Assemble" from the
left nav, assembles their base model (the real pipeline in their sandbox, at the smoke sizes), watches the progress
bar and the loss curve arrive over the websocket, then asks their model and the reference the same prompt and sees
both replies side by side; switched to Chinese, the page shows the finished run and answers a new prompt (one run
for both languages keeps the walk short)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer, manage_shell, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED = """
import sys
sys.path.insert(0, "tests/platform")
from django.contrib.auth.models import User
from grading.assemble.selectors import stage_modules
from modules.models import Module
from platform_helpers import complete_module
user = User.objects.get(username={username!r})
for slug in stage_modules(stage="base"):
    complete_module(user, Module.objects.get(slug=slug))
print("seeded", len(stage_modules(stage="base")))
"""

TEXT = {
    "en": {"title": "Assemble your own nanochat", "done": "Your model is ready", "mine": "Your model"},
    "zh-hans": {"title": "组装你自己的 nanochat", "done": "你的模型已就绪", "mine": "你的模型"},
}


def ask_both(page: Any) -> tuple[str, str]:
    """Send the base stage's prompt; both replies, after checking that both models answered."""
    page.evaluate("() => { delete document.querySelector('[data-testid=assemble-base]').dataset.replied; }")
    page.click("[data-testid=assemble-base-chat] button[type=submit]")
    page.wait_for_selector("[data-testid=assemble-base][data-replied='1']", timeout=320_000)
    mine = page.inner_text("[data-testid=assemble-base-mine]")
    reference = page.inner_text("[data-testid=assemble-base-reference]")
    oks = page.eval_on_selector_all(
        "[data-testid=assemble-base-chat] pre", "(els) => els.map((e) => e.dataset.ok)"
    )
    assert oks == ["1", "1"], (mine, reference)
    assert mine.strip() and reference.strip()
    return mine, reference


def test_a_learner_assembles_their_base_model_and_chats_with_it_next_to_the_reference(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    frames: list[dict[str, Any]] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def listen(ws: Any) -> None:
        ws.on(
            "framereceived",
            lambda payload: frames.append(json.loads(payload)) if "assemble" in payload else None,
        )

    page.on("websocket", listen)
    try:
        username = f"asm-{int(time.time() * 1000) % 10**8}"
        signup(page, lab_server, "en", username)
        assert "seeded 7" in manage_shell(lab_server, SEED.format(username=username))

        page.click("[data-testid=nav-assemble]")
        page.wait_for_selector("[data-testid=assemble-page]")
        assert TEXT["en"]["title"] in page.inner_text("h1")
        modules = page.locator("[data-testid=assemble-base-modules] li")
        assert modules.count() == 7
        assert all(v == "1" for v in modules.evaluate_all("(els) => els.map((e) => e.dataset.completed)"))
        assert page.is_visible("[data-testid=assemble-chat-locked]")  # the chat stage needs 08, 09, 11, 12

        page.click("[data-testid=assemble-base-start]")
        page.wait_for_selector("[data-testid=assemble-base][data-status=running]", timeout=120_000)
        page.wait_for_selector("[data-testid=assemble-base-chart] .chart", timeout=120_000)
        page.screenshot(path=str(screenshots / "assemble-running-en.png"), full_page=True)
        page.wait_for_selector("[data-testid=assemble-base][data-status=done]", timeout=180_000)
        assert TEXT["en"]["done"] in page.inner_text("[data-testid=assemble-base-status]")
        assert page.eval_on_selector("[data-testid=assemble-base-progress]", "(el) => el.value") == 100
        # streamed live: progress and loss points came over the websocket while the run went on, then its end
        events = [f["event"] for f in frames if f.get("type") == "assemble.event"]
        assert any(e["type"] == "metric" for e in events), frames
        assert any(e["type"] == "progress" and 0 < e["fraction"] < 1 for e in events)
        assert events[-1]["type"] == "end" and events[-1]["status"] == "done"
        ask_both(page)
        assert page.locator("[data-testid=assemble-base-chart] .chart").count() == 1  # one curve, drawn once
        assert TEXT["en"]["mine"] in page.inner_text("[data-testid=assemble-base-chat]")
        page.screenshot(path=str(screenshots / "assemble-chat-en.png"), full_page=True)

        # the same learner in Chinese: the finished run (bar, curve) from the page data, and a new question
        page.click("[data-testid=lang-switch] button[value='zh-hans']")
        page.wait_for_selector("html[lang='zh-hans']")
        page.wait_for_selector("[data-testid=assemble-base-chart] .chart")
        assert TEXT["zh-hans"]["title"] in page.inner_text("h1")
        assert TEXT["zh-hans"]["done"] in page.inner_text("[data-testid=assemble-base-status]")
        assert page.eval_on_selector("[data-testid=assemble-base-progress]", "(el) => el.value") == 100
        page.fill("[data-testid=assemble-base-chat] input[name=prompt]", "Once upon a time")
        ask_both(page)
        assert TEXT["zh-hans"]["mine"] in page.inner_text("[data-testid=assemble-base-chat]")
        page.screenshot(path=str(screenshots / "assemble-chat-zh-hans.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
