"""Fixtures for module 08: the same task file, tiny tokenizer, conversations and identity file on both sides.

Design choices:

- Task views: ``CustomJSON`` (the reference subclass, which builds on the learner's ``Task``) over the same JSONL
  file written on both sides; each row says which line it is, so a slicing error shows which example came.
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

from grading.testkit import env_vars, tokenizer_fixtures
from nanochat_ref.scripts import mid_train as ref_mid_train

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
TASK_ROWS = [
    [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    for i in range(10)
]
IDENTITY = [
    [{"role": "user", "content": f"Who are you? ({i})"}, {"role": "assistant", "content": "I am nanochat."}]
    for i in range(5)
]


@pytest.fixture
def mid(learner):
    """The learner's ``nanochat.scripts.mid_train`` module (a proxy)."""
    return learner.module("nanochat.scripts.mid_train")


@pytest.fixture
def tc(learner):
    """The learner's ``nanochat.tasks.common`` module (a proxy)."""
    return learner.module("nanochat.tasks.common")


@pytest.fixture
def view(learner, tmp_path):
    """``view(**slice)`` -> (learner CustomJSON view handle, reference view) over the same TASK_ROWS file."""
    from nanochat_ref.tasks.customjson import CustomJSON

    text = "".join(json.dumps(row) + "\n" for row in TASK_ROWS)
    learner_path = learner.module("os.path").join(
        learner.module("tempfile").mkdtemp(prefix="tasks-"), "rows.jsonl"
    )
    learner.module("pathlib").Path(learner_path).write_text(text)
    judge_path = tmp_path / "rows.jsonl"
    judge_path.write_text(text)

    def _make(**kwargs):
        task = learner.module("nanochat.tasks.customjson").CustomJSON(filepath=learner_path, **kwargs)
        return task, CustomJSON(filepath=str(judge_path), **kwargs)

    return _make


@pytest.fixture
def seq(learner):
    """``seq.len(handle)`` and ``seq.get(handle, i)``: len() and [i] evaluated in the learner's process."""
    builtins, operator = learner.module("builtins"), learner.module("operator")
    return SimpleNamespace(len=builtins.len, get=operator.getitem)


judge_tok, tok = tokenizer_fixtures(TEXTS, VOCAB_SIZE, probes=("Hello there!", "The capital of France is"))


@pytest.fixture
def base_dir(learner, tmp_path, monkeypatch):
    """Both sides' NANOCHAT_BASE_DIR holds the same identity_conversations.jsonl."""
    text = "".join(json.dumps(c) + "\n" for c in IDENTITY)
    (tmp_path / "identity_conversations.jsonl").write_text(text)
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(tmp_path))
    los = learner.module("os")
    folder = learner.module("tempfile").mkdtemp(prefix="mid-")
    learner.module("pathlib").Path(los.path.join(folder, "identity_conversations.jsonl")).write_text(text)
    with env_vars(los.environ, NANOCHAT_BASE_DIR=folder):
        yield folder


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
    return SimpleNamespace(CONVERSATIONS=CONVERSATIONS, IDENTITY=IDENTITY, TASK_ROWS=TASK_ROWS, conv=conv)


# --- step 5: the loop step and a run from the shipped base ----------------------------------------------------

_REF_RUNS: dict[tuple[str, ...], dict] = {}


@pytest.fixture
def stage_env(learner):
    """The learner's NANOCHAT_BASE_DIR: the shipped tokenizer and base checkpoint, and the identity rows."""
    from grading.testkit.stages import learner_stage_base

    return learner_stage_base(learner, ("base",))


@pytest.fixture(scope="session")
def judge_stage_base(tmp_path_factory):
    """The judge's copy of the same folder, for the reference's runs."""
    from grading.testkit import stages

    return stages.judge_stage_base(tmp_path_factory.mktemp("stage_base"), "base")


@pytest.fixture
def ref_mid_run(judge_stage_base):
    """``ref_mid_run(flags) -> summary``: nanochat's ``mid_train.main(flags)`` on the judge's copy, once per flags."""
    from grading.testkit import reference_at

    def run(flags: list[str]) -> dict:
        key = tuple(flags)
        if key not in _REF_RUNS:
            with reference_at(judge_stage_base):  # the learner keeps its own base dir
                _REF_RUNS[key] = ref_mid_train.main(list(flags))
        return _REF_RUNS[key]

    return run
