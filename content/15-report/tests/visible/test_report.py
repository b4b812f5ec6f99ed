"""Visible tests for module 15 (report card). Learner code is reached only through the ``learner`` fixture."""

import pytest

from grading.testkit import assert_number
from nanochat_ref import report as ref

# --- step 1: Report.log ----------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_log_writes_the_section_to_its_slugified_file_name(rpt, lfs):
    folder = lfs.mkdtemp()
    path = rpt.Report(folder).log("Chat SFT", [{"steps": 3}])
    assert path == lfs.join(folder, "chat-sft.md"), (
        f"wrong file name {path!r}: expect <report_dir>/chat-sft.md"
    )
    assert lfs.exists(path), "log() must return the path of the file it wrote"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_log_opens_with_the_heading_and_a_timestamp_line(rpt, lfs, rd):
    text = lfs.read(rpt.Report(lfs.mkdtemp()).log("Base model loss", [{"bpb": 0.5}]))
    lines = text.split("\n")
    assert lines[0] == "## Base model loss", f"the first line must be '## <section>', got {lines[0]!r}"
    assert rd.TIMESTAMP.match(lines[1]), f"the second line must be the timestamp line, got {lines[1]!r}"
    assert lines[2] == "", "a blank line must follow the timestamp line"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_log_writes_floats_with_four_decimals(rpt, lfs):
    text = lfs.read(rpt.Report(lfs.mkdtemp()).log("Midtraining", [{"min_val_bpb": 0.395612, "lr": 0.02}]))
    assert "- min_val_bpb: 0.3956\n" in text, f"floats need four decimals (0.3956):\n{text}"
    assert "- lr: 0.0200\n" in text, f"floats need four decimals (0.0200):\n{text}"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_log_writes_large_integers_with_thousands_separators(rpt, lfs):
    text = lfs.read(rpt.Report(lfs.mkdtemp()).log("Base model training", [{"steps": 21400, "depth": 20}]))
    assert "- steps: 21,400\n" in text, f"integers >= 10,000 need a thousands separator (21,400):\n{text}"
    assert "- depth: 20\n" in text, f"small integers are written with str() (20):\n{text}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_log_writes_string_items_raw_and_skips_empty_ones(rpt, lfs, tmp_path, rd):
    items = ["Some raw markdown\n", None, {}, {"name": "d20"}, ""]
    text = lfs.read(rpt.Report(lfs.mkdtemp()).log("Chat RL", items))
    expected = open(ref.Report(str(tmp_path)).log("Chat RL", items)).read()
    diff = rd.first_difference(rd.without_timestamps(text), rd.without_timestamps(expected))
    assert diff is None, f"string items are written raw and empty items skipped; {diff}"


# --- step 2: generate() and the summary table ------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_generate_returns_report_md_in_the_report_folder(rpt, lfs, make_run, rd):
    ldir, _ = make_run(rd.FULL_RUN)
    path = rpt.Report(ldir).generate(copy_to_cwd=False)
    assert path == lfs.join(ldir, "report.md"), f"generate() must return <report_dir>/report.md, got {path!r}"
    assert lfs.exists(path), "generate() must write report.md"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_generate_concatenates_the_header_and_sections_in_pipeline_order(rpt, lfs, make_run, rd):
    ldir, _ = make_run(rd.FULL_RUN)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    assert text.startswith(rd.HEADER), "report.md must start with header.md, unchanged"
    positions = [text.find(f"\n{body}") for name, body in rd.FULL_RUN.items() if name != "header.md"]
    assert -1 not in positions, "every existing section must be copied into report.md unchanged"
    assert positions == sorted(positions), "sections must follow the pipeline order of EXPECTED_FILES"
    assert text.index("## Chat evaluation rl") < text.index("## Summary"), (
        "## Summary comes after the sections"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_summary_rows_put_core_first_chatcore_last_and_the_rest_alphabetically(rpt, lfs, make_run, rd):
    ldir, _ = make_run(rd.FULL_RUN)
    rows = rd.summary_rows(lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False)))
    names = [row[0] for row in rows]
    expected = ["CORE", "ARC-Challenge", "ARC-Easy", "GSM8K", "HumanEval", "MMLU", "ChatCORE"]
    assert names == expected, f"wrong row order {names}: CORE first, ChatCORE last, the rest alphabetical"


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_summary_cells_hold_each_stage_value_and_a_dash_when_missing(rpt, lfs, make_run, rd):
    ldir, _ = make_run(rd.FULL_RUN)
    rows = {
        row[0]: row[1:] for row in rd.summary_rows(lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False)))
    }
    assert rows.get("CORE") == ["0.2219", "-", "-", "-"], (
        f"CORE row: {rows.get('CORE')} (a missing cell is -)"
    )
    assert rows.get("GSM8K") == ["-", "0.0250", "0.0455", "0.0758"], f"GSM8K row: {rows.get('GSM8K')}"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_generate_skips_missing_sections(rpt, lfs, make_run, rd):
    files = {k: v for k, v in rd.FULL_RUN.items() if "mid" not in k and "rl" not in k}
    ldir, jdir = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    expected = open(ref.Report(jdir).generate(copy_to_cwd=False)).read()
    diff = rd.first_difference(text, expected)
    assert diff is None, f"a run without midtraining and RL differs from the expected report at {diff}"


# --- step 3: wall clock and cost ------------------------------------------------------------------------------


def _gpus(name: str, count: int) -> dict:
    return {"available": True, "count": count, "names": [name] * count, "memory_gb": [80.0] * count}


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_estimate_cost_multiplies_the_h100_rate_by_the_gpu_count(rpt):
    cost = rpt.estimate_cost(_gpus("NVIDIA H100 80GB HBM3", 8))
    assert isinstance(cost, dict), f"estimate_cost must return a dict, got {cost!r}"
    assert_number(
        cost.get("hourly_rate"),
        24.0,
        what="cost['hourly_rate']",
        msg=f"hourly rate of 8x H100 is 8 * $3.00: {cost}",
    )
    assert cost.get("gpu_type") == "NVIDIA H100 80GB HBM3"
    assert "estimated_total" in cost and cost["estimated_total"] is None, (
        "no runtime: estimated_total is None"
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_estimate_cost_includes_the_total_for_a_runtime(rpt):
    cost = rpt.estimate_cost(_gpus("NVIDIA A100-SXM4-80GB", 8), 4.0)
    expected = ref.estimate_cost(_gpus("NVIDIA A100-SXM4-80GB", 8), 4.0)
    assert_number(
        cost.get("hourly_rate"),
        expected["hourly_rate"],
        what="cost['hourly_rate']",
        msg=f"hourly rate of 8x A100: {cost}",
    )
    assert_number(
        cost.get("estimated_total"),
        expected["estimated_total"],
        what="cost['estimated_total']",
        msg=f"estimated_total is hourly_rate * runtime_hours: {cost}",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_estimate_cost_is_none_without_gpus(rpt):
    assert rpt.estimate_cost({"available": False}) is None, "no GPU available: estimate_cost returns None"


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_total_wall_clock_time_runs_from_run_started_to_the_last_section(rpt, lfs, make_run, rd):
    files = {k: v for k, v in rd.FULL_RUN.items() if "rl" not in k}
    ldir, _ = make_run(files)
    text = lfs.read(rpt.Report(ldir).generate(copy_to_cwd=False))
    # Run started 09:00:00, last section (chat-evaluation-sft) 12:51:45 -> 231 whole minutes.
    assert text.endswith("Total wall clock time: 3h51m\n"), (
        f"wall clock: expected the last line 'Total wall clock time: 3h51m', got {text.splitlines()[-1:]}"
    )
