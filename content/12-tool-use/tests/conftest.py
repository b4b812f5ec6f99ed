"""Fixtures for module 12: a scripted model, the same tiny tokenizer on both sides, and helpers.

Design choices:

- The tool state machine only reacts to GENERATED tokens, and a random model never writes
  ``<|python_start|> 3+4 <|python_end|>``. So the tests use ``ScriptedModel`` (source below): a stand-in for
  ``GPT`` whose forward pass fills the KV cache with zeros and returns logits that make greedy sampling
  (temperature 0) pick the next token of a script. The same source is written into the learner's temp folder
  (and imported there) and executed in the judge, so both engines run the identical model.
- The tokenizer is trained on both sides with the deterministic pure-Python BPE trainer and checked to agree.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grading.testkit import tokenizer_fixtures

SCRIPTED_MODEL = '''
import torch
from types import SimpleNamespace


class ScriptedModel:
    """Greedy sampling from its logits yields ``script[k]`` at the k-th forward call (then the last token)."""

    def __init__(self, script, vocab_size):
        self.script = list(script)
        self.vocab_size = vocab_size
        self.calls = 0
        self.config = SimpleNamespace(n_layer=1, n_head=1, n_kv_head=1, n_embd=4, sequence_len=256)

    def get_device(self):
        return torch.device("cpu")

    def forward(self, ids, kv_cache=None):
        B, T = ids.shape
        if kv_cache is not None:
            zeros = torch.zeros(B, 1, T, 4)
            kv_cache.insert_kv(0, zeros, zeros)
        token = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        logits = torch.full((B, T, self.vocab_size), -100.0)
        logits[:, :, token] = 100.0
        return logits

    __call__ = forward
'''

TEXTS = [
    "The answer is 7. Three plus four is seven; 12 times 12 is 144.",
    "How many r are in strawberry? Let me count: 'strawberry'.count('r') gives 3.",
    "print(sum(range(10))) and 1,000 + 2,000 = 3,000",
] * 5
VOCAB_SIZE = 300
_LEARNER_MODULE: dict[str, object] = {}


judge_tok, tok = tokenizer_fixtures(TEXTS, VOCAB_SIZE, probes=("3+4", "'strawberry'.count('r')", "144"))


@pytest.fixture(scope="session")
def judge_scripted():
    namespace: dict = {}
    exec(SCRIPTED_MODEL, namespace)  # our own test double
    return namespace["ScriptedModel"]


@pytest.fixture
def learner_scripted(learner):
    """``ScriptedModel`` imported in the learner's process from a file written there."""
    os_path = learner.module("os.path")
    folder = _LEARNER_MODULE.get("folder")
    if folder is None or not os_path.isdir(folder):
        folder = learner.module("tempfile").mkdtemp(prefix="scripted-")
        learner.module("pathlib").Path(os_path.join(folder, "scripted_model.py")).write_text(SCRIPTED_MODEL)
        learner.module("sys").path.insert(0, folder)
        _LEARNER_MODULE["folder"] = folder
    return learner.module("scripted_model").ScriptedModel


@pytest.fixture
def run_both(learner, tok, judge_tok, learner_scripted, judge_scripted):
    """``run_both(script, prompt_text, **generate_kwargs)`` -> (learner steps, reference steps).

    Each side builds an ``Engine`` over a fresh ``ScriptedModel(script)`` and lists every ``(column, masks)`` item
    of ``generate``; defaults: temperature 0, max_tokens 40.
    """
    from nanochat_ref.engine import Engine as RefEngine

    def _run(script, prompt_text="The answer is", **kwargs):
        kwargs = {"temperature": 0.0, "max_tokens": 40, **kwargs}
        prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode(prompt_text)]
        engine = learner.module("nanochat.engine").Engine(learner_scripted(script, VOCAB_SIZE), tok)
        got = learner.module("builtins").list(engine.generate(prompt, **kwargs))
        expected = list(RefEngine(judge_scripted(script, VOCAB_SIZE), judge_tok).generate(prompt, **kwargs))
        return [[list(c), list(m)] for c, m in got], [[list(c), list(m)] for c, m in expected]

    return _run


@pytest.fixture
def spec(judge_tok):
    """Token helpers: ``spec.s(name)`` special id, ``spec.e(text)`` ids, ``spec.call(expr)`` a tool-call script."""

    def s(name: str) -> int:
        return judge_tok.encode_special(f"<|{name}|>")

    def call(expr: str) -> list[int]:
        return [s("python_start"), *judge_tok.encode(expr), s("python_end")]

    return SimpleNamespace(s=s, e=judge_tok.encode, call=call)


@pytest.fixture
def result_fields(learner):
    """``result_fields(handle)`` -> the six fields of a learner ``ExecutionResult`` as a dict."""

    def _fields(result) -> dict:
        names = ("success", "stdout", "stderr", "error", "timeout", "memory_exceeded")
        return {name: learner.value(getattr(result, name)) for name in names}

    return _fields
