"""Efficient inference: a KV cache, batched sampling and the calculator tool state machine (nanochat `engine.py`, C).

Design choices:

- `KVCache` keeps one tensor `(num_layers, 2, B, H_kv, T, head_dim)` (index 0 = K, 1 = V), allocated lazily on the
  first `insert_kv` with that call's dtype/device (so it follows autocast). `insert_kv` writes positions
  `[pos, pos + T_add)` and returns views up to `pos + T_add`; `pos` advances only after the *last* layer inserted.
  When it runs out of room it grows along T to the next multiple of 1024 with at least 1024 spare (a `cat` along
  dim 4, which keeps the layout intact; the launch version's resize scrambled it, PR #186).
- `Engine.generate` prefills the prompt **once** at batch 1, then copies that cache into a `num_samples`-row decode
  cache (`KVCache.prefill`), so N samples of one prompt cost one prompt forward pass. Each step feeds only the new
  `(B, 1)` column through the model.
- Sampling (`sample_next_token`): temperature 0 is argmax; otherwise optional top-k, then optional top-p
  (nucleus; an addition to C, off by default), softmax of `logits / temperature` and a draw from a seeded
  `torch.Generator`, so generation is reproducible.
- Tool use: each row runs a small state machine. `<|python_start|>` opens a block, tokens are collected until
  `<|python_end|>`, the text goes to `use_calculator`, and the result is queued as *forced* tokens
  `<|output_start|> result <|output_end|>` which are emitted over the next steps with mask 0 (RL never trains on
  them; the model sees them in its context). A row completes on `<|assistant_end|>` or `<|bos|>`.
- `use_calculator` only accepts plain arithmetic (no `**`) or a string `.count(` call, after a deny-list of names;
  `eval_with_timeout` evaluates with empty builtins under a SIGALRM timeout (main thread only; elsewhere, e.g.
  in a web server's worker thread, the restricted grammar is what bounds the cost).
"""

from __future__ import annotations

import signal
import threading
from collections import deque
from contextlib import contextmanager

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------------------------
# Calculator tool


@contextmanager
def timeout(duration: float, formula: str):
    """Raise an exception if the block runs longer than `duration` seconds (SIGALRM; main thread only)."""

    def handler(signum, frame):
        raise TimeoutError(f"'{formula}': timed out after {duration} seconds")

    if threading.current_thread() is not threading.main_thread():
        yield  # signals only work in the main thread
        return
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, duration)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def eval_with_timeout(formula: str, max_time: float = 3):
    """Evaluate `formula` with empty builtins and locals; None on any error or timeout."""
    try:
        with timeout(max_time, formula):
            return eval(formula, {"__builtins__": {}}, {})  # noqa: S307 - restricted by use_calculator
    except Exception:  # noqa: BLE001 - any failure means "no result"
        return None


DANGEROUS_PATTERNS = [
    "__", "import", "exec", "eval", "compile", "open", "file", "input", "raw_input", "globals", "locals",
    "vars", "dir", "getattr", "setattr", "delattr", "hasattr",
]  # fmt: skip


def use_calculator(expr: str):
    """Evaluate a calculator expression written by the model: arithmetic, or a string `.count()` call."""
    expr = expr.replace(",", "")
    if all(c in "0123456789*+-/.() " for c in expr):
        if "**" in expr:  # power can make astronomically large numbers
            return None
        return eval_with_timeout(expr)
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'\"()._ ")
    if not all(c in allowed for c in expr):
        return None
    lowered = expr.lower()
    if any(p in lowered for p in DANGEROUS_PATTERNS):
        return None
    if ".count(" not in expr:
        return None
    return eval_with_timeout(expr)


# ----------------------------------------------------------------------------------------------------------------
# KV cache


class KVCache:
    """Keys/values of every layer, `(num_layers, 2, B, H_kv, T, head_dim)`, plus the current position."""

    def __init__(self, batch_size: int, num_heads: int, seq_len: int, head_dim: int, num_layers: int):
        self.kv_shape = (num_layers, 2, batch_size, num_heads, seq_len, head_dim)
        self.kv_cache: torch.Tensor | None = None
        self.pos = 0

    def reset(self) -> None:
        self.pos = 0

    def get_pos(self) -> int:
        return self.pos

    def prefill(self, other: KVCache) -> None:
        """Copy a (batch-1 or same-batch) cache into this empty one, broadcasting over the batch.

        Assert that this cache is empty and ``other`` is not; that layers, k/v, heads and head_dim match; that the
        batch is equal or ``other``'s is 1; and that this cache's T can hold ``other.pos`` positions. Then allocate
        ``self.kv_shape`` with ``other``'s dtype/device, copy positions ``[0, other.pos)`` and take over its pos.
        """
        raise NotImplementedError("TODO(step 1): copy another cache's first pos positions, broadcasting the batch")

    def insert_kv(self, layer_idx: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v `(B, H_kv, T_add, D)` at `[pos, pos+T_add)`; return views `(B, H_kv, pos+T_add, D)`.

        Allocate ``kv_shape`` lazily on the first call with k's dtype and device. If ``pos + T_add`` exceeds the
        cache's T, grow along T (dim 4, with ``torch.cat``) to ``pos + T_add + 1024`` rounded up to a multiple of
        1024, and update ``kv_shape``. Write k at ``[layer_idx, 0]`` and v at ``[layer_idx, 1]``; only the last
        layer advances ``pos``.
        """
        raise NotImplementedError("TODO(step 1): write k, v at [pos, pos+T_add), grow if needed, return the views")


# ----------------------------------------------------------------------------------------------------------------
# Sampling


@torch.inference_mode()
def sample_next_token(
    logits: torch.Tensor,
    rng: torch.Generator | None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Sample one token per row from logits `(B, V)`; returns `(B, 1)` token ids.

    Assert temperature >= 0. Temperature 0: the argmax. Otherwise, with ``top_k`` (> 0): keep the
    ``min(top_k, V)`` largest logits (``torch.topk``); else with ``top_p`` (< 1): sort all logits descending;
    else: softmax of ``logits / temperature`` and ``torch.multinomial(probs, 1, generator=rng)``. For the kept
    values: softmax of ``vals / temperature``; with top_p keep the smallest prefix whose cumulative probability
    (before each token) is below top_p, renormalise; draw with ``torch.multinomial(..., generator=rng)`` and map
    the choice back to token ids with ``idx.gather``.
    """
    raise NotImplementedError("TODO(step 2): greedy, top-k / top-p filtering, then a seeded multinomial draw")


# ----------------------------------------------------------------------------------------------------------------
# Engine


class RowState:
    """Per-row generation state: tokens so far, queued forced tokens, and the python-block buffer."""

    def __init__(self, current_tokens: list[int] | None = None):
        self.current_tokens = current_tokens or []
        self.forced_tokens: deque[int] = deque()
        self.in_python_block = False
        self.python_expr_tokens: list[int] = []
        self.completed = False


class Engine:
    """Batched, KV-cached generation with the calculator tool, for a `GPT` and a nanochat tokenizer."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer

    @torch.inference_mode()
    def generate(
        self,
        tokens: list[int],
        num_samples: int = 1,
        max_tokens: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int = 42,
        top_p: float | None = None,
    ):
        """Yield `(token_column, token_masks)` per step: one token per sample row, mask 0 for forced tokens.

        1. A ``torch.Generator`` on the model's device, seeded with ``seed``.
        2. Prefill: run the prompt ``(1, T)`` once through ``self.model.forward(ids, kv_cache=...)`` with a batch-1
           KVCache (seq_len = len(tokens)); the last position's logits, expanded to ``(num_samples, V)``.
        3. A decode KVCache of batch ``num_samples`` (seq_len = len(tokens) + max_tokens, or the model's
           sequence_len) filled with ``prefill``.
        4. Loop: stop after ``max_tokens`` steps or when every ``RowState`` is completed; sample with
           ``sample_next_token``; per row, a queued forced token (mask 0) replaces the sample (mask 1); update the
           row's ``RowState``: ``<|assistant_end|>``/``<|bos|>`` complete it; ``<|python_start|>`` opens a block
           (clear the buffer), tokens inside are collected, ``<|python_end|>`` closes it and, when
           ``use_calculator(decoded buffer)`` is not None, queues ``<|output_start|>``, the encoded
           ``str(result)`` and ``<|output_end|>`` as forced tokens (module 12 is about this part); yield the
           column and masks; feed the column ``(B, 1)`` through the model with the decode cache.
        """
        raise NotImplementedError("TODO(step 3): prefill once, then sample, yield and feed back one column per step")
        yield  # unreachable: keeps this method a generator, as the real one is

    def generate_batch(self, tokens: list[int], num_samples: int = 1, **kwargs):
        """Run `generate` to completion; return `(results, masks)`, token lists that include the prompt.

        Terminal tokens (`<|assistant_end|>`, `<|bos|>`) are not included in the results.
        """
        assistant_end = self.tokenizer.encode_special("<|assistant_end|>")
        bos = self.tokenizer.get_bos_token_id()
        results = [tokens.copy() for _ in range(num_samples)]
        masks = [[0] * len(tokens) for _ in range(num_samples)]
        completed = [False] * num_samples
        for token_column, token_masks in self.generate(tokens, num_samples, **kwargs):
            for i, (token, mask) in enumerate(zip(token_column, token_masks)):
                if not completed[i]:
                    if token == assistant_end or token == bos:
                        completed[i] = True
                    else:
                        results[i].append(token)
                        masks[i].append(mask)
            if all(completed):
                break
        return results, masks
