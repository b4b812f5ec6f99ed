"""Fixtures for module 12: a scripted model, the same tiny tokenizer on both sides, and helpers.

Design choices:

- The tool state machine only reacts to GENERATED tokens, and a random model never writes
  ``<|python_start|> 3+4 <|python_end|>``. So the tests use ``ScriptedModel`` (source below): a stand-in for
  ``GPT`` whose forward pass fills the KV cache with zeros and returns logits that make greedy sampling
  (temperature 0) pick the next token of a script, moving on only once that token was emitted. The same source is written into the learner's temp folder
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
    """Greedy sampling from its logits proposes ``script[p]``; ``p`` moves on once ``script[p]`` was fed back.

    So while the engine forces tokens the model keeps proposing the same one, as a real model is overruled, and a
    script is the reply as the model writes it, without the forced output spans.
    """

    def __init__(self, script, vocab_size):
        self.script = list(script)
        self.vocab_size = vocab_size
        self.pos = 0
        self.seen = []  # the token ids of every forward call, to check what the engine feeds back
        self.config = SimpleNamespace(n_layer=1, n_head=1, n_kv_head=1, n_embd=4, sequence_len=256)

    def get_device(self):
        return torch.device("cpu")

    def forward(self, ids, kv_cache=None):
        B, T = ids.shape
        self.seen.append(ids.tolist())
        if kv_cache is not None:
            zeros = torch.zeros(B, 1, T, 4)
            kv_cache.insert_kv(0, zeros, zeros)
        if T == 1 and self.pos < len(self.script) and int(ids[0, 0]) == self.script[self.pos]:
            self.pos += 1  # its proposal was emitted
        token = self.script[min(self.pos, len(self.script) - 1)]
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
SPECIALS = (
    "<|bos|>", "<|python_start|>", "<|python_end|>", "<|output_start|>", "<|output_end|>", "<|assistant_end|>",
)  # fmt: skip
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
    of ``generate``; defaults: temperature 0, max_tokens 40. After a run, ``run_both.inputs`` holds what each
    model was fed, ``(learner's, reference's)``: one list of token-id rows per forward call.
    """
    from nanochat_ref.engine import Engine as RefEngine

    def _run(script, prompt_text="The answer is", **kwargs):
        kwargs = {"temperature": 0.0, "max_tokens": 40, **kwargs}
        prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode(prompt_text)]
        model = learner_scripted(script, VOCAB_SIZE)
        engine = learner.module("nanochat.engine").Engine(model, tok)
        got = learner.module("builtins").list(engine.generate(prompt, **kwargs))
        ref_model = judge_scripted(script, VOCAB_SIZE)
        expected = list(RefEngine(ref_model, judge_tok).generate(prompt, **kwargs))
        _run.inputs = (learner.value(model.seen), ref_model.seen)
        return [[list(c), list(m)] for c, m in got], [[list(c), list(m)] for c, m in expected]

    _run.inputs = ([], [])
    return _run


@pytest.fixture
def show(judge_tok):
    """``show(steps)`` -> the steps as text a learner can read: ``[<|python_start|>] [1]`` per step."""

    def name(token) -> str:
        for special in SPECIALS:
            if token == judge_tok.encode_special(special):
                return special
        return repr(judge_tok.decode([token])) if isinstance(token, int) else repr(token)

    def _show(steps) -> str:
        return (
            ", ".join(f"[{' '.join(name(t) for t in column)}]{masks}" for column, masks in steps) or "(none)"
        )

    return _show


@pytest.fixture
def same_steps(show):
    """``same_steps(got, expected, cause)``: assert equal steps; else name the first different step and the cause."""

    def _check(got, expected, cause: str, what: str = "Engine.generate") -> None:
        if got == expected:
            return
        k = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
        first = (
            f"step {k}: expected {show(expected[k : k + 1])}, got {show(got[k : k + 1])}"
            if k < min(len(got), len(expected))
            else f"{len(got)} steps where {len(expected)} were expected"
        )
        raise AssertionError(
            f"{what} yielded different (column, masks) steps; the first difference is {first}.\n"
            f"Expected: {show(expected)}\nGot:      {show(got)}\nLikely cause: {cause} (step 2: the tool state machine)"
        )

    return _check


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


@pytest.fixture
def same_result():
    """``same_result(got, expected, what, cause)``: each field of ``expected`` (a subset of the six) must match."""

    def _check(got: dict, expected: dict, what: str, cause: str) -> None:
        wrong = {k: v for k, v in expected.items() if got.get(k) != v}
        if wrong:
            fields = ", ".join(f"{k}={got.get(k)!r} (expected {v!r})" for k, v in wrong.items())
            raise AssertionError(
                f"{what}: {fields}.\nWhole result: {got}\nLikely cause: {cause} (step 3: execute_code)"
            )

    return _check


@pytest.fixture
def process_alive(learner):
    """``process_alive(pid)``: whether process ``pid`` still runs in the learner's machine (a zombie is dead).

    Waits up to 2 s for a process that was just sent SIGKILL to be gone.
    """
    import time

    os_path = learner.module("os.path")
    path_cls = learner.module("pathlib").Path

    def _alive(pid: int) -> bool:
        for _ in range(40):
            stat = f"/proc/{int(pid)}/stat"
            if not os_path.exists(stat):
                return False
            try:
                state = str(path_cls(stat).read_text()).rsplit(")", 1)[1].split()[0]
            except Exception:  # gone between the two calls
                return False
            if state in ("Z", "X"):
                return False
            time.sleep(0.05)
        return True

    return _alive


@pytest.fixture
def scratch(learner):
    """A folder of the learner's machine, outside the temporary folder the executed code runs in."""
    return str(learner.module("tempfile").mkdtemp(prefix="exec-scratch-"))
