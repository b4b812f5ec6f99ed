"""Fixtures for module 11: the same tiny tokenizer and the same tiny GPT weights on both sides.

Design choices:

- The tokenizer is trained on both sides with the deterministic pure-Python BPE trainer (< 1 s) and checked to
  agree; the GPT is trained briefly in the judge (so its predictions depend on the context) and its state dict
  is loaded into a learner-side GPT.
- Work is counted, never timed: ``engine_probe.py`` (test code) is copied into the learner's process and wraps
  the model there, so a test sees every forward call the learner's ``Engine`` makes and its ``(B, T)``. The
  judge loads the same file for the reference, so both sides run one probe.
- Sampling is compared draw for draw: both sides seed a ``torch.Generator`` identically, and the judge and the
  learner run the same torch build.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from grading.testkit import tokenizer_fixtures, trained_tiny_gpt

# torch.testing.assert_close imports sympy on its first call, which takes seconds on a busy machine: do it while
# collecting, outside every test's time limit.
torch.testing.assert_close(torch.zeros(1), torch.zeros(1))

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


judge_tok, tok = tokenizer_fixtures(TEXTS, VOCAB_SIZE, probes=("Hello there!", "The capital of France is"))


@pytest.fixture(scope="session")
def judge_model(judge_tok):
    """A tiny GPT trained for 30 steps on TEXTS (~3 s): its next token depends on the context, so a decode step
    that forgets the KV cache shows (a random GPT mostly echoes the current token)."""
    return trained_tiny_gpt(MODEL, judge_tok, TEXTS[:2])


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


PROBE_FILE = Path(__file__).with_name("engine_probe.py")


@pytest.fixture(scope="session")
def judge_probe():
    """``engine_probe`` loaded in the judge, for the reference's side of a comparison."""
    spec = importlib.util.spec_from_file_location("lab_engine_probe", PROBE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def probe(learner):
    """``engine_probe`` loaded in the learner's process (a proxy): its wrappers count the learner's forward calls."""
    folder = learner.module("tempfile").mkdtemp(prefix="probe-")
    path = learner.module("os.path").join(folder, "lab_engine_probe.py")
    learner.module("pathlib").Path(path).write_text(PROBE_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    learner.module("sys").path.insert(0, folder)
    return learner.module("lab_engine_probe")
