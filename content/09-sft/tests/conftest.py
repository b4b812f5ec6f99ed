"""Fixtures for module 09: the same tiny tokenizer and the same conversations on both sides.

Design choices:

- The tokenizer is trained on both sides with the deterministic pure-Python BPE trainer (< 1 s) and checked to
  agree, so rendered conversations (ids and masks) are identical in the judge and in the learner.
- Conversations are plain dicts (data), so the learner's ``sft_data_generator`` gets a plain list as its dataset;
  the generator stays in the learner process and the judge steps it with the learner's ``builtins.next``.
- ``set_lr`` is tested on ``types.SimpleNamespace(param_groups=[...])`` objects built in the learner: it only
  needs ``param_groups``, and no tensors have to travel.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grading.testkit import tokenizer_fixtures

TEXTS = [
    "Hello! How are you today? I am fine, thank you.",
    "What is 2 plus 3? The answer is 5. The capital of France is Paris.",
] * 5
VOCAB_SIZE = 300


def conv(*turns: str) -> dict:
    """A conversation alternating user / assistant, starting with the user."""
    roles = ["user", "assistant"]
    return {"messages": [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]}


CONVERSATIONS = [
    conv("Hello!", "Hi, how are you?"),
    conv("What is 2 plus 3?", "The answer is 5."),
    conv("Capital of France?", "Paris.", "Thank you!", "You are welcome."),
    conv("How are you today?", "I am fine, thank you."),
    conv("Hi", "Hello! How are you today? I am fine."),
    conv("Is the answer 5?", "Yes."),
    conv("Tell me the capital of France.", "The capital of France is Paris."),
]


@pytest.fixture
def sft(learner):
    """The learner's ``nanochat.scripts.chat_sft`` module (a proxy)."""
    return learner.module("nanochat.scripts.chat_sft")


judge_tok, tok = tokenizer_fixtures(TEXTS, VOCAB_SIZE, probes=("Hello there!", "The capital of France is"))


@pytest.fixture
def lnext(learner):
    """``lnext(gen)`` steps a learner-side generator (handle) once and returns the item."""
    builtins = learner.module("builtins")
    return lambda gen: builtins.next(gen)


@pytest.fixture(scope="session")
def sd():
    """The data above, for the test files (they do not import conftest)."""
    return SimpleNamespace(CONVERSATIONS=CONVERSATIONS, conv=conv)


# --- step 4: the loop step and a run from the shipped mid checkpoint ------------------------------------------

_REF_RUNS: dict[tuple[str, ...], dict] = {}


@pytest.fixture
def stage_env(learner):
    """The learner's NANOCHAT_BASE_DIR: the shipped tokenizer and mid checkpoint, and the identity rows."""
    from grading.testkit.stages import learner_stage_base

    return learner_stage_base(learner, ("mid",))


@pytest.fixture(scope="session")
def judge_stage_base(tmp_path_factory):
    """The judge's copy of the same folder, for the reference's runs."""
    from grading.testkit import stages

    return stages.judge_stage_base(tmp_path_factory.mktemp("stage_base"), "mid")


@pytest.fixture
def ref_sft_run(judge_stage_base):
    """``ref_sft_run(flags) -> summary``: nanochat's ``chat_sft.main(flags)`` on the judge's copy, once per flags."""
    from grading.testkit import reference_at
    from nanochat_ref.scripts import chat_sft

    def run(flags: list[str]) -> dict:
        key = tuple(flags)
        if key not in _REF_RUNS:
            with reference_at(judge_stage_base):  # the learner keeps its own base dir
                _REF_RUNS[key] = chat_sft.main(list(flags))
        return _REF_RUNS[key]

    return run
