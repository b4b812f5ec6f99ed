"""Hidden tests for module 15, steps 4-6: the same rules on other runs (other numbers, stage sets and rates)."""

import random

import pytest

from grading.testkit import assert_numbers
from nanochat_ref import report as ref

#: nanochat's report stops at the summary table: every test here checks a lab addition (deviation run-analysis).
pytestmark = pytest.mark.lab_addition("run-analysis")


def _random_run(rd, seed: int) -> dict:
    rng = random.Random(seed)
    tasks = ["ARC-Easy", "GSM8K", "MMLU", "SpellingBee-balanced"]
    stages = [s for s in ("base", "mid", "sft", "rl") if rng.random() < 0.8] or ["sft"]
    evals = {s: {t: round(rng.random(), 2) for t in tasks if rng.random() < 0.9} for s in stages}
    times = {s: round(rng.uniform(5, 500), 1) for s in ("base", "mid", "sft", "rl") if rng.random() < 0.85}
    times["total"] = round(sum(times.values()) * 1.3, 1)
    losses = {
        s: [round(rng.uniform(0.5, 7), 3) for _ in range(rng.randint(1, 12))] for s in ("base", "mid", "sft")
    }
    return rd.small_run(evals=evals, times=times, losses=losses, rewards=[rng.random() for _ in range(5)])


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
@pytest.mark.parametrize(
    "text", ["1,234,567.5", "-0.25", "12%", "3e-3", "1 000", "0x10", "4.2 s", "-inf", "NaN"]
)
def test_parse_number_agrees_with_the_reference_on_other_texts(rpt, text):
    assert rpt.parse_number(text) == ref.parse_number(text), f"parse_number({text!r})"


@pytest.mark.step("step4")
@pytest.mark.hint("h13")
@pytest.mark.parametrize("seed", range(4))
def test_speed_numbers_agree_on_other_runs(rpt, rd, seed):
    run = _random_run(rd, seed)
    got, expected = rpt.speed_numbers(run, 312e12, 1.79), ref.speed_numbers(run, 312e12, 1.79)
    for key, value in expected.items():
        if value is None:
            assert got.get(key) is None, f"{key}: expected None"
        else:
            assert_numbers([got.get(key)], [value], what=key)


@pytest.mark.step("step5")
@pytest.mark.hint("h14")
@pytest.mark.parametrize("seed", range(4))
def test_chart_series_agree_on_other_runs(rpt, rd, seed):
    run = _random_run(rd, seed)
    got, expected = rpt.chart_series(run), ref.chart_series(run)
    for stage, values in expected["loss"].items():
        assert_numbers(got["loss"][stage], values, what=f"loss[{stage}]")
    assert got["radar"] == expected["radar"]
    assert got["speed_quality"]["stages"] == expected["speed_quality"]["stages"]
    assert_numbers(got["speed_quality"]["seconds"], expected["speed_quality"]["seconds"], what="seconds")


@pytest.mark.step("step6")
@pytest.mark.hint("h18")
@pytest.mark.parametrize("seed", range(6))
def test_conclusion_agrees_on_other_runs(rpt, rd, seed):
    run = _random_run(rd, seed)
    got, expected = rpt.conclusion(run, 24.0, 8 * 989e12), ref.conclusion(run, 24.0, 8 * 989e12)
    assert rd.first_difference(got, expected) is None, rd.first_difference(got, expected)
