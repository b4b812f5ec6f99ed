"""Module 16 on a real page: the reference capstone, graded by the real engine (its short SFT run, the probes before
and after, the summary), passes; the page draws the run's loss curve and names the summary's step, in English and in
Chinese; a review request on the passing attempt reaches the mentor's review page, which shows the summary and the
probe table the run wrote beside the rubric, in both languages.

An instructor submits through the API the editor uses (as in ``test_browser_measurements.py``) and requests the
review from the attempt history, as a learner would; the same instructor opens the mentor's review page.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer
from tests.browser.test_browser_measurements import grade_reference, mentor_on_module

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULE = "16-capstone"
GRADING_TIMEOUT_S = 480  # the graded run: about 80 s on an idle 2-core machine, the module allows 600
TEXT = {
    "en": {
        "curve": "Capstone SFT loss",
        "step7": "The run and its written summary",
        "material": "What the run wrote for review",
    },
    "zh-hans": {
        "curve": "结业项目 SFT 损失",
        "step7": "完整运行与书面总结",
        "material": "评分运行为评审写下的内容",
    },
}
SUMMARY_TEST = "visible/test_capstone.py::test_the_summary_goes_to_review"


def _switch(page: Any, lang: str) -> None:
    page.click(f"[data-testid=lang-switch] button[value='{lang}']")
    page.wait_for_selector(f"html[lang='{lang}']")


def test_the_capstone_run_draws_its_curve_and_sends_its_summary_to_review(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = mentor_on_module(
        chromium, lab_server, MODULE, "capstone", {"width": 1440, "height": 1200}
    )
    try:
        started = time.monotonic()
        result = grade_reference(page, MODULE, GRADING_TIMEOUT_S)
        print(f"module 16 reference graded in {time.monotonic() - started:.1f} s (page to verdict)")
        metrics = {k: v for t in result["tests"] for k, v in t["metrics"].items()}
        # the run measured the probes before and after, and the identity data moved them
        assert metrics["probe_accuracy_ours"] > metrics["probe_accuracy_baseline"], metrics
        summary = next(t for t in result["tests"] if t["id"] == SUMMARY_TEST)
        assert summary["status"] == "pass" and "## Probes" in summary["output"], summary

        for lang in ("en", "zh-hans"):
            _switch(page, lang)
            page.goto(f"{lab_server.base_url}/modules/{MODULE}/")
            page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=30_000)
            # the run's one loss curve, titled by the module's test (a lone loss series keeps its own title)
            chart = "[data-testid=charts] .chart[data-chart=lines]"
            page.wait_for_selector(f"{chart} .main-svg", timeout=30_000)
            curve = page.inner_text(chart)
            assert TEXT[lang]["curve"] in curve, curve
            losses = page.evaluate(
                f"""() => [...document.querySelectorAll("{chart}")]
                    .flatMap((el) => el.data || []).filter((d) => d.name === "capstone_loss")[0].y"""
            )
            assert len(losses) == len(metrics["capstone_loss"]["y"]) and losses[-1] < losses[0], losses
            page.wait_for_selector("[data-testid=tests] .test[data-visibility=visible]", timeout=30_000)
            assert TEXT[lang]["step7"] in page.inner_text("[data-testid=tests]")
            if page.query_selector("[data-testid=survey-skip]"):  # the after-pass survey
                page.click("[data-testid=survey-skip]")
            page.query_selector(chart).screenshot(path=str(screenshots / f"module16-curve-{lang}.png"))

        # the review request, from the passing attempt in the history, in English
        _switch(page, "en")
        page.goto(f"{lab_server.base_url}/modules/{MODULE}/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        page.click("[data-tab=history]")
        page.click(".attempt[data-status=pass] [data-testid=request-review]")
        page.fill("[data-testid=review-body]", "My identity data mixes 400 rows in twice; is that too much?")
        page.click("[data-testid=review-submit]")
        review = page.wait_for_selector("[data-testid=thread-view][data-kind=review]")
        review_id = review.get_attribute("data-thread")

        for lang in ("en", "zh-hans"):
            _switch(page, lang)
            page.goto(f"{lab_server.base_url}/mentor/reviews/{review_id}/")
            material = page.wait_for_selector("[data-testid=review-material]", timeout=30_000)
            text = material.inner_text()
            assert TEXT[lang]["material"] in text, text
            assert "accuracy_before:" in text and "accuracy_after:" in text, text
            rows = page.query_selector_all("[data-testid=review-material] table tbody tr")
            assert len(rows) >= 8, text  # the probe table, one row per held-out question
            material.screenshot(path=str(screenshots / f"module16-review-material-{lang}.png"))
        assert errors == [], errors
    finally:
        context.close()
