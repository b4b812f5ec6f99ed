"""Charts and milestones on real pages, in English and Chinese.

- The interactive log: module 1 graded for real, with a ``count_params`` that prints one line per call; a click
  on the 6th point of the parameters-over-depth curve scrolls the run log to the line printed for depth 24, and
  after switching to Chinese a click on the 3rd point to depth 12.
- Notifications: the pass earns badges, and the bell shows them the moment the verdict arrives (no reload).
- The certificate: a learner who completed every other module (arranged in the database) completes module 1
  for real (graded pass + reflection); the certificate is issued, announced by the bell, and its verification
  URL opens for anyone, in either language. The pass is the learner's first sync: what the modules completed
  before it earned is one summary in the bell, in either language, not one notification each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import (
    FIRST_MODULE,
    REPO,
    LabServer,
    pass_first_module,
    reflect_first_module,
    set_editor_text,
    signup,
)
from tests.browser.test_browser_walk import run_and_wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PRINTING_COUNT = """    total = embeddings + config["n_layer"] * (attention + mlp)
    print(f"count_params: depth {config['n_layer']} -> {total:,} parameters")
    return total"""

COMPLETE_THE_REST = """
from django.contrib.auth.models import User
from django.utils import timezone
from modules.models import Module, Progress
user = User.objects.get(username={name!r})
now = timezone.now()
for module in Module.objects.filter(status=Module.Status.ACTIVE).exclude(slug={first!r}):
    Progress.objects.update_or_create(user=user, module=module, defaults=dict(
        status=Progress.Status.COMPLETED, attempts=1, best_score=1.0, max_score=1.0,
        passed_at=now, completed_at=now, updated_at=now))
"""


def printing_hello() -> str:
    """Module 1's reference with a ``count_params`` that prints what it counted (one line per call)."""
    source = (REPO / "content" / FIRST_MODULE / "reference" / "hello.py").read_text(encoding="utf-8")
    last = '    return embeddings + config["n_layer"] * (attention + mlp)'
    assert last in source
    return source.replace(last, PRINTING_COUNT)


def click_curve_point(page: Any, title: str, index: int) -> str:
    """Click point ``index`` of the line chart titled ``title``; return the run-log line it marks."""
    chart = page.locator(f"[data-testid=charts] .chart[data-chart=lines][aria-label$=': {title}']")
    point = chart.locator(".scatterlayer .trace path.point").nth(index)
    point.wait_for(timeout=30_000)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 6, y - 6)
    page.mouse.move(x, y)  # Plotly picks the hovered point, then hears the click
    page.mouse.click(x, y)
    target = page.locator("[data-testid=run-log] .log-line.is-target")
    target.wait_for(timeout=10_000)
    # the marked line is scrolled into the log's view
    visible = page.evaluate(
        """() => { const log = document.querySelector('[data-testid=run-log]');
            const line = log.querySelector('.is-target');
            const a = log.getBoundingClientRect(), b = line.getBoundingClientRect();
            return b.top >= a.top - 1 && b.bottom <= a.bottom + 1; }"""
    )
    assert visible
    return str(target.inner_text())


def test_a_click_on_a_curve_jumps_to_the_log_and_the_bell_shows_what_the_pass_earned(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        signup(page, lab_server, "en", f"plotter-{int(time.time() * 1000) % 10**8}")
        assert page.get_attribute("[data-testid=notifications]", "data-unread") == "0"
        page.goto(f"{lab_server.base_url}/modules/{FIRST_MODULE}/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        set_editor_text(page, printing_hello())
        assert run_and_wait(page, screenshots, "run") == "pass"

        # the bell heard the verdict: the badges of a first, unaided pass, without a reload
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=notifications]').dataset.unread) >= 2",
            timeout=15_000,
        )
        count = page.inner_text("[data-testid=notification-count]")
        page.click("[data-testid=notification-bell]")
        items = page.locator("[data-testid=notification-panel] [data-testid=notification]")
        assert items.count() == int(count)
        assert "Badge earned: First green" in page.inner_text("[data-testid=notification-panel]")
        page.screenshot(path=str(screenshots / "bell-en.png"))
        page.keyboard.press("Escape")

        line = click_curve_point(page, "Parameters by depth", 5)
        assert "count_params: depth 24 -> 880,803,840 parameters" in line
        assert page.get_attribute("[data-testid=run-log]", "data-metric") == "params_by_depth"
        assert "Run log" in (page.text_content("[data-testid=results]") or "")
        page.locator("[data-testid=results]").screenshot(path=str(screenshots / "curve-to-log-en.png"))

        page.click("[data-testid=lang-switch] button[value='zh-hans']")
        page.wait_for_selector("html[lang='zh-hans']")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        line = click_curve_point(page, "各深度的参数量", 2)
        assert "count_params: depth 12 -> 185,597,952 parameters" in line
        assert "运行日志" in (page.text_content("[data-testid=results]") or "")
        page.locator("[data-testid=results]").screenshot(path=str(screenshots / "curve-to-log-zh.png"))

        page.click("[data-testid=notification-bell]")
        assert "获得徽章：首次通过" in page.inner_text("[data-testid=notification-panel]")
        page.click("[data-testid=notifications-read-all]")
        page.wait_for_selector("[data-testid=notification-count]", state="hidden")
        page.screenshot(path=str(screenshots / "bell-zh-read.png"))
        assert errors == []
    finally:
        context.close()


def complete_the_rest(server: LabServer, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LAB_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "labplatform.settings",
        "LAB_VAR_DIR": str(server.var_dir),
        "LAB_CONTENT_DIR": str(server.content_dir),
        "LAB_MODE": "embedded",
    }
    code = COMPLETE_THE_REST.format(name=name, first=FIRST_MODULE)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True, timeout=120
    )


def test_completing_the_course_issues_a_certificate_anyone_can_verify(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    name = f"graduate-{int(time.time() * 1000) % 10**8}"
    learner = chromium.new_context(viewport={"width": 1280, "height": 1000})
    stranger = chromium.new_context(viewport={"width": 1100, "height": 1100})
    errors: list[str] = []
    try:
        page = learner.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        signup(page, lab_server, "zh-hans", name)
        assert "完成全部模块" in page.inner_text("[data-testid=certificates]")
        complete_the_rest(lab_server, name)
        pass_first_module(page)
        # the first sync met fifteen modules completed before it: what they earned is one summary in the bell,
        # beside what this pass earned itself (the badge for passing every module), not one notice each
        page.goto(f"{lab_server.base_url}/")
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=notifications]').dataset.unread) > 0"
        )
        assert page.get_attribute("[data-testid=notifications]", "data-unread") == "2"
        for lang, words in (
            ("zh-hans", r"此前的 (\d+) 个里程碑：请查看你的学习面板"),
            ("en", r"(\d+) milestones from before"),
        ):
            if lang == "en":
                page.click("[data-testid=lang-switch] button[value='en']")
                page.wait_for_selector("html[lang='en']")
            page.click("[data-testid=notification-bell]")
            summary = page.locator("[data-testid=notification][data-kind=summary]")
            found = re.search(words, summary.inner_text())
            assert found is not None and int(found.group(1)) >= 15, summary.inner_text()
            unread = page.locator("[data-testid=notification-panel] [data-testid=notification].is-unread")
            assert unread.count() == 2
            page.screenshot(path=str(screenshots / f"first-sync-summary-{lang}.png"))
            page.keyboard.press("Escape")
        page.click("[data-testid=lang-switch] button[value='zh-hans']")
        page.wait_for_selector("html[lang='zh-hans']")
        reflect_first_module(page)  # module 1 completed: the whole course is

        page.goto(f"{lab_server.base_url}/")
        page.wait_for_selector("[data-testid=certificate-link]")
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=notifications]').dataset.unread) > 0"
        )
        page.click("[data-testid=notification-bell]")
        notice = page.locator("[data-testid=notification][data-kind=certificate]")
        assert "证书已颁发：nanochat Lab 全部课程" in notice.inner_text()
        page.screenshot(path=str(screenshots / "certificate-notification-zh.png"))
        page.keyboard.press("Escape")
        page.locator("[data-testid=weekly-report]").screenshot(path=str(screenshots / "weekly-report-zh.png"))
        page.click("[data-testid=notification-bell]")
        notice.click()
        page.wait_for_selector("[data-testid=certificate]")
        assert page.inner_text("[data-testid=certificate-name]") == name
        assert "结业证书" in page.inner_text("[data-testid=certificate]")
        verify_url = page.inner_text("[data-testid=verify-url]")
        assert verify_url == page.url
        page.screenshot(path=str(screenshots / "certificate-zh.png"), full_page=True)

        # anyone with the link: no account, English
        other = stranger.new_page()
        other.on("pageerror", lambda e: errors.append(str(e)))
        other.goto(verify_url)
        assert other.inner_text("[data-testid=certificate-name]") == name
        assert "Verified: this certificate was issued by nanochat Lab." in other.inner_text(
            "[data-testid=certificate]"
        )
        assert "the nanochat Lab course" in other.inner_text("[data-testid=certificate]")
        other.screenshot(path=str(screenshots / "certificate-verified-en.png"), full_page=True)
        missing = other.goto(verify_url.rstrip("/") + "x/")
        assert missing is not None and missing.status == 404
        assert errors == []
    finally:
        learner.close()
        stranger.close()
