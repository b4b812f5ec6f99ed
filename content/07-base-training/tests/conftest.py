"""Fixtures for module 7: tiny data on both sides, learner-side models, and helpers to run learner code.

As in module 4, the learner's process and the judge each build the same tiny shards and tokenizer with the
reference ``make_shards`` / ``tok_train`` (deterministic, Python documentation prose only), so the judge can
run the reference on its own copy and compare numbers.
"""

import pytest
import torch._dynamo  # noqa: F401  (the optimizers import it lazily, with sympy: do it once, outside any test's deadline)

from grading.testkit import TINY_VOCAB_SIZE, base_data_fixtures, learner_base_data, nontrivial_gpt

SMALL = dict(sequence_len=16, vocab_size=TINY_VOCAB_SIZE, n_layer=2, n_head=2, n_kv_head=1, n_embd=32)


judge_base, ref_env = base_data_fixtures()


@pytest.fixture
def learner_env(learner):
    """Build the data once in the learner's process and point NANOCHAT_BASE_DIR at it; returns the folder."""
    return learner_base_data(learner)


@pytest.fixture
def learner_tmp(learner):
    """A fresh empty folder in the learner's process."""
    return learner.module("tempfile").mkdtemp(prefix="ckpt-")


@pytest.fixture
def twin_model(learner):
    """``twin_model(seed) -> (learner_side_model, judge_side_model)``: the reference GPT on both sides, same weights.

    The learner-side model is nanochat's own GPT (module 5's file is the reference in this workspace).
    """
    gpt = learner.module("nanochat.gpt")

    def make(seed: int = 0):
        ref = nontrivial_gpt(SMALL, seed)
        model = gpt.GPT(gpt.GPTConfig(**SMALL))
        model.load_state_dict(ref.state_dict())
        return model, ref

    return make


_REF_RUNS: dict[tuple[str, ...], dict] = {}


@pytest.fixture
def ref_run(ref_env):
    """``ref_run(flags) -> summary``: nanochat's ``main(flags)`` on the judge's data, run once per flag list.

    The reference is deterministic, so one run serves every learner graded in this process; a list of flag lists
    runs them in order (a run and then its resume) and returns the last summary.
    """
    from nanochat_ref.scripts import base_train

    def run(*runs: list[str]) -> dict:
        key = tuple("\0".join(flags) for flags in runs)
        if key not in _REF_RUNS:
            summary: dict = {}
            for flags in runs:
                summary = base_train.main(list(flags))
            _REF_RUNS[key] = summary
        return _REF_RUNS[key]

    return run
