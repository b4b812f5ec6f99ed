"""Tests for nanochat_ref.report: section files, header, and the summary table of report.md."""

import datetime

from nanochat_ref.report import Report, extract, slugify


def test_log_writes_a_section_file_with_formatted_items(tmp_path):
    path = Report(str(tmp_path)).log(
        "Chat SFT", [{"loss": 1.23456, "steps": 12345, "name": "x"}, "raw text\n"]
    )
    text = open(path).read()
    assert path.endswith("chat-sft.md")
    assert text.startswith("## Chat SFT\ntimestamp: ")
    assert "- loss: 1.2346\n" in text and "- steps: 12,345\n" in text and "- name: x\n" in text
    assert "raw text\n" in text


def test_slugify_and_extract():
    assert slugify("Chat evaluation sft") == "chat-evaluation-sft"
    assert extract("## X\n- GSM8K: 0.5\n- MMLU: 0.3\n", ["GSM8K", "HumanEval"]) == {"GSM8K": "0.5"}


def test_generate_builds_a_summary_table_with_core_first_and_chatcore_last(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = Report(str(tmp_path / "report"))
    report.reset()
    report.log("Base model evaluation", [{"CORE": 0.2}])
    report.log("Chat evaluation sft", [{"GSM8K": 0.4, "ARC-Easy": 0.5, "ChatCORE": 0.3}])
    report.log("Chat evaluation rl", [{"GSM8K": 0.6}])
    path = report.generate()
    text = open(path).read()
    assert (tmp_path / "report.md").exists()
    assert (
        text.index("## Base model evaluation")
        < text.index("## Chat evaluation sft")
        < text.index("## Summary")
    )
    rows = [line for line in text.split("## Summary")[1].splitlines() if line.startswith("| ")][1:]
    assert [r.split("|")[1].strip() for r in rows] == ["CORE", "ARC-Easy", "GSM8K", "ChatCORE"]
    gsm = next(r for r in rows if "GSM8K" in r).split("|")
    assert [c.strip() for c in gsm[2:6]] == ["-", "-", "0.4000", "0.6000"]
    assert "Total wall clock time: 0h0m" in text


def test_wall_clock_time_excludes_rl_sections(tmp_path):
    report = Report(str(tmp_path))
    report.reset()
    report.log("Chat SFT", [{"a": 1}])
    header = (tmp_path / "header.md").read_text()
    start = datetime.datetime.now() - datetime.timedelta(minutes=75)
    header = header.replace(
        header.split("Run started: ")[1].split("\n")[0], start.strftime("%Y-%m-%d %H:%M:%S")
    )
    (tmp_path / "header.md").write_text(header)
    late = (datetime.datetime.now() + datetime.timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")
    (tmp_path / "chat-rl.md").write_text(f"## Chat RL\ntimestamp: {late}\n\n")
    text = open(report.generate(copy_to_cwd=False)).read()
    assert "Total wall clock time: 1h15m" in text
