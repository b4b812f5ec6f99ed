"""Fixtures for module 16: the learner's ``identity_data`` module, its conversations, and file helpers.

Design choices:

- A learner writes their own generator, so generated conversations are checked by properties (format, the
  CustomJSON rules, determinism, diversity, facts from the learner's own ``KNOWLEDGE``), never against a fixed list.
- Validation and the JSONL file are checked against nanochat itself: the file the learner writes is read back as
  text, written under the judge's ``tmp_path`` and loaded with ``nanochat_ref.tasks.customjson.CustomJSON``.
- The reference lives in the module folder (``reference/identity_data.py``), which the judge does not import.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch  # noqa: F401  (imported at collection, as the judge warms it, so no timed test pays for it)

from grading.testkit import LearnerFiles


def conversation_problem(messages: object) -> str | None:
    """None if ``messages`` follows the rules below, else what is wrong (CustomJSON's rules plus the lab's)."""
    if not isinstance(messages, list) or len(messages) < 2:
        return "a conversation must be a list of at least 2 messages"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            return f"message {i} must be a dict with exactly role and content"
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected:
            return f"message {i} has role {m['role']!r}: roles must alternate starting with user"
        if not isinstance(m["content"], str) or not m["content"].strip():
            return f"message {i} content must be a non-empty string"
    if len(messages) % 2:
        return "the assistant must speak last (role alternation ends on assistant)"
    return None


def valid() -> list[dict]:
    return [
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "I am nanochat."},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome."},
    ]


@pytest.fixture
def idd(learner):
    """The learner's ``identity_data`` module (a proxy)."""
    return learner.module("identity_data")


@pytest.fixture
def lfs(learner):
    """File helpers in the learner's process: ``tmpfile(name)``, ``read(path)``, ``exists(path)``."""
    return LearnerFiles(learner, prefix="identity-", filename="identity.jsonl")


@pytest.fixture(scope="session")
def cd():
    return SimpleNamespace(conversation_problem=conversation_problem, valid=valid)


# --- steps 4-7: the orchestration script (``nanochat/scripts/capstone.py``) --------------------------------------

#: Probes of the unit tests (the learner's ``PROBES`` drive the runs); the first equals a generator question.
PROBES = [
    {"question": "Who are you?", "fact": "name", "expect": "nanochat"},
    {"question": "Which person made you?", "fact": "creator", "expect": "Karpathy"},
    {"question": "Under which license is your code released?", "fact": "license", "expect": "MIT"},
]


def normalized(text: str) -> str:
    """The judge's own ``normalize``: lowercase, runs of non-alphanumerics -> one space, stripped."""
    import re

    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@pytest.fixture
def cap(learner):
    """The learner's ``nanochat.scripts.capstone`` module (a proxy)."""
    return learner.module("nanochat.scripts.capstone")


@pytest.fixture
def stage_env(learner):
    """The learner's NANOCHAT_BASE_DIR: the shipped tokenizer and SFT checkpoint (the capstone starts from SFT)."""
    from grading.testkit.stages import learner_stage_base

    return learner_stage_base(learner, ("sft",))


@pytest.fixture(scope="session")
def judge_sft():
    """The judge's copy of the shipped SFT model: ``(model, tokenizer, meta)``."""
    from grading.testkit.stages import shipped_model

    return shipped_model("sft")


@pytest.fixture
def learner_sft(learner, judge_sft, stage_env):
    """The same SFT model and the shipped tokenizer in the learner's process (handles)."""
    gpt = learner.module("nanochat.gpt")
    model = gpt.GPT(gpt.GPTConfig(**judge_sft[2]["model_config"]))
    model.load_state_dict(judge_sft[0].state_dict())
    model.eval()
    tokenizer = learner.module("nanochat.tokenizer").get_tokenizer()  # the shipped one, under stage_env
    return model, tokenizer


@pytest.fixture(scope="session")
def capd():
    return SimpleNamespace(PROBES=PROBES, normalized=normalized)
