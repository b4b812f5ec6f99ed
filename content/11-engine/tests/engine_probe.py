"""Probes for module 11's tests: loaded into the learner's process (and into the judge, for the reference).

This is test code, not learner code. The tests copy this file into the learner's process and import it there, so
the work the learner's ``Engine`` asks of the model (how many forward calls, of which ``(B, T)`` shape) is counted
where it happens, and timings are taken without the judge's round trips. Timings are only charted, never graded.

- ``CountingModel`` wraps a GPT and records the shape of every input it is given.
- ``ScriptedModel`` stands in for a GPT whose next token is scripted per row and step, so the tests can make
  rows end on ``<|assistant_end|>`` or ``<|bos|>`` at chosen steps. It writes zeros into the KV cache it is given
  (as a GPT's layers would), so an engine's cache bookkeeping runs as with a real model.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import torch


class CountingModel:
    """A GPT wrapper that records the ``[B, T]`` of every forward call."""

    def __init__(self, model):
        self.model = model
        self.config = model.config
        self.shapes: list[list[int]] = []

    def get_device(self):
        return self.model.get_device()

    def forward(self, idx, *args, **kwargs):
        self.shapes.append([int(n) for n in idx.shape])
        return self.model.forward(idx, *args, **kwargs)

    __call__ = forward


class ScriptedModel:
    """A stand-in GPT: at step ``s`` (the ``s``-th generated token) row ``r`` predicts ``script[r][s]``.

    Rows are read modulo ``len(script)``; past its end a row repeats its last token. The prefill (batch 1) predicts
    row 0's first token, which every row then samples, so all rows of a script share their first token.
    """

    def __init__(self, vocab_size: int, prompt_len: int, script: list[list[int]]):
        self.config = SimpleNamespace(
            sequence_len=64, vocab_size=vocab_size, n_layer=2, n_head=2, n_kv_head=1, n_embd=4
        )
        self.prompt_len = prompt_len
        self.script = script

    def get_device(self):
        return torch.device("cpu")

    def forward(self, idx, targets=None, kv_cache=None, *args, **kwargs):
        B, T = (int(n) for n in idx.shape)
        pos = 0
        if kv_cache is not None:
            pos = kv_cache.get_pos()
            c = self.config
            zeros = torch.zeros(B, c.n_kv_head, T, c.n_embd // c.n_head)
            for layer in range(c.n_layer):
                kv_cache.insert_kv(layer, zeros, zeros)
        step = pos + T - self.prompt_len
        logits = torch.zeros(B, T, self.config.vocab_size)
        for r in range(B):
            row = self.script[r % len(self.script)]
            logits[r, -1, row[step if step < len(row) else len(row) - 1]] = 100.0
        return logits

    __call__ = forward


def run_generate(engine_cls, model, tokenizer, prompt, **kwargs):
    """Run ``engine_cls(model, tokenizer).generate`` to the end, counting the model's work."""
    counting = CountingModel(model)
    t0 = time.perf_counter()
    steps = [
        [list(column), list(masks)]
        for column, masks in engine_cls(counting, tokenizer).generate(prompt, **kwargs)
    ]
    return {"steps": steps, "shapes": counting.shapes, "seconds": time.perf_counter() - t0}


def run_uncached_greedy(model, prompt, max_tokens):
    """Greedy generation with no cache: the whole sequence goes through the model for every new token."""
    counting = CountingModel(model)
    ids = list(prompt)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for _ in range(max_tokens):
            logits = counting.forward(torch.tensor([ids], dtype=torch.long))
            ids.append(int(logits[0, -1].argmax()))
    return {"tokens": ids[len(prompt) :], "shapes": counting.shapes, "seconds": time.perf_counter() - t0}


def scripted_model(vocab_size, prompt_len, script):
    return ScriptedModel(vocab_size, prompt_len, script)
