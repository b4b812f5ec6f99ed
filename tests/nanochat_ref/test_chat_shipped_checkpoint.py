"""Tests of the shipped tiny checkpoint (nanochat_ref/checkpoints): small, loadable, served, and it learned."""

import json
import os
import shutil

import pytest

from nanochat_ref.tasks.gsm8k import GSM8K

CKPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "nanochat_ref",
                    "checkpoints")  # fmt: skip


@pytest.fixture()
def shipped(tmp_path, monkeypatch):
    base = tmp_path / "base"
    shutil.copytree(CKPT, base)
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(base))
    return base


def test_the_shipped_checkpoints_stay_small():
    # the stage chain modules grade against (base, mid, SFT, RL) and its tokenizer; the chat model has its own
    # test (test_chat_model_shipped.py)
    def size(folder: str) -> int:
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)

    stages = ("base_checkpoints", "mid_checkpoints", "chatsft_checkpoints", "chatrl_checkpoints")
    for stage in stages:
        assert size(os.path.join(CKPT, stage)) < 5 * 1024 * 1024, stage
    total = size(CKPT) - size(os.path.join(CKPT, "chat"))
    assert total < 20 * 1024 * 1024


def test_the_shipped_model_solves_arithmetic_well_above_chance(shipped):
    from nanochat_ref.checkpoint_manager import load_model
    from nanochat_ref.engine import Engine

    model, tokenizer, _ = load_model("rl", "cpu", phase="eval")
    engine, task = Engine(model, tokenizer), GSM8K(split="test")
    solved = 0
    for i in range(20):
        prompt = tokenizer.render_for_completion(task[i])
        results, _ = engine.generate_batch(prompt, max_tokens=64, temperature=0.0)
        solved += task.evaluate(task[i], tokenizer.decode(results[0][len(prompt) :]))
    assert solved >= 12  # the constant best guess solves ~1 of 20; the model measured 96/100 at export


@pytest.mark.slow
def test_the_shipped_model_counts_letters_above_the_balanced_constant_answer_baseline(shipped):
    from nanochat_ref.checkpoint_manager import load_model
    from nanochat_ref.engine import Engine
    from nanochat_ref.scripts.chat_eval import majority_baseline
    from nanochat_ref.tasks.spellingbee import BalancedSpellingBee

    model, tokenizer, _ = load_model("rl", "cpu", phase="eval")
    engine, task, n = Engine(model, tokenizer), BalancedSpellingBee(size=100, split="test"), 100
    solved = 0
    for i in range(n):
        prompt = tokenizer.render_for_completion(task[i])
        results, _ = engine.generate_batch(prompt, max_tokens=96, temperature=0.0)
        solved += task.evaluate(task[i], tokenizer.decode(results[0][len(prompt) :]))
    baseline = majority_baseline("SpellingBee-balanced", n)  # always giving the most common count: 0.30 here
    assert baseline <= 0.32
    assert solved / n >= baseline + 0.15  # the model measured 0.54 on these 100 at export


def test_chat_web_serves_the_shipped_model(shipped):
    from fastapi.testclient import TestClient

    from nanochat_ref.scripts.chat_web import build_parser, create_app

    app = create_app(build_parser().parse_args(["-i", "rl", "--device-type", "cpu"]))
    with TestClient(app) as client:
        body = {
            "messages": [{"role": "user", "content": "What is your name?"}],
            "max_tokens": 30,
            "temperature": 0,
        }
        r = client.post("/chat/completions", json=body)
    events = [json.loads(chunk[len("data: ") :]) for chunk in r.text.split("\n\n") if chunk]
    reply = "".join(e.get("token", "") for e in events)
    assert r.status_code == 200 and events[-1] == {"done": True} and reply.strip()
