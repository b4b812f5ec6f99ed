"""Fixtures for module 08: the same tiny tokenizer, the same conversations and the same identity file on both sides.

Design choices:

- The tokenizer is trained on both sides with the deterministic pure-Python BPE trainer (< 1 s) and checked to
  agree, so rendered conversations are identical in the judge and in the learner.
- ``mid_mixture`` reads ``<base_dir>/identity_conversations.jsonl``: the ``base_dir`` fixture writes the same
  small identity file in a learner-side temp folder and in the judge's ``tmp_path`` and points
  ``NANOCHAT_BASE_DIR`` at them (the learner's environment is restored afterwards).
- The generator's ``state`` must be a dict the judge can read after each step: a ``collections.UserDict`` made in
  the learner process stays there as a handle (a plain dict would be copied into the learner and lost).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from nanochat_ref.tokenizer import RustBPETokenizer

TEXTS = [
    "Hello! How are you today? I am fine, thank you.",
    "What is 2 plus 3? The answer is 5. The capital of France is Paris.",
] * 5
VOCAB_SIZE = 300


def conv(*turns: str) -> dict:
    roles = ["user", "assistant"]
    return {"messages": [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]}


CONVERSATIONS = [
    conv("Hello!", "Hi, how are you?"),
    conv("What is 2 plus 3?", "The answer is 5."),
    conv("Capital of France?", "Paris.", "Thank you!", "You are welcome."),
    conv("How are you today?", "I am fine, thank you."),
    conv("Hi", "Hello! How are you today? I am fine."),
]
IDENTITY = [
    [{"role": "user", "content": f"Who are you? ({i})"}, {"role": "assistant", "content": "I am nanochat."}]
    for i in range(5)
]


@pytest.fixture
def mid(learner):
    """The learner's ``nanochat.scripts.mid_train`` module (a proxy)."""
    return learner.module("nanochat.scripts.mid_train")


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


@pytest.fixture
def base_dir(learner, tmp_path, monkeypatch):
    """Both sides' NANOCHAT_BASE_DIR holds the same identity_conversations.jsonl."""
    text = "".join(json.dumps(c) + "\n" for c in IDENTITY)
    (tmp_path / "identity_conversations.jsonl").write_text(text)
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(tmp_path))
    los = learner.module("os")
    folder = learner.module("tempfile").mkdtemp(prefix="mid-")
    learner.module("pathlib").Path(los.path.join(folder, "identity_conversations.jsonl")).write_text(text)
    old = los.environ.get("NANOCHAT_BASE_DIR")
    los.environ.update({"NANOCHAT_BASE_DIR": folder})
    yield folder
    if old is None:
        los.environ.pop("NANOCHAT_BASE_DIR", None)
    else:
        los.environ.update({"NANOCHAT_BASE_DIR": old})


@pytest.fixture
def lnext(learner):
    """``lnext(gen)`` steps a learner-side generator (handle) once and returns the item."""
    builtins = learner.module("builtins")
    return lambda gen: builtins.next(gen)


@pytest.fixture
def lstate(learner):
    """``lstate()`` makes an empty learner-side dict-like state (a handle); read it with ``learner.value(s.data)``."""
    return lambda: learner.module("collections").UserDict()


@pytest.fixture(scope="session")
def md():
    """The data above, for the test files (they do not import conftest)."""
    return SimpleNamespace(CONVERSATIONS=CONVERSATIONS, IDENTITY=IDENTITY, conv=conv)
