"""Instructor analytics and the micro-survey in the real app, in English and Chinese.

- A learner meets the start prompt on module 1's page and answers it (English) or skips it (Chinese); after the
  module passes (graded for real), the after-passing survey shows and is answered (English) or skipped (Chinese);
  the server keeps what was chosen, and neither prompt blocks the editor.
- An instructor reads every metric of a small class seeded into the server's database (``manage.py shell``, as
  an operator would) on its own route, so the other tests' learners never count: the numbers below are worked out
  by hand from the seed (see ``SEED``), then the learner drill-down.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, pass_first_module, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "analyse-the-lab-42"
MODULE = "13-eval"

#: The class: on module 13, ada fails twice and passes 2 h after her first attempt (3 attempts), then completes it;
#: bo passes 1 h after his first and only attempt; cy fails once. Started 3, passed 2, completed 1 → completion
#: 33.3 %; attempts to pass (3 + 1) / 2 = 2.00; median time to pass (2 h, 1 h) = 1.5 h; confidence at the start
#: (2 + 4) / 2 = 3.00 (cy skipped), after passing 4.00 (ada; bo skipped); difficulty 3.00, helpfulness 5.00. The
#: seeded test ran 5 times and failed 3 times → pass rate 40.0 %, latest failure cy's message. ada and bo signed up
#: 40 days ago: ada's state last changed 10 days later (retained at 7 days, not at 30), bo's today (both) → 100.0 %
#: and 50.0 %; cy signed up 3 days ago (no rate yet: "—").
SEED = """
from datetime import timedelta
from django.contrib.auth.models import Group, User
from django.utils import timezone
from grading.analytics.models import LearnerModuleStat
from grading.analytics.services import survey_answer
from grading.models import Submission
from grading.services import verdict_record
from modules.models import LearnerSettings, Module, Progress, Route
from modules.services import learner_create, progress_record_attempt, roles_ensure

stamp = {stamp!r}
now = timezone.now()
roles_ensure()
prof = User.objects.create_user(username=f"prof-{{stamp}}", password={password!r}, is_staff=True)
prof.groups.add(Group.objects.get(name="instructor"))
module = Module.objects.get(slug={module!r})
route = Route.objects.create(slug=f"seeded-{{stamp}}", title={{"en": f"Seeded {{stamp}}", "zh": f"种子 {{stamp}}"}})
route.members.add(module)
test_id = f"visible/test_seeded_{{stamp}}.py::test_report"

def result(status, message):
    return {{"schema_version": 1, "status": status, "outcome": "ok" if status == "pass" else "tests_failed",
            "score": 1 if status == "pass" else 0, "max_score": 1,
            "tests": [{{"id": test_id, "name": f"test_report_{{stamp}}", "status": status, "message": message}}]}}

def attempt(user, status, message, age):
    s = Submission.objects.create(user=user, module=module, files={{}}, status="running",
                                  content_hash=module.content_hash, created_at=now - age)
    progress_record_attempt(user=user, module=module)
    verdict_record(submission_id=s.pk, result=result(status, message))

def learner(name, days_ago):
    user = learner_create(username=f"{{name}}-{{stamp}}", password={password!r})
    User.objects.filter(pk=user.pk).update(date_joined=now - timedelta(days=days_ago))
    LearnerSettings.objects.create(user=user, route=route, updated_at=now)
    return user

ada, bo, cy = learner("ada", 40), learner("bo", 40), learner("cy", 3)
attempt(ada, "fail", "report is missing the CORE row", timedelta(hours=2))
attempt(ada, "fail", "report is missing the CORE row", timedelta(hours=1))
attempt(ada, "pass", "ok", timedelta(0))
attempt(bo, "pass", "ok", timedelta(hours=1))
attempt(cy, "fail", "cy: accuracy must be a fraction", timedelta(0))
Progress.objects.filter(user=ada, module=module).update(status="completed", completed_at=now,
                                                        updated_at=now - timedelta(days=30))
survey_answer(user=ada, module=module, body={{"stage": "start", "confidence": 2}})
survey_answer(user=ada, module=module, body={{"stage": "after", "confidence": 4, "difficulty": 3,
                                              "helpfulness": 5, "comment": f"More examples please {{stamp}}"}})
survey_answer(user=bo, module=module, body={{"stage": "start", "confidence": 4}})
survey_answer(user=bo, module=module, body={{"stage": "after", "skipped": True}})
survey_answer(user=cy, module=module, body={{"stage": "start", "skipped": True}})
"""

TEXTS = {
    "en": {"hours": "1.5 h", "title": "Analytics", "confidence": "How confident are you about"},
    "zh-hans": {"hours": "1.5 小时", "title": "学习分析", "confidence": "你对「"},
}


def manage_shell(server: LabServer, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LAB_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "labplatform.settings",
        "LAB_VAR_DIR": str(server.var_dir),
        "LAB_CONTENT_DIR": str(server.content_dir),
        "LAB_MODE": "embedded",
    }
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True, timeout=180
    )


def set_language(page: Any, lang: str) -> None:
    if lang != "en":
        page.click(f"[data-testid=lang-switch] button[value='{lang}']")
        page.wait_for_selector(f"html[lang='{lang}']")


def survey_state(page: Any) -> dict[str, Any]:
    body = page.evaluate(
        f"async () => (await fetch('/api/modules/{FIRST_MODULE}/survey/', {{credentials: 'same-origin'}})).text()"
    )
    return json.loads(body)


def open_module(page: Any, server: LabServer) -> None:
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_a_learner_answers_or_skips_the_start_prompt_and_the_after_pass_survey(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        signup(page, lab_server, lang, f"surveyed-{lang[:2]}-{int(time.time() * 1000) % 10**8}")
        open_module(page, lab_server)
        start = page.wait_for_selector("[data-testid=survey-start]", timeout=15_000)
        assert TEXTS[lang]["confidence"] in start.inner_text()
        page.screenshot(path=str(screenshots / f"survey-start-{lang}.png"))
        if lang == "en":
            page.click("[data-testid=survey-start] [data-rating='3']")
        else:
            page.click("[data-testid=survey-skip]")
        page.wait_for_selector("[data-testid=survey-thanks]")
        assert not page.is_disabled("[data-testid=run]"), "the prompt never blocks the editor"
        stored = survey_state(page)["answers"]["start"]
        assert stored == (
            {"skipped": False, "confidence": 3, "difficulty": None, "helpfulness": None, "comment": ""}
            if lang == "en"
            else {"skipped": True, "confidence": None, "difficulty": None, "helpfulness": None, "comment": ""}
        )
        open_module(page, lab_server)
        assert page.query_selector("[data-testid=survey-start]") is None, (
            "an answered or skipped prompt stays away"
        )

        pass_first_module(page)
        open_module(page, lab_server)
        after = page.wait_for_selector("[data-testid=survey-after]", timeout=15_000)
        assert len(after.query_selector_all("fieldset.survey-question")) == 3
        if lang == "en":
            page.click("[data-testid=survey-send]")
            assert "Choose a number for each question" in after.inner_text(), (
                "all three ratings are asked for"
            )
            for question, rating in (("confidence", 5), ("difficulty", 2), ("helpfulness", 4)):
                page.click(f"[data-testid=survey-after] [data-question={question}] [data-rating='{rating}']")
            page.fill("[data-testid=survey-comment]", "The depth dial finally clicked.")
            page.screenshot(path=str(screenshots / f"survey-after-{lang}.png"))
            page.click("[data-testid=survey-send]")
        else:
            page.screenshot(path=str(screenshots / f"survey-after-{lang}.png"))
            page.click("[data-testid=survey-after] [data-testid=survey-skip]")
        page.wait_for_selector("[data-testid=survey-thanks]")
        stored = survey_state(page)["answers"]["after"]
        assert stored == (
            {
                "skipped": False,
                "confidence": 5,
                "difficulty": 2,
                "helpfulness": 4,
                "comment": "The depth dial finally clicked.",
            }
            if lang == "en"
            else {"skipped": True, "confidence": None, "difficulty": None, "helpfulness": None, "comment": ""}
        )
        assert survey_state(page)["due"] is None
        assert errors == []
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_an_instructor_reads_each_metric_of_a_seeded_class(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    stamp = f"{lang[:2]}{int(time.time() * 1000) % 10**8}"
    manage_shell(lab_server, SEED.format(stamp=stamp, password=PASSWORD, module=MODULE))
    ctx = chromium.new_context(viewport={"width": 1440, "height": 1000})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{lab_server.base_url}/accounts/login/")
        set_language(page, lang)
        page.fill("#id_username", f"prof-{stamp}")
        page.fill("#id_password", PASSWORD)
        page.click("[data-testid=login-submit]")
        page.wait_for_url(f"{lab_server.base_url}/")
        page.click("[data-testid=nav-analytics]")
        page.wait_for_selector("[data-testid=analytics-page]")
        assert TEXTS[lang]["title"] in page.inner_text("h1")
        page.select_option("[data-testid=filter-route]", f"seeded-{stamp}")
        page.select_option("[data-testid=filter-module]", MODULE)
        page.click("[data-testid=filter-apply]")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("document.querySelectorAll('.chart[data-plotted]').length >= 4")

        def metric(row: str, name: str) -> str:
            return page.inner_text(f"{row} [data-metric={name}]").strip()

        row = f"[data-testid=module-table] tr[data-module='{MODULE}']"
        assert [metric(row, m) for m in ("started", "passed", "completed")] == ["3", "2", "1"]
        assert metric(row, "completion_rate") == "33.3%"
        assert metric(row, "avg_attempts_to_pass") == "2.00"
        assert metric(row, "median_time_to_pass") == TEXTS[lang]["hours"]
        assert [
            metric(row, m) for m in ("confidence_before", "confidence_after", "difficulty", "helpfulness")
        ] == [
            "3.00",
            "4.00",
            "3.00",
            "5.00",
        ]
        assert metric(row, "survey_answers") == "2/1 · 1/1"
        test_row = f"[data-testid=test-table] tr[data-test='visible/test_seeded_{stamp}.py::test_report']"
        assert [metric(test_row, m) for m in ("runs", "failures", "pass_rate")] == ["5", "3", "40.0%"]
        assert metric(test_row, "message") == "cy: accuracy must be a fraction"
        cohorts = page.query_selector_all("[data-testid=cohort-table] tbody tr")
        assert len(cohorts) == 2
        old, new = (c.inner_text() for c in cohorts)
        assert re.search(r"100\.0%\s*\(2/2\)", old) and re.search(r"50\.0%\s*\(1/2\)", old), old
        assert re.search(r"—\s*\(0/0\)", new), new
        assert f"More examples please {stamp}" in page.inner_text("[data-testid=survey-comments]")
        page.screenshot(path=str(screenshots / f"analytics-{lang}.png"), full_page=True)

        csv_href = page.get_attribute("[data-testid=export-modules]", "href") or ""
        assert f"route=seeded-{stamp}" in csv_href
        csv_text = page.evaluate(f"async () => (await fetch({csv_href!r})).text()")
        # 1.5 h, plus the seconds the seed script took between its first attempts and their verdicts
        hours = r"1\.5\d"
        assert re.search(rf"{MODULE},3,2,1,66\.7,33\.3,2\.00,{hours},3\.00,4\.00,3\.00,5\.00", csv_text), (
            csv_text
        )

        page.fill("[data-testid=learner-query]", f"ada-{stamp}")
        page.press("[data-testid=learner-query]", "Enter")
        page.click(f"[data-testid=learner-results] a:has-text('ada-{stamp}')")
        page.wait_for_selector("[data-testid=learner-page]")
        page.wait_for_function("document.querySelectorAll('.chart[data-plotted]').length === 1")
        attempts = page.query_selector_all("[data-testid=attempt-table] tbody tr")
        assert [a.get_attribute("data-status") for a in attempts] == ["pass", "fail", "fail"]  # newest first
        assert "More examples please" in page.inner_text("[data-testid=learner-surveys]")
        page.screenshot(path=str(screenshots / f"analytics-learner-{lang}.png"), full_page=True)
        assert errors == []
    finally:
        ctx.close()
