"""Fixtures for module 13: one tiny tokenizer and one tiny GPT on both sides, and hand-written CORE items.

Design choices:

- The tokenizer is trained on both sides with the deterministic pure-Python BPE trainer (< 1 s) and checked to
  agree. The GPT is trained briefly in the judge (a random one predicts junk bytes, so every language-modelling
  item would be wrong) and its state dict is loaded into a learner-side GPT: both sides score with the same
  weights.
- CORE items are hand-written (multiple choice, schema, language modelling) in the DCLM bundle's format.
- The chat evaluation and the report use the shipped tiny chat model and a weak copy made here deterministically
  (seeded Gaussian noise of ``NOISE`` times each weight tensor's std), written into a learner-side base dir as the
  ``rl`` and ``sft`` checkpoints (``grading/testkit/shipped.py``); the judge keeps its own reference copies.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grading.testkit import tokenizer_fixtures, trained_tiny_gpt
from nanochat_ref.gpt import GPT, GPTConfig

TEXTS = [
    "The sky is blue. Grass is green. The sun is hot and the snow is cold.",
    "The capital of France is Paris. The capital of Italy is Rome.",
    "The man went to the store and bought milk. The cat sat on the mat.",
    "Question: what is two plus two? Answer: four.",
] * 5
VOCAB_SIZE = 300
MODEL = {"vocab_size": VOCAB_SIZE, "n_layer": 1, "n_head": 2, "n_kv_head": 2, "n_embd": 32}

MC_ITEMS = [
    {"query": "The sky is", "choices": ["blue", "green", "hot"], "gold": 0},
    {"query": "Grass is", "choices": ["cold", "green"], "gold": 1},
    {"query": "The sun is", "choices": ["hot", "cold", "blue", "Rome"], "gold": 0},
    {"query": "The snow is", "choices": ["hot", "cold"], "gold": 1},
    {"query": "The capital of France is", "choices": ["Rome", "Paris", "milk"], "gold": 1},
    {"query": "The capital of Italy is", "choices": ["Rome", "Paris"], "gold": 0},
    {"query": "The cat sat on the", "choices": ["mat", "sky", "store"], "gold": 0},
    {"query": "Question: what is two plus two? Answer:", "choices": ["four", "two", "blue"], "gold": 0},
]
SCHEMA_ITEMS = [
    {"context_options": ["The man went to the store", "The cat sat on the mat"], "continuation": "and bought milk",
     "gold": 0},
    {"context_options": ["The snow is cold", "The sun is hot", "Grass is green"], "continuation": "in the summer",
     "gold": 1},
    {"context_options": ["The capital of France", "The capital of Italy"], "continuation": "is Rome", "gold": 1},
    {"context_options": ["The sky", "The cat"], "continuation": "is blue", "gold": 0},
]  # fmt: skip
LM_ITEMS = [
    {"context": "The capital of France is", "continuation": "Paris"},
    {"context": "The sky is ", "continuation": "blue"},
    {"context": "Question: what is two plus two? Answer:", "continuation": "four"},
    {"context": "The cat sat on the", "continuation": "mat. The sun is hot"},
]


def meta(task_type: str, num_fewshot: int = 0) -> dict:
    return {"task_type": task_type, "num_fewshot": num_fewshot, "continuation_delimiter": " "}


@pytest.fixture
def ce(learner):
    """The learner's ``nanochat.core_eval`` module (a proxy)."""
    return learner.module("nanochat.core_eval")


judge_tok, tok = tokenizer_fixtures(
    TEXTS, VOCAB_SIZE, probes=("The capital of France is Paris", "Grass is green", "milk")
)


@pytest.fixture(scope="session")
def trained_state(judge_tok):
    """Weights of a tiny GPT trained for 30 steps on TEXTS (~3 s): it has memorised some facts, so the CORE
    items get a mix of right and wrong answers and a wrong scoring rule shows."""
    model = trained_tiny_gpt({"sequence_len": 64, **MODEL}, judge_tok, TEXTS[:4])
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture
def models(learner, trained_state):
    """``models(sequence_len=64)`` -> (learner model handle, judge model) with the same trained weights."""

    def _make(sequence_len: int = 64):
        judge = GPT(GPTConfig(sequence_len=sequence_len, **MODEL))
        judge.init_weights()
        judge.load_state_dict(trained_state)
        judge.eval()
        gpt = learner.module("nanochat.gpt")
        model = gpt.GPT(gpt.GPTConfig(sequence_len=sequence_len, **MODEL))
        model.init_weights()
        model.load_state_dict(trained_state)
        model.eval()
        return model, judge

    return _make


@pytest.fixture(scope="session")
def data():
    """The hand-written items and helpers, for the test files (they do not import conftest)."""
    return SimpleNamespace(MC=MC_ITEMS, SCHEMA=SCHEMA_ITEMS, LM=LM_ITEMS, meta=meta, TEXTS=TEXTS)


NOISE = 0.3


@pytest.fixture(scope="session")
def shipped():
    """``(shipped_state, noised_state, meta)``: the shipped chat model and its weak copy (NOISE x std, seed 0)."""
    from grading.testkit.shipped import noised, shipped_state

    state, meta = shipped_state()
    return state, noised(state, NOISE, seed=0), meta


@pytest.fixture
def chat_base(learner, shipped):
    """A learner-side base dir: the shipped model as the ``rl`` checkpoint, its noised copy as ``sft``."""
    from grading.testkit.shipped import chat_base as make_base

    state, flat, meta = shipped
    with make_base(learner, {"rl": state, "sft": flat}, meta) as base:
        yield base


@pytest.fixture(scope="session")
def judge_chat(shipped):
    """``judge_chat(phase)`` -> (model, tokenizer, engine): the judge's reference copy of ``rl`` or ``sft``."""
    from grading.testkit.shipped import shipped_dir
    from nanochat_ref.engine import Engine
    from nanochat_ref.gpt import GPT, GPTConfig
    from nanochat_ref.tokenizer import RustBPETokenizer

    state, flat, meta = shipped
    tokenizer = RustBPETokenizer.from_directory(f"{shipped_dir()}/tokenizer")
    made: dict[str, tuple] = {}

    def make(phase: str):
        if phase not in made:
            model = GPT(GPTConfig(**meta["model_config"]))
            model.load_state_dict({k: v.float() for k, v in (state if phase == "rl" else flat).items()})
            model.eval()
            made[phase] = (model, tokenizer, Engine(model, tokenizer))
        return made[phase]

    return make


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): a longer per-test limit where pytest-timeout runs")
