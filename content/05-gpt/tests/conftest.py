"""Fixtures for module 5: the learner's ``nanochat.gpt`` and reference models to compare it with.

Every comparison copies the reference model's weights into the learner's model (``load_state_dict``), so the
learner's code is checked on identical parameters. Reference models get non-zero ``c_proj`` weights: with
nanochat's zero init every block would be the identity and hide attention/MLP bugs.
"""

import pytest

from grading.testkit import nontrivial_gpt
from nanochat_ref.gpt import GPT as RefGPT

SMALL = dict(sequence_len=16, vocab_size=100, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)


@pytest.fixture
def gpt(learner):
    """The learner's ``nanochat.gpt`` module (a proxy)."""
    return learner.module("nanochat.gpt")


def _ref_model(seed: int = 0, **overrides) -> RefGPT:
    return nontrivial_gpt({**SMALL, **overrides}, seed).eval()


@pytest.fixture
def ref_model():
    """``ref_model(seed=0, **config_overrides)``: a reference GPT with random, non-trivial weights."""
    return _ref_model


@pytest.fixture
def twin(gpt, ref_model):
    """``twin(**config_overrides) -> (learner_model, ref_model)`` with identical weights."""

    def make(seed: int = 0, **overrides):
        ref = ref_model(seed, **overrides)
        model = gpt.GPT(gpt.GPTConfig(**{**SMALL, **overrides}))
        model.load_state_dict(ref.state_dict())
        model.eval()
        return model, ref

    return make
