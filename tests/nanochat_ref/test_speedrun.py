"""End-to-end test of the whole pipeline (`speedrun --smoke`), then serving its final model through chat_web."""

import json
import os
import subprocess
import sys

import pytest
import torch

from nanochat_ref.speedrun import PROFILES, splice_report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_tiny_and_smoke_profiles_cover_every_stage():
    stages = {"shards", "tok", "base", "base_eval", "mid", "sft", "rl", "eval_mid", "eval_sft", "eval_rl"}
    assert set(PROFILES["tiny"]) == stages and set(PROFILES["smoke"]) == stages


def test_reeval_splices_the_new_stage_section_and_its_summary_column_into_the_report():
    report = (
        "## Chat evaluation sft\ntimestamp: t0\n\n- GSM8K: 0.5000\n\n\n"
        "## Chat evaluation rl\ntimestamp: t1\n\n- GSM8K: 0.9000\n\n\n"
        "## Speedrun\ntimestamp: t2\n\n- total time (s): 1.0\n\n\n"
        "## Summary\n\n| Metric | BASE | MID | SFT | RL |\n|---|---|---|---|---|\n"
        "| GSM8K           | -        | -        | 0.5000   | 0.9000   |\n"
    )
    section = "## Chat evaluation rl\ntimestamp: t3\n\n- GSM8K: 0.9600\n- SimpleSpelling: 0.0400\n\n"
    out = splice_report(report, section, "rl", {"GSM8K": 0.96, "SimpleSpelling": 0.04})
    assert "- GSM8K: 0.9000" not in out and "- SimpleSpelling: 0.0400" in out
    assert out.index("## Chat evaluation rl") < out.index("## Speedrun") and "- total time (s): 1.0" in out
    assert "- GSM8K: 0.5000" in out  # the SFT section is left alone
    assert "| GSM8K           | -        | -        | 0.5000   | 0.9600   |" in out


@pytest.mark.slow
def test_smoke_speedrun_runs_end_to_end_and_its_model_is_served(tmp_path, monkeypatch):
    base = tmp_path / "base"
    env = {**os.environ, "NANOCHAT_BASE_DIR": str(base), "PYTHONPATH": REPO, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "nanochat_ref.speedrun", "--smoke", "--export", str(tmp_path / "export")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for phase in ("base_checkpoints", "mid_checkpoints", "chatsft_checkpoints", "chatrl_checkpoints"):
        assert any((base / phase).rglob("model_*.pt")), phase
    report = (tmp_path / "report.md").read_text()
    for section in ("## Tokenizer training", "## Base model training", "## Base model evaluation", "## Midtraining",
                    "## Chat evaluation mid", "## Chat SFT", "## Chat evaluation sft", "## Chat RL",
                    "## Chat evaluation rl", "## Speedrun", "## Summary"):  # fmt: skip
        assert section in report, section
    assert "| GSM8K" in report and "Total wall clock time:" in report
    assert any(line.startswith("speedrun_total_s: ") for line in proc.stdout.splitlines())
    assert (tmp_path / "export" / "tokenizer" / "tokenizer.pkl").exists()
    for phase in ("base_checkpoints", "mid_checkpoints", "chatsft_checkpoints", "chatrl_checkpoints"):
        shipped = list((tmp_path / "export" / phase).rglob("model_*.pt"))  # the whole stage chain is exported
        assert len(shipped) == 1, (phase, shipped)
        assert {v.dtype for v in torch.load(shipped[0], weights_only=True).values()} == {torch.bfloat16}, (
            phase
        )

    # the run's curves travel with the export; the stage sweep evaluates every stage on the same tasks
    curves = json.loads((tmp_path / "export" / "curves.json").read_text())
    assert set(curves["stages"]) == {"base_train", "mid_train", "chat_sft", "chat_rl"}
    assert (
        len(curves["stages"]["mid_train"]["train_losses"]) == 4
        and len(curves["stages"]["chat_rl"]["rewards"]) == 1
    )
    assert curves["times"]["total"] >= curves["times"]["base_train"] > 0
    from nanochat_ref.speedrun import SWEEP_TASKS, sweep

    evals = sweep(str(tmp_path / "export"), ["--device-type", "cpu"], max_problems=1, max_new_tokens=8)
    assert list(evals) == ["base", "mid", "sft", "rl"]
    assert all(set(scores) == set(SWEEP_TASKS.split("|")) for scores in evals.values()), evals
    assert json.loads((tmp_path / "export" / "curves.json").read_text())["evals"] == evals

    # serve the exported RL model with the real lifespan loader
    from fastapi.testclient import TestClient

    from nanochat_ref.scripts.chat_web import build_parser, create_app

    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(tmp_path / "export"))
    app = create_app(build_parser().parse_args(["-i", "rl", "--device-type", "cpu"]))
    with TestClient(app) as client:
        assert client.get("/health").json()["ready"] is True
        r = client.post(
            "/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
        )
        events = [json.loads(c[len("data: ") :]) for c in r.text.split("\n\n") if c]
        assert r.status_code == 200 and events[-1] == {"done": True}
