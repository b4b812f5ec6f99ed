"""Visible tests for module 15, steps 4-6: analysing the course's real tiny run (collection, charts, conclusion).

The graded run is ``test_the_tiny_runs_charts_are_drawn_from_your_series``: the learner's own collection and series
of the shipped run are compared with nanochat Lab's reference and charted in the results pane.
"""

import pytest

from grading.testkit import assert_number, assert_numbers, finite_numbers
from nanochat_ref import report as ref

#: nanochat's report stops at the summary table: every test here checks a lab addition (deviation run-analysis).
pytestmark = pytest.mark.lab_addition("run-analysis")


# --- step 4: collecting a run's numbers ---------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
@pytest.mark.parametrize(
    ("text", "expected"),
    [("245,760", 245760.0), ("0.2700", 0.27), ("0.01%", 0.01), ("1.209139e+07", 12091390.0), (" 7 ", 7.0)],
)
def test_parse_number_reads_separators_percents_and_exponents(rpt, text, expected):
    assert_number(
        rpt.parse_number(text),
        expected,
        what=f"parse_number({text!r})",
        msg="drop the thousands separators (,) and a trailing %, strip spaces, then float() (step 4)",
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
@pytest.mark.parametrize("text", ["-", "None", "", "nan", "inf", "unknown"])
def test_parse_number_is_none_for_what_is_no_finite_number(rpt, text):
    got = rpt.parse_number(text)
    assert got is None, (
        f"parse_number({text!r}) returned {got!r}: a missing cell ('-'), 'None', words, nan and inf are no numbers "
        "to chart: return None, never raise (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_collect_run_reads_every_stage_time_from_speedrun_md(rpt, shipped_run):
    ldir, jdir = shipped_run
    got, expected = rpt.collect_run(ldir), ref.collect_run(jdir)
    assert isinstance(got, dict) and isinstance(got.get("times"), dict), (
        "collect_run must return a dict with times"
    )
    assert sorted(got["times"]) == sorted(expected["times"]), (
        f"stage times for {sorted(got['times'])}, expected {sorted(expected['times'])}: base_train -> base, "
        "mid_train -> mid, chat_sft -> sft, chat_rl -> rl and total, from speedrun.md's '- <timer> time (s):' "
        "lines (the evaluations are timed separately and are not a stage) (step 4)"
    )
    for stage, seconds in expected["times"].items():
        assert_number(
            got["times"][stage], seconds, what=f"times[{stage!r}]", msg="seconds from speedrun.md (step 4)"
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_collect_run_reads_the_curves_and_the_stage_sweep(rpt, shipped_run):
    ldir, jdir = shipped_run
    got, expected = rpt.collect_run(ldir), ref.collect_run(jdir)
    assert sorted(got.get("losses", {})) == sorted(expected["losses"]), (
        f"train losses for stages {sorted(got.get('losses', {}))}, expected {sorted(expected['losses'])} "
        "(curves.json: stages.base_train / mid_train / chat_sft .train_losses) (step 4)"
    )
    for stage, values in expected["losses"].items():
        assert_numbers(
            got["losses"][stage], values, what=f"losses[{stage!r}]", msg="curves.json's losses (step 4)"
        )
    assert_numbers(got.get("rewards"), expected["rewards"], what="rewards", msg="chat_rl's rewards (step 4)")
    assert got.get("evals") == expected["evals"], (
        f"evals: got {got.get('evals')}, expected {expected['evals']}: every stage of curves.json's 'evals' (the "
        "sweep: the same tasks for each stage) as {task: float} (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_collect_run_falls_back_to_the_chat_evaluation_sections(rpt, make_run, rd):
    ldir, jdir = make_run(rd.FULL_RUN)  # nanochat's own report folder: no curves.json, no speedrun.md
    got, expected = rpt.collect_run(ldir), ref.collect_run(jdir)
    assert got.get("evals") == expected["evals"], (
        f"without a stage sweep the evaluations come from chat-evaluation-<stage>.md (the CHAT_METRICS each one "
        f"has): got {got.get('evals')}, expected {expected['evals']} (step 4)"
    )
    assert got.get("losses") == {} and got.get("rewards") == [] and got.get("times") == {}, (
        "no curves.json and no speedrun.md: losses {}, rewards [] and times {}, not an error (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_collect_run_reads_core_the_base_numbers_and_lists_missing_files(rpt, make_run, rd):
    files = {k: v for k, v in rd.FULL_RUN.items() if k != "midtraining.md"}
    files["base-model-training.md"] = rd.section(
        "Base model training",
        "2026-01-01 12:01:00",
        {"Number of parameters": "560,988,160", "Number of FLOPs per token": "3.491758e+09",
         "Number of training tokens": "11,219,763,200"},
    )  # fmt: skip
    ldir, jdir = make_run(files)
    got, expected = rpt.collect_run(ldir), ref.collect_run(jdir)
    assert_number(
        got.get("core"), expected["core"], what="core", msg="CORE from base-model-evaluation.md (step 4)"
    )
    base = got.get("base") or {}
    for key, value in expected["base"].items():
        assert_number(base.get(key), value, what=f"base[{key!r}]", msg="the numbers of base-model-training.md, "
                      "thousands separators and exponents read by parse_number (step 4)")  # fmt: skip
    assert got.get("missing") == expected["missing"], (
        f"missing: got {got.get('missing')}, expected {expected['missing']}: the EXPECTED_FILES and speedrun.md "
        "that do not exist, in that order (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h13")
def test_speed_numbers_give_throughput_mfu_and_cost(rpt, rd):
    run = rd.small_run()
    got = rpt.speed_numbers(run, 1e12, 3.0)
    expected = ref.speed_numbers(run, 1e12, 3.0)
    assert isinstance(got, dict), f"speed_numbers must return a dict, got {got!r}"
    causes = {
        "tokens_per_second": "base training tokens / base training seconds (times['base'], not the total)",
        "flops_per_second": "flops_per_token x tokens_per_second",
        "mfu": "flops_per_second / peak_flops, a fraction (nanochat prints it x100 as a percent)",
        "hours": "times['total'] / 3600",
        "cost": "hours x hourly_rate",
    }
    for key, cause in causes.items():
        assert_number(got.get(key), expected[key], what=key, msg=f"{cause} (step 4)")


@pytest.mark.step("step4")
@pytest.mark.hint("h13")
def test_speed_numbers_are_none_where_their_inputs_are_missing(rpt, rd):
    run = rd.small_run(times={"mid": 10.0}, base={"params": None, "tokens": 1000.0, "flops_per_token": None})
    got = rpt.speed_numbers(run, 1e12, 3.0)
    assert got == dict.fromkeys(("tokens_per_second", "flops_per_second", "mfu", "hours", "cost")), (
        f"no base time and no total: every number is None, got {got} (step 4)"
    )


# --- step 5: the charts ---------------------------------------------------------------------------------------


@pytest.mark.step("step5")
@pytest.mark.hint("h14")
def test_smooth_is_the_debiased_moving_average(rpt):
    values = [4.0, 2.0, 2.0, 1.0]
    assert_numbers(
        rpt.smooth(values, 0.5),
        ref.smooth(values, 0.5),
        what="smooth([4, 2, 2, 1], beta=0.5)",
        msg="ema = beta*ema + (1-beta)*v from ema = 0, each point divided by 1 - beta**(i+1): the first point "
        "is the first value itself (step 5)",
    )
    assert rpt.smooth([], 0.9) == [], "smooth([]) is []"


@pytest.mark.step("step5")
@pytest.mark.hint("h15")
def test_the_radar_keeps_only_the_tasks_every_stage_has(rpt, rd):
    run = rd.small_run()
    assert rpt.shared_tasks(run["evals"]) == ["GSM8K", "MMLU"], (
        f"shared_tasks: got {rpt.shared_tasks(run['evals'])}; ARC-Easy was only evaluated after MID and HumanEval "
        "only after SFT, so they cannot be compared across stages (step 5)"
    )
    radar = rpt.chart_series(run)["radar"]
    assert radar == ref.chart_series(run)["radar"], (
        f"radar: got {radar}; expected stage -> {{task: accuracy}} over the shared tasks, stages in order (step 5)"
    )


@pytest.mark.step("step5")
@pytest.mark.hint("h16")
def test_speed_vs_quality_puts_each_stage_at_its_cumulative_time(rpt, rd):
    run = rd.small_run()
    got = rpt.chart_series(run)["speed_quality"]
    expected = ref.chart_series(run)["speed_quality"]
    assert got.get("stages") == expected["stages"], (
        f"stages {got.get('stages')}, expected {expected['stages']}"
    )
    assert_numbers(
        got.get("seconds"),
        expected["seconds"],
        what="speed_quality seconds",
        msg="the x of a stage is the time of every stage up to it (base 120 + mid 300 = 420 for MID), not its own "
        "time and not the total (step 5)",
    )
    assert_numbers(
        got.get("score"),
        expected["score"],
        what="speed_quality score",
        msg="mean accuracy over the shared tasks",
    )


@pytest.mark.step("step5")
@pytest.mark.hint("h14")
def test_the_tiny_runs_charts_are_drawn_from_your_series(rpt, shipped_run, metrics):
    ldir, jdir = shipped_run
    got = rpt.chart_series(rpt.collect_run(ldir))
    expected = ref.chart_series(ref.collect_run(jdir))
    assert sorted(got.get("loss", {})) == ["base", "mid", "sft"], (
        f"loss curves for {sorted(got.get('loss', {}))}"
    )
    for stage, values in expected["loss"].items():
        assert_numbers(got["loss"][stage], values, rel=1e-9, what=f"smoothed {stage} loss", msg="step 5")
        metrics.series(f"{stage}_train_loss", values)
    rewards = finite_numbers(got.get("reward"), what="RL rewards", length=len(expected["reward"]))
    metrics.series(
        "rl_mean_reward",
        rewards,
        title={"en": "RL: mean reward per step", "zh": "RL：每步的平均奖励"},
        x_label={"en": "RL step", "zh": "RL 步"},
    )
    assert got.get("radar") == expected["radar"], (
        f"radar: got {got.get('radar')}, expected {expected['radar']}"
    )
    for stage, scores in got["radar"].items():
        for task, value in scores.items():
            metrics.record(f"eval/{stage}/{task}", value)
    sq = got.get("speed_quality") or {}
    assert_numbers(
        sq.get("seconds"), expected["speed_quality"]["seconds"], what="cumulative seconds", msg="step 5"
    )
    assert_numbers(sq.get("score"), expected["speed_quality"]["score"], what="stage scores", msg="step 5")
    metrics.series(
        "quality_vs_time",
        sq["score"],
        x=sq["seconds"],
        title={
            "en": "Speed vs quality: mean accuracy after each stage",
            "zh": "速度与质量：每个阶段之后的平均准确率",
        },
        x_label={"en": "cumulative training seconds", "zh": "累计训练秒数"},
    )


# --- step 6: the conclusion -----------------------------------------------------------------------------------


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("### "):
            current = line[4:]
            out[current] = []
        elif line.startswith("- ") and current:
            out[current].append(line)
    return out


@pytest.mark.step("step6")
@pytest.mark.hint("h17")
def test_the_conclusion_has_its_three_sections_in_order(rpt, rd):
    text = rpt.conclusion(rd.small_run(), 2.0, 1e12)
    assert isinstance(text, str), f"conclusion must return the markdown text, got {text!r}"
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["## Conclusion", "### Which stage helped which task", "### Time and cost",
                        "### Speed vs quality"], f"headings {headings} (step 6)"  # fmt: skip
    assert text.endswith("\n") and not text.endswith("\n\n"), "the conclusion ends with exactly one newline"


@pytest.mark.step("step6")
@pytest.mark.hint("h18")
def test_each_task_names_the_stage_that_helped_it_most(rpt, rd):
    run = rd.small_run()
    got = _sections(rpt.conclusion(run, 2.0, 1e12)).get("Which stage helped which task")
    expected = _sections(ref.conclusion(run, 2.0, 1e12))["Which stage helped which task"]
    assert got == expected, (
        f"got {got}, expected {expected}: a stage's gain is measured from the evaluated stage just before it "
        "(GSM8K: SFT +0.5 from MID beats RL +0.1 from SFT); under 0.02 no stage helped (step 6)"
    )


@pytest.mark.step("step6")
@pytest.mark.hint("h18")
def test_a_tie_goes_to_the_earlier_stage(rpt, rd):
    evals = {"mid": {"GSM8K": 0.25, "MMLU": 0.2}, "sft": {"GSM8K": 0.5, "MMLU": 0.2},
             "rl": {"GSM8K": 0.75, "MMLU": 0.19}}  # fmt: skip
    run = rd.small_run(evals=evals)
    got = _sections(rpt.conclusion(run, 2.0, 1e12)).get("Which stage helped which task")
    expected = _sections(ref.conclusion(run, 2.0, 1e12))["Which stage helped which task"]
    assert got == expected, (
        f"got {got}, expected {expected}: equal gains (+0.25 twice) go to SFT, the earlier stage"
    )


@pytest.mark.step("step6")
@pytest.mark.hint("h19")
def test_time_cost_and_quality_per_minute_lines(rpt, rd):
    run = rd.small_run()
    got = _sections(rpt.conclusion(run, 2.0, 1e12))
    expected = _sections(ref.conclusion(run, 2.0, 1e12))
    assert got.get("Time and cost") == expected["Time and cost"], (
        f"got {got.get('Time and cost')}, expected {expected['Time and cost']}: the cost is the total time in hours "
        "x the rate; the slowest stage's share is of the stages' summed time (step 6)"
    )
    assert got.get("Speed vs quality") == expected["Speed vs quality"], (
        f"got {got.get('Speed vs quality')}, expected {expected['Speed vs quality']}: a stage's score gain divided "
        "by its OWN minutes, not the cumulative time (step 6)"
    )


@pytest.mark.step("step6")
@pytest.mark.hint("h19")
def test_missing_numbers_read_unknown(rpt, rd):
    run = rd.small_run(times={}, evals={"sft": {"GSM8K": 0.5}},
                       base={"params": None, "tokens": None, "flops_per_token": None})  # fmt: skip
    got = rpt.conclusion(run, 2.0, 1e12)
    expected = ref.conclusion(run, 2.0, 1e12)
    diff = rd.first_difference(got, expected)
    assert diff is None, f"a run without times or a second evaluated stage: {diff} (step 6)"


@pytest.mark.step("step6")
@pytest.mark.hint("h17")
def test_the_tiny_runs_conclusion_matches_the_rules(rpt, shipped_run, rd):
    ldir, jdir = shipped_run
    got = rpt.conclusion(rpt.collect_run(ldir), 2.0)
    expected = ref.conclusion(ref.collect_run(jdir), 2.0)
    diff = rd.first_difference(got, expected)
    assert diff is None, f"the conclusion of the shipped tiny run differs at {diff} (step 6)"
