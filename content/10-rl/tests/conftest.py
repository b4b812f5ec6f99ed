"""Fixtures for module 10: the learner's chat_rl module and the same tiny GPT weights on both sides.

Design choices:

- The policy-gradient loss is checked against the reference on a tiny random GPT (2 layers, 32 wide): the judge
  builds it with a fixed seed and loads its state dict into a learner-side GPT, so both sides compute the same
  per-token log-probabilities. The GPT module itself is the reference one in the learner's workspace.
- Rewards, rollouts and pass@k records are plain data, built in the tests.
- The graded RL run starts from a weak copy of the shipped chat model made here, deterministically: the
  unembedding row of the ``#`` that opens the ``#### <answer>`` line scaled down, so the model seldom writes an
  answer the reward can read and the reward has room to rise (``grading/testkit/shipped.py``).
"""

from __future__ import annotations

import pytest
import torch

from nanochat_ref.gpt import GPT, GPTConfig

MODEL = {"sequence_len": 32, "vocab_size": 64, "n_layer": 2, "n_head": 2, "n_kv_head": 1, "n_embd": 32}


@pytest.fixture
def rl(learner):
    """The learner's ``nanochat.scripts.chat_rl`` module (a proxy)."""
    return learner.module("nanochat.scripts.chat_rl")


@pytest.fixture(scope="session")
def judge_model():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**MODEL))
    model.init_weights()
    with torch.no_grad():  # lm_head starts near 0; larger logits make log-probs differ per token
        model.lm_head.weight.normal_(0.0, 0.5)
    return model


@pytest.fixture
def model(learner, judge_model):
    """The same GPT in the learner's process (a handle)."""
    gpt = learner.module("nanochat.gpt")
    handle = gpt.GPT(gpt.GPTConfig(**MODEL))
    handle.load_state_dict(judge_model.state_dict())
    return handle


@pytest.fixture(scope="session")
def weak_state():
    """``(state, meta)``: the shipped chat model with its answer marker muted (``RL_MUTE`` times its row)."""
    from grading.testkit.shipped import RL_MUTE, RL_MUTED_TOKEN, muted, shipped_state

    state, meta = shipped_state()
    return muted(state, RL_MUTED_TOKEN, RL_MUTE), meta


@pytest.fixture
def weak_base(learner, weak_state):
    """A learner-side base dir whose SFT checkpoint is the muted shipped model (the RL run's weak start)."""
    from grading.testkit.shipped import chat_base

    state, meta = weak_state
    with chat_base(learner, {"sft": state}, meta) as base:
        yield base


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): a longer per-test limit where pytest-timeout runs")
