"""Fixtures for module 11: the same tiny tokenizer and the same tiny GPT weights on both sides.

Design choices:

- The tokenizer is trained on both sides with the deterministic pure-Python BPE trainer (< 1 s) and checked to
  agree; the GPT is trained briefly in the judge (so its predictions depend on the context) and its state dict
  is loaded into a learner-side GPT.
- Sampling is compared draw for draw: both sides seed a ``torch.Generator`` identically, and the judge and the
  learner run the same torch build.
"""

from __future__ import annotations

import pytest
import torch

from nanochat_ref.gpt import GPT, GPTConfig
from nanochat_ref.tokenizer import RustBPETokenizer

TEXTS = [
    "Hello! How are you today? I am fine, thank you.",
    "The capital of France is Paris. The sky is blue and the grass is green.",
] * 5
VOCAB_SIZE = 300
MODEL = {
    "sequence_len": 64,
    "vocab_size": VOCAB_SIZE,
    "n_layer": 2,
    "n_head": 2,
    "n_kv_head": 1,
    "n_embd": 32,
}


@pytest.fixture
def eng(learner):
    """The learner's ``nanochat.engine`` module (a proxy)."""
    return learner.module("nanochat.engine")


@pytest.fixture(scope="session")
def judge_tok():
    return RustBPETokenizer.train_from_iterator(iter(TEXTS), VOCAB_SIZE, backend="python")


@pytest.fixture
def tok(learner, judge_tok):
    """The same tokenizer in the learner's process (a handle), checked against the judge's copy."""
    learner_tok = learner.module("nanochat.tokenizer").RustBPETokenizer.train_from_iterator(
        TEXTS, VOCAB_SIZE, backend="python"
    )
    for text in ("Hello there!", "The capital of France is"):
        assert learner_tok.encode(text) == judge_tok.encode(text), "test setup: the two tokenizers disagree"
    return learner_tok


@pytest.fixture(scope="session")
def judge_model(judge_tok):
    """A tiny GPT trained for 30 steps on TEXTS (~3 s): its next token depends on the context, so a decode step
    that forgets the KV cache shows (a random GPT mostly echoes the current token)."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(**MODEL))
    model.init_weights()
    bos = judge_tok.get_bos_token_id()
    rows = [[bos, *judge_tok.encode(t)] for t in TEXTS[:2]]
    width = max(len(r) for r in rows)
    x = torch.full((len(rows), width), bos)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        x[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r) - 1] = True
    y = torch.roll(x, -1, dims=1)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-2)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x)[mask].float(), y[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture
def model(learner, judge_model):
    """A learner-side GPT (handle) with the judge model's weights."""
    gpt = learner.module("nanochat.gpt")
    m = gpt.GPT(gpt.GPTConfig(**MODEL))
    m.init_weights()
    m.load_state_dict(judge_model.state_dict())
    m.eval()
    return m


@pytest.fixture
def rng(learner):
    """``rng(seed)`` -> a seeded learner-side torch.Generator (handle)."""
    torch_mod = learner.module("torch")

    def _make(seed: int):
        g = torch_mod.Generator()
        g.manual_seed(seed)
        return g

    return _make
