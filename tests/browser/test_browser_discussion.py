"""Discussions and mentor review in the real app: a learner asks a question and asks a mentor to review an attempt;
an instructor finds it in the mentor queue and answers; the learner sees the mentor's reply on that attempt.

The attempt is graded for real (module 1's starter, which fails); the instructor account is made with
``manage.py shell`` against the server's own database, as an operator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GRADING_TIMEOUT_MS = 90_000
MENTOR_PASSWORD = "mentor-the-lab-42"
MAKE_MENTOR = """
from django.contrib.auth.models import Group, User
from modules.services import roles_ensure
roles_ensure()
user = User.objects.create_user(username={name!r}, password={password!r}, is_staff=True)
user.groups.add(Group.objects.get(name="instructor"))
"""


def make_mentor(server: LabServer, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LAB_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "labplatform.settings",
        "LAB_VAR_DIR": str(server.var_dir),
        "LAB_CONTENT_DIR": str(server.content_dir),
        "LAB_MODE": "embedded",
    }
    code = MAKE_MENTOR.format(name=name, password=MENTOR_PASSWORD)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True, timeout=120
    )


def login(page: Any, server: LabServer, name: str) -> None:
    page.goto(f"{server.base_url}/accounts/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", MENTOR_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{server.base_url}/")


def open_module(page: Any, server: LabServer) -> None:
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def test_a_learner_asks_and_gets_a_mentor_review_of_an_attempt(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    stamp = int(time.time() * 1000) % 10**8
    learner_name, mentor_name = f"asker-{stamp}", f"mentor-{stamp}"
    make_mentor(lab_server, mentor_name)
    learner_ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    mentor_ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    try:
        page = learner_ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        signup(page, lab_server, "en", learner_name)
        open_module(page, lab_server)

        # a question, with Markdown that must not become script
        page.click("[data-tab=discussion]")
        page.fill("[data-testid=question-title]", "Why does depth set the width?")
        page.fill(
            "[data-testid=question-body]", "Is `d_model = 64 * depth` a rule? <script>window.pwned=1</script>"
        )
        page.click("[data-testid=question-submit]")
        page.wait_for_selector("[data-testid=thread-view][data-kind=question]")
        post = page.inner_html("[data-testid=thread-view] [data-testid=post] .post-body")
        assert "<code>d_model = 64 * depth</code>" in post and "<script" not in post
        assert page.evaluate("() => window.pwned") is None
        page.screenshot(path=str(screenshots / "01-question.png"))

        # a graded attempt (the starter fails), then a review request on it
        page.click("[data-testid=run]")
        page.wait_for_selector("[data-testid=verdict] .verdict:not(.is-running)", timeout=GRADING_TIMEOUT_MS)
        page.click("[data-tab=history]")
        page.click(".attempt[data-status=fail] [data-testid=request-review]")
        page.fill("[data-testid=review-body]", "My greet fails the name test. What am I missing?")
        page.click("[data-testid=review-submit]")
        review = page.wait_for_selector("[data-testid=thread-view][data-kind=review]")
        thread_id = review.get_attribute("data-thread")
        assert page.url.endswith(f"#thread-{thread_id}")

        # the mentor: the queue lists the request; the answer is a mentor post
        mentor = mentor_ctx.new_page()
        mentor.on("pageerror", lambda e: errors.append(str(e)))
        login(mentor, lab_server, mentor_name)
        # the dashboard's mentor queue links straight to the thread
        queued = mentor.wait_for_selector(f"[data-testid=mentor-queue] a[href$='#thread-{thread_id}']")
        assert "Why does depth" not in mentor.inner_text(
            "[data-testid=mentor-queue]"
        )  # questions aren't reviews
        assert learner_name in mentor.inner_text("[data-testid=mentor-queue]") and queued is not None
        open_module(mentor, lab_server)
        mentor.click("[data-tab=discussion]")
        mentor.wait_for_selector(f"[data-testid=review-queue] [data-thread='{thread_id}']")
        mentor.screenshot(path=str(screenshots / "02-mentor-queue.png"))
        mentor.click(f"[data-testid=review-queue] [data-thread='{thread_id}'] a")
        mentor.wait_for_selector(f"[data-testid=thread-view][data-thread='{thread_id}']")
        mentor.fill("[data-testid=reply-body]", "Look at the **comma** after `Hello`.")
        mentor.click("[data-testid=reply-submit]")
        mentor.wait_for_selector("[data-testid=post][data-mentor=true]")
        mentor.screenshot(path=str(screenshots / "03-mentor-answer.png"))

        # the learner, back on the page: the attempt says a mentor replied, and the reply is there
        open_module(page, lab_server)
        page.click("[data-tab=history]")
        link = page.wait_for_selector(
            ".attempt[data-status=fail] [data-testid=review-link][data-answered=true]"
        )
        link.click()
        page.wait_for_selector(f"[data-testid=thread-view][data-thread='{thread_id}']")
        answer = page.wait_for_selector("[data-testid=post][data-mentor=true]")
        assert "<strong>comma</strong>" in answer.inner_html()
        assert (
            page.query_selector("[data-testid=post][data-mentor=true] [data-testid=mentor-badge]") is not None
        )
        page.screenshot(path=str(screenshots / "04-learner-sees-review.png"))

        # and resolves it
        page.click("[data-testid=thread-resolve]")
        page.wait_for_selector(f"[data-testid=thread-view][data-thread='{thread_id}'][data-status=resolved]")
        assert errors == []
    finally:
        learner_ctx.close()
        mentor_ctx.close()
