"""Hidden tests for module 15: formatting edges, the whole report against the reference, cost and clock edges."""

import pytest

from grading.testkit import assert_numbers
from nanochat_ref import report as ref

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.parametrize(
    "value",
    [9999, 10000, 1234567, -50000, 0, 3.0, 1e-5, 12345.678, True, False, "0.5", None, [1, 2]],
    ids=repr,
)
def test_log_formats_each_kind_of_value_like_the_reference(rpt, lfs, tmp_path, rd, value):
    text = lfs.read(rpt.Report(lfs.mkdtemp()).log("Values", [{"v": value}]))
    expected = open(ref.Report(str(tmp_path)).log("Values", [{"v": value}])).read()
    got_line = next((line for line in text.splitlines() if line.startswith("- v:")), None)
    want_line = next(line for line in expected.splitlines() if line.startswith("- v:"))
    assert got_line == want_line, f"value {value!r}: expected {want_line!r}, got {got_line!r}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_log_writes_several_dicts_and_strings_in_order(rpt, lfs, tmp_path, rd):
    items = [{"a": 1, "b": 2.5}, "text between\n", {"c": 123456}, "tail without newline"]
    text = lfs.read(rpt.Report(lfs.mkdtemp()).log("Base model evaluation", items))
    expected = open(ref.Report(str(tmp_path)).log("Base model evaluation", items)).read()
    assert rd.without_timestamps(text) == rd.without_timestamps(expected)


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_logging_a_section_again_overwrites_its_file(rpt, lfs, rd):
    report = rpt.Report(lfs.mkdtemp())
    report.log("Chat SFT", [{"old": 1}])
    text = lfs.read(report.log("Chat SFT", [{"new": 2}]))
    assert "- old:" not in text and "- new: 2\n" in text, "log() must overwrite the section file"


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_log_creates_the_report_folder_if_needed(rpt, lfs):
    folder = lfs.join(lfs.mkdtemp(), "nested", "report")
    path = rpt.Report(folder).log("Tokenizer evaluation", [{"ratio": 4.8}])
    assert path == lfs.join(folder, "tokenizer-evaluation.md") and lfs.exists(path)


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_the_whole_report_of_a_full_run_matches_the_reference(rpt, lfs, make_run, rd):
    ldir, jdir = make_run(rd.FULL_RUN)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert text == open(ref.Report(jdir).generate(copy_to_cwd=False)).read()


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_an_empty_report_folder_gives_an_empty_table_and_an_unknown_clock(rpt, lfs, make_run):
    ldir, jdir = make_run({})
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert text == open(ref.Report(jdir).generate(copy_to_cwd=False)).read()


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_all_chat_metrics_are_collected_from_every_chat_evaluation(rpt, lfs, make_run, rd):
    files = dict(rd.FULL_RUN)
    files["chat-evaluation-rl.md"] = rd.section(
        "Chat evaluation rl",
        "2026-01-01 14:40:00",
        {"GSM8K": "0.0758", "SpellingBee": "0.9900", "Other": "1"},
    )
    files["base-model-evaluation.md"] = rd.section(
        "Base model evaluation", "2026-01-01 12:10:30", {"CORE": "0.2219", "MMLU": "0.2500"}
    )
    ldir, jdir = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    expected = open(ref.Report(jdir).generate(copy_to_cwd=False)).read()
    assert rd.summary_rows(text) == rd.summary_rows(expected)


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_extra_sections_come_after_the_expected_ones(rpt, lfs, make_run, rd):
    files = dict(rd.FULL_RUN)
    files["speedrun-timing.md"] = rd.section("Speedrun timing", "2026-01-01 15:00:00", {"total_s": "1,234"})
    ldir, jdir = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(["speedrun-timing.md", "absent.md"], copy_to_cwd=False))
    assert (
        text == open(ref.Report(jdir).generate(["speedrun-timing.md", "absent.md"], copy_to_cwd=False)).read()
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_generate_copies_the_report_into_the_current_folder(rpt, learner, lfs, make_run, rd):
    ldir, _ = make_run(rd.FULL_RUN)
    os_mod = learner.module("os")
    cwd = lfs.mkdtemp()
    old = os_mod.getcwd()
    os_mod.chdir(cwd)
    try:
        path = rpt.Report(ldir).generate()
    finally:
        os_mod.chdir(old)
    copy = lfs.join(cwd, "report.md")
    assert lfs.exists(copy), "generate() must copy report.md into the current folder by default"
    assert lfs.read(copy) == lfs.read(path)


# --- step 3 ---------------------------------------------------------------------------------------------------


def _gpus(names: list[str]) -> dict:
    return {"available": True, "count": len(names), "names": names, "memory_gb": [40.0] * len(names)}


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.parametrize(
    ("names", "hours"),
    [
        (["Tesla V100-SXM2-16GB"] * 4, 2.5),
        (["NVIDIA GeForce RTX 4090"], 1.0),
        (["NVIDIA H100 PCIe", "NVIDIA A100-PCIE-40GB"], None),
        (["NVIDIA A100-SXM4-80GB"] * 8, 0.0),
    ],
    ids=["v100", "other", "first-name-wins", "zero-hours"],
)
def test_estimate_cost_matches_the_reference(rpt, names, hours):
    got = rpt.estimate_cost(_gpus(names), hours)
    expected = ref.estimate_cost(_gpus(names), hours)
    assert_numbers(
        got, expected, what="estimate_cost(...)", msg=f"hourly rate / estimated_total for {names} x {hours} h"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_estimate_cost_without_gpu_names_uses_the_default_rate(rpt):
    info = {"available": True, "count": 2, "names": [], "memory_gb": []}
    assert_numbers(rpt.estimate_cost(info, 3.0), ref.estimate_cost(info, 3.0), what="estimate_cost(...)")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_rl_sections_do_not_count_toward_the_wall_clock(rpt, lfs, make_run, rd):
    ldir, _ = make_run(rd.FULL_RUN)  # RL ends at 14:40, the last non-RL section at 12:51:45
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert "Total wall clock time: 3h51m\n" in text, f"wall clock must exclude RL: {text.splitlines()[-1:]}"


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_the_wall_clock_counts_whole_hours_past_a_day(rpt, lfs, make_run, rd):
    files = {
        "header.md": rd.HEADER,
        "chat-sft.md": rd.section("Chat SFT", "2026-01-02 11:05:59", {"steps": "1"}),
    }
    ldir, _ = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert text.endswith("Total wall clock time: 26h5m\n"), f"wall clock: {text.splitlines()[-1:]}"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_the_wall_clock_is_unknown_without_a_header(rpt, lfs, make_run, rd):
    files = {k: v for k, v in rd.FULL_RUN.items() if k != "header.md"}
    ldir, jdir = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert text == open(ref.Report(jdir).generate(copy_to_cwd=False)).read()
    assert text.endswith("Total wall clock time: unknown\n"), "wall clock: no Run started line -> unknown"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_the_wall_clock_is_unknown_when_only_rl_sections_exist(rpt, lfs, make_run, rd):
    files = {k: v for k, v in rd.FULL_RUN.items() if k == "header.md" or "rl" in k}
    ldir, _ = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert text.endswith("Total wall clock time: unknown\n"), "wall clock: no non-RL section -> unknown"
