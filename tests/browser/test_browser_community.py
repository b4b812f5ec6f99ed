"""Community work in the real app, in English and in Chinese: a learner whose pass matches the reference sees the
similarity self-check and the instructor sees the pair side by side; a review request goes through the mentors'
queue page (taken, "assigned to me", attempt against the reference), the mentor's reply notifies the learner; the
mentor moderates a question (pin, accept, hide, lock); and the capstone is completed only once its review is
accepted.

Module 1 is graded for real (the reference passes). The capstone's pass and reflection, which would need the whole
course, are written with ``manage.py shell`` against the server's database, as an operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, api_modules, pass_first_module, signup
from tests.browser.test_browser_discussion import login, make_mentor

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CAPSTONE = "16-capstone"
CAPSTONE_PASSED = """
from django.contrib.auth.models import User
from django.utils import timezone
from grading.discussions import services
from grading.models import Result, Submission
from modules.models import Module, Progress, Reflection

user = User.objects.get(username={name!r})
module = Module.objects.get(slug="16-capstone")
now = timezone.now()
files = dict(module.payload["references"])
submission = Submission.objects.create(
    user=user, module=module, files=files, status="done", content_hash="operator", created_at=now, finished_at=now
)
Result.objects.create(submission=submission, status="pass", outcome="ok", score=1, max_score=1, result={{}}, created_at=now)
Progress.objects.create(user=user, module=module, status="passed", passed_at=now, attempts=1, updated_at=now)
answers = {{q["id"]: (q["choices"][0]["id"] if q["kind"] == "choice" else "My own words.") for q in module.payload["reflection"]}}
Reflection.objects.create(user=user, module=module, answers=answers, correct={{}}, submitted_at=now)
thread = services.thread_create(
    author=user, module=module, kind="review", title="Capstone", body="Please review my identity data.",
    submission=submission.pk,
)
print("THREAD", thread.pk)
"""

TEXT = {
    "en": {
        "self_check": "Self-check",
        "assigned": "assigned to me",
        "accepted": "Accepted",
        "mentor_reply": "A mentor replied",
    },
    "zh-hans": {
        "self_check": "自我检查",
        "assigned": "分配给我",
        "accepted": "已通过",
        "mentor_reply": "导师回复了",
    },
}


def shell(server: LabServer, code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LAB_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "labplatform.settings",
        "LAB_VAR_DIR": str(server.var_dir),
        "LAB_CONTENT_DIR": str(server.content_dir),
        "LAB_MODE": "embedded",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return done.stdout


def choose_language(page: Any, lang: str) -> None:
    if lang != "en":
        page.click(f"[data-testid=lang-switch] button[value='{lang}']")
        page.wait_for_selector(f"html[lang='{lang}']")


def open_module(page: Any, server: LabServer, fragment: str = "") -> None:
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/{fragment}")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def module_state(page: Any, slug: str) -> str:
    return str(next(m["state"] for m in api_modules(page) if m["slug"] == slug))


def post_json(page: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    text = page.evaluate(
        """async ([url, body]) => {
            const token = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || '');
            const res = await fetch(url, {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                body: JSON.stringify(body),
            });
            return await res.text();
        }""",
        [url, body],
    )
    return dict(json.loads(text))


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_similarity_mentor_work_moderation_and_the_capstone_review(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    words = TEXT[lang]
    stamp = int(time.time() * 1000) % 10**8
    learner_name, mentor_name = f"comm-{stamp}", f"guide-{stamp}"
    make_mentor(lab_server, mentor_name)
    learner_ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    mentor_ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    try:
        page = learner_ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        signup(page, lab_server, lang, learner_name)

        # 1. the reference itself passes: the reflection tab asks for a self-check
        open_module(page, lab_server)
        pass_first_module(page)
        open_module(page, lab_server)
        page.click("[data-tab=reflection]")
        notice = page.wait_for_selector("[data-testid=self-check]", timeout=30_000)
        assert words["self_check"] in notice.inner_text()
        page.screenshot(path=str(screenshots / "01-learner-self-check.png"))

        # 2. a question, and a review request on the passing attempt
        page.click("[data-tab=discussion]")
        page.fill("[data-testid=question-title]", "Why 64 per layer?")
        page.fill("[data-testid=question-body]", "Is the width rule from the paper?")
        page.click("[data-testid=question-submit]")
        question = page.wait_for_selector("[data-testid=thread-view][data-kind=question]")
        question_id = question.get_attribute("data-thread")
        # the author edits it while the edit window is open (the form holds the Markdown they wrote)
        page.click("[data-testid=thread-view] [data-testid=post] [data-testid=post-edit]")
        assert page.input_value("[data-testid=edit-body]") == "Is the width rule from the paper?"
        page.fill("[data-testid=edit-body]", "Is the width rule from the **paper**?")
        page.click("[data-testid=edit-submit]")
        page.wait_for_selector("[data-testid=thread-view] [data-testid=post] .post-body strong")
        page.click("[data-tab=history]")
        page.click(".attempt[data-status=pass] [data-testid=request-review]")
        page.fill("[data-testid=review-body]", "Is my greet idiomatic?")
        page.click("[data-testid=review-submit]")
        review = page.wait_for_selector("[data-testid=thread-view][data-kind=review]")
        review_id = review.get_attribute("data-thread")

        # 3. the mentor: the queue page, taking the review, "assigned to me", the attempt against the reference
        mentor = mentor_ctx.new_page()
        mentor.on("pageerror", lambda e: errors.append(str(e)))
        login(mentor, lab_server, mentor_name)
        choose_language(mentor, lang)
        mentor.goto(f"{lab_server.base_url}/mentor/reviews/")
        row = f"[data-testid=queue-row][data-thread='{review_id}']"
        mentor.wait_for_selector(row)
        assert learner_name in mentor.inner_text(row)
        assert mentor.get_attribute(f"{row} [data-testid=queue-admin]", "href") == (
            f"/admin/discussions/thread/{review_id}/change/"
        )
        mentor.click(f"{row} [data-testid=assign-me]")
        mentor.wait_for_selector(f"{row}[data-mine='1'] [data-testid=assigned-to-me]")
        mentor.click("[data-testid=queue-mine]")
        mine = mentor.wait_for_selector(f"{row} [data-testid=assigned-to-me]")
        assert words["assigned"] in mine.inner_text()
        mentor.screenshot(path=str(screenshots / "02-mentor-queue-assigned.png"), full_page=True)
        mentor.click(f"{row} [data-testid=queue-diff]")
        mentor.wait_for_selector(
            "[data-testid=mentor-review-page] [data-testid=side-diff][data-path='hello.py']"
        )
        mentor.screenshot(path=str(screenshots / "03-attempt-vs-reference.png"), full_page=True)

        # 4. the mentor's reply notifies the learner
        open_module(mentor, lab_server, f"#thread-{review_id}")
        mentor.wait_for_selector(f"[data-testid=thread-view][data-thread='{review_id}']")
        assert (
            mentor.get_attribute("[data-testid=thread-review-page]", "href")
            == f"/mentor/reviews/{review_id}/"
        )
        mentor.fill("[data-testid=reply-body]", "Nicely done; look at the **f-string**.")
        mentor.click("[data-testid=reply-submit]")
        mentor.wait_for_selector("[data-testid=post][data-mentor=true]")
        open_module(page, lab_server)
        page.wait_for_selector("[data-testid=notification-count]:not([hidden])")
        page.click("[data-testid=notification-bell]")
        item = page.wait_for_selector(
            f"[data-testid=notification][data-kind=mentor_reply][href$='#thread-{review_id}']"
        )
        assert words["mentor_reply"] in item.inner_text()
        page.screenshot(path=str(screenshots / "04-learner-notified.png"))

        # 5. moderation of the question: pin, accept the mentor's answer, hide the learner's post, lock
        open_module(mentor, lab_server, f"#thread-{question_id}")
        view = f"[data-testid=thread-view][data-thread='{question_id}']"
        mentor.wait_for_selector(view)
        mentor.fill("[data-testid=reply-body]", "Yes: see the guide's depth section.")
        mentor.click("[data-testid=reply-submit]")
        answer = mentor.wait_for_selector(f"{view} [data-testid=post][data-mentor=true]")
        answer_id = answer.get_attribute("data-post")
        mentor.click(f"{view} [data-testid=thread-pin]")
        mentor.wait_for_selector(f"{view}[data-pinned=true] [data-testid=pinned-badge]")
        mentor.click(f"{view} [data-testid=post][data-post='{answer_id}'] [data-testid=post-accept]")
        mentor.wait_for_selector(f"{view} [data-testid=post][data-post='{answer_id}'][data-accepted=true]")
        mentor.click(f"{view} [data-testid=post][data-mentor=false] [data-testid=post-hide]")
        mentor.wait_for_selector(f"{view} [data-testid=post][data-hidden=true] [data-testid=hidden-badge]")
        mentor.click(f"{view} [data-testid=thread-lock]")
        mentor.wait_for_selector(f"{view}[data-locked=true] [data-testid=locked-badge]")
        assert mentor.query_selector(f"{view} [data-testid=reply-form]") is None
        mentor.screenshot(path=str(screenshots / "05-moderated-question.png"), full_page=True)
        # the author still sees their hidden post, marked hidden, and cannot post into the locked thread
        open_module(page, lab_server, f"#thread-{question_id}")
        page.wait_for_selector(f"{view}[data-locked=true] [data-testid=post][data-hidden=true]")
        assert page.query_selector(f"{view} [data-testid=reply-form]") is None

        # 6. the instructor sees the learner ↔ reference pair, side by side
        mentor.goto(f"{lab_server.base_url}/instructor/similarity/?module={FIRST_MODULE}")
        pair = mentor.wait_for_selector(
            f"[data-testid=similarity-pair][data-kind=reference]:has-text('{learner_name}')"
        )
        assert "100%" in pair.inner_text()
        mentor.screenshot(path=str(screenshots / "06-similarity-pairs.png"), full_page=True)
        pair.query_selector("[data-testid=similarity-open]").click()
        mentor.wait_for_selector(
            "[data-testid=similarity-pair-page][data-kind=reference] [data-testid=side-diff]"
        )
        mentor.screenshot(path=str(screenshots / "07-similarity-side-by-side.png"), full_page=True)

        # 7. the capstone: passed and reflected, it waits for an accepted review
        out = shell(lab_server, CAPSTONE_PASSED.format(name=learner_name))
        capstone_thread = out.split("THREAD", 1)[1].split()[0]
        assert module_state(page, CAPSTONE) == "passed"
        mentor.goto(f"{lab_server.base_url}/mentor/reviews/{capstone_thread}/")
        items = mentor.query_selector_all("[data-testid=rubric-item]")
        assert len(items) >= 4
        items[0].check()
        mentor.click("[data-testid=verdict-accept]")  # one item is not enough
        mentor.wait_for_selector("[data-testid=review-error]")
        assert module_state(page, CAPSTONE) == "passed"
        for box in mentor.query_selector_all("[data-testid=rubric-item]"):
            box.check()
        mentor.click("[data-testid=verdict-accept]")
        verdict = mentor.wait_for_selector(
            "[data-testid=mentor-review-page][data-verdict=accepted] [data-testid=review-verdict]"
        )
        assert words["accepted"] in verdict.inner_text()
        mentor.screenshot(path=str(screenshots / "08-capstone-accepted.png"), full_page=True)
        assert module_state(page, CAPSTONE) == "completed"
        assert errors == []
    finally:
        learner_ctx.close()
        mentor_ctx.close()
