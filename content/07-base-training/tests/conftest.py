"""Fixtures for module 7: tiny data on both sides, learner-side models, and helpers to run learner code.

As in module 4, the learner's process and the judge each build the same tiny shards and tokenizer with the
reference ``make_shards`` / ``tok_train`` (deterministic, Python documentation prose only), so the judge can
run the reference on its own copy and compare numbers.
"""

import os

import pytest
import torch

from nanochat_ref.gpt import GPT as RefGPT
from nanochat_ref.gpt import GPTConfig as RefConfig

SHARDS = {
    "num_shards": 3,
    "row_groups_per_shard": 4,
    "rows_per_group": 16,
    "max_doc_chars": 300,
    "sources": ["pydoc"],
}
VOCAB_SIZE = 512
SMALL = dict(sequence_len=16, vocab_size=VOCAB_SIZE, n_layer=2, n_head=2, n_kv_head=1, n_embd=32)
_LEARNER: dict[str, str] = {}


def _build(base: str, make_shards, train_tokenizer) -> None:
    make_shards(os.path.join(base, "base_data"), **SHARDS)
    train_tokenizer(VOCAB_SIZE, 10**9, 10_000, "auto", os.path.join(base, "tokenizer"))


@pytest.fixture(scope="session")
def judge_base(tmp_path_factory):
    from nanochat_ref.scripts.make_shards import make_shards
    from nanochat_ref.scripts.tok_train import train_tokenizer

    base = str(tmp_path_factory.mktemp("judge_base"))
    old = os.environ.get("NANOCHAT_BASE_DIR")
    os.environ["NANOCHAT_BASE_DIR"] = base
    try:
        _build(base, make_shards, train_tokenizer)
    finally:
        if old is None:
            os.environ.pop("NANOCHAT_BASE_DIR", None)
        else:
            os.environ["NANOCHAT_BASE_DIR"] = old
    return base


@pytest.fixture
def ref_env(judge_base, monkeypatch):
    """Point the judge's reference code at its copy of the data, as rank 0 of 1."""
    monkeypatch.setenv("NANOCHAT_BASE_DIR", judge_base)
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    return judge_base


@pytest.fixture
def learner_env(learner):
    """Build the data once in the learner's process and point NANOCHAT_BASE_DIR at it; returns the folder."""
    os_mod = learner.module("os")
    base = _LEARNER.get("base")
    if base is None or not os_mod.path.isdir(base):
        base = learner.module("tempfile").mkdtemp(prefix="nanochat-")
        os_mod.environ.update({"NANOCHAT_BASE_DIR": base})
        _build(
            base,
            learner.module("nanochat.scripts.make_shards").make_shards,
            learner.module("nanochat.scripts.tok_train").train_tokenizer,
        )
        _LEARNER["base"] = base
    os_mod.environ.update({"NANOCHAT_BASE_DIR": base})
    return base


@pytest.fixture
def learner_tmp(learner):
    """A fresh empty folder in the learner's process."""
    return learner.module("tempfile").mkdtemp(prefix="ckpt-")


def _ref_model(seed: int = 0) -> RefGPT:
    torch.manual_seed(seed)
    model = RefGPT(RefConfig(**SMALL))
    model.init_weights()
    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_proj.weight.normal_(0, 0.2)
            block.mlp.c_proj.weight.normal_(0, 0.05)
        model.lm_head.weight.normal_(0, 0.2)
    return model


@pytest.fixture
def twin_model(learner):
    """``twin_model(seed) -> (learner_side_model, judge_side_model)``: the reference GPT on both sides, same weights.

    The learner-side model is nanochat's own GPT (module 5's file is the reference in this workspace).
    """
    gpt = learner.module("nanochat.gpt")

    def make(seed: int = 0):
        ref = _ref_model(seed)
        model = gpt.GPT(gpt.GPTConfig(**SMALL))
        model.load_state_dict(ref.state_dict())
        return model, ref

    return make
