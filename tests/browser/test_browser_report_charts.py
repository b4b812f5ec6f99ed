"""Module 15's graded analysis on a real page: the reference report.py, graded by the real engine on the course's
tiny run, draws the run's loss curves, the RL reward, one radar polygon per stage (BASE, MID, SFT, RL on the same
sweep tasks) and the speed-vs-quality line, in English and in Chinese.

An instructor submits the module's reference through the editor's API once (as in
``test_browser_measurements.py``); every chart comes from the metrics module 15's step-5 test recorded in the
sandbox. Nothing is stood in for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import LabServer
from tests.browser.test_browser_measurements import grade_reference, mentor_on_module

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODULE = "15-report"
GRADING_TIMEOUT_S = 300

RADAR_TRACES_JS = """() => [...document.querySelectorAll("[data-testid=charts] .chart[data-chart=radar]")]
    .flatMap((el) => el.data || []).map((d) => [d.name, d.r.length, d.theta.length])"""


def test_module_fifteen_draws_the_tiny_runs_curves_radar_and_speed_vs_quality(
    lab_server: LabServer, chromium: Any, screenshots: Path
):
    context, page, errors = mentor_on_module(
        chromium, lab_server, MODULE, "reporter", {"width": 1440, "height": 2000}
    )
    try:
        result = grade_reference(page, MODULE, GRADING_TIMEOUT_S)
        metrics = {k: v for t in result["tests"] for k, v in t["metrics"].items()}
        stage_evals = sorted({k.split("/")[1] for k in metrics if k.startswith("eval/")})
        assert stage_evals == ["base", "mid", "rl", "sft"], stage_evals
        assert {
            "base_train_loss",
            "mid_train_loss",
            "sft_train_loss",
            "rl_mean_reward",
            "quality_vs_time",
        } <= set(metrics)

        texts = {
            "en": ("loss", "RL: mean reward per step", "Speed vs quality", "cumulative training seconds"),
            "zh-hans": ("损失", "RL：每步的平均奖励", "速度与质量", "累计训练秒数"),
        }
        for lang, (loss, reward, speed, x_label) in texts.items():
            if lang != "en":
                page.click("[data-testid=lang-switch] button[value='zh-hans']")
            page.goto(f"{lab_server.base_url}/modules/{MODULE}/")
            page.wait_for_selector("[data-testid=verdict] .verdict[data-status=pass]", timeout=30_000)
            page.wait_for_selector("[data-testid=charts] .chart[data-chart=radar] .main-svg", timeout=30_000)
            traces = page.evaluate(RADAR_TRACES_JS)
            # one closed polygon per stage over the six sweep tasks (the first corner repeated to close it)
            assert [t[0] for t in traces] == ["base", "mid", "sft", "rl"], traces
            assert all(t[1] == t[2] == 7 for t in traces), traces
            legend = page.inner_text("[data-testid=charts] .chart[data-chart=radar]")
            assert "sft" in legend and "GSM8K" in legend, legend
            lines = page.inner_text("[data-testid=charts]")
            for text in (loss, reward, speed, x_label):
                assert text in lines, (text, lines)
            page.eval_on_selector("[data-testid=charts]", "el => el.scrollIntoView({block: 'start'})")
            page.query_selector("[data-testid=charts]").screenshot(
                path=str(screenshots / f"module15-report-charts-{lang}.png")
            )
        assert errors == [], errors
    finally:
        context.close()
