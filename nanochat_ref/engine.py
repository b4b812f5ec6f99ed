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
    except Exception:  # any failure means "no result"
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
        """Copy a (batch-1 or same-batch) cache into this empty one, broadcasting over the batch."""
        assert self.kv_cache is None, "Cannot prefill a non-empty KV cache"
        assert other.kv_cache is not None, "Cannot prefill with an empty KV cache"
        for ix, (mine, theirs) in enumerate(zip(self.kv_shape, other.kv_shape)):
            if ix in (0, 1, 3, 5):  # layers, k/v, heads, head_dim must match
                assert mine == theirs, f"dim {ix} mismatch: {mine} != {theirs}"
            elif ix == 2:  # batch: equal, or broadcast from 1
                assert mine == theirs or theirs == 1, f"batch mismatch: {mine} != {theirs}"
            elif ix == 4:  # time: ours must be able to hold theirs
                assert mine >= other.pos, f"seq_len mismatch: {mine} < {other.pos}"
        self.kv_cache = torch.empty(self.kv_shape, dtype=other.kv_cache.dtype, device=other.kv_cache.device)
        self.kv_cache[:, :, :, :, : other.pos, :] = other.kv_cache[:, :, :, :, : other.pos, :]
        self.pos = other.pos

    def insert_kv(self, layer_idx: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v `(B, H_kv, T_add, D)` at `[pos, pos+T_add)`; return views `(B, H_kv, pos+T_add, D)`."""
        if self.kv_cache is None:
            self.kv_cache = torch.empty(self.kv_shape, dtype=k.dtype, device=k.device)
        B, H, T_add, D = k.size()
        t0, t1 = self.pos, self.pos + T_add
        if t1 > self.kv_cache.size(4):  # grow along T, keeping the layout
            t_needed = t1 + 1024  # at least 1024 spare
            t_needed = (t_needed + 1023) & ~1023  # round up to a multiple of 1024
            extra_shape = list(self.kv_cache.shape)
            extra_shape[4] = t_needed - self.kv_cache.size(4)
            extra = torch.empty(extra_shape, dtype=k.dtype, device=k.device)
            self.kv_cache = torch.cat([self.kv_cache, extra], dim=4).contiguous()
            self.kv_shape = tuple(self.kv_cache.shape)
        self.kv_cache[layer_idx, 0, :, :, t0:t1] = k
        self.kv_cache[layer_idx, 1, :, :, t0:t1] = v
        key_view = self.kv_cache[layer_idx, 0, :, :, :t1]  # (B, H, t1, D)
        value_view = self.kv_cache[layer_idx, 1, :, :, :t1]  # (B, H, t1, D)
        if layer_idx == self.kv_cache.size(0) - 1:  # the last layer advances the position
            self.pos = t1
        return key_view, value_view


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
    """Sample one token per row from logits `(B, V)`; returns `(B, 1)` token ids."""
    assert temperature >= 0.0, "temperature must be non-negative"
    if temperature == 0.0:
        return torch.argmax(logits, dim=-1, keepdim=True)  # (B, 1)
    if top_k is not None and top_k > 0:
        k = min(top_k, logits.size(-1))
        vals, idx = torch.topk(logits, k, dim=-1)  # (B, k), sorted descending
    elif top_p is not None and top_p < 1.0:
        vals, idx = torch.sort(logits, dim=-1, descending=True)  # (B, V)
    else:
        probs = F.softmax(logits / temperature, dim=-1)  # (B, V)
        return torch.multinomial(probs, num_samples=1, generator=rng)  # (B, 1)
    probs = F.softmax(vals / temperature, dim=-1)  # (B, k)
    if top_p is not None and top_p < 1.0:
        cum = torch.cumsum(probs, dim=-1)  # (B, k)
        keep = (cum - probs) < top_p  # keep the smallest prefix reaching top_p (the first always stays)
        probs = torch.where(keep, probs, torch.zeros_like(probs))
        probs = probs / probs.sum(dim=-1, keepdim=True)
    choice = torch.multinomial(probs, num_samples=1, generator=rng)  # (B, 1) index into vals
    return idx.gather(1, choice)  # (B, 1) token ids


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
        """Yield `(token_column, token_masks)` per step: one token per sample row, mask 0 for forced tokens."""
        assert isinstance(tokens, list) and isinstance(tokens[0], int), "expecting a list of ints"
        device = self.model.get_device()
        rng = torch.Generator(device=device)
        rng.manual_seed(seed)

        special = self.tokenizer.encode_special
        python_start, python_end = special("<|python_start|>"), special("<|python_end|>")
        output_start, output_end = special("<|output_start|>"), special("<|output_end|>")
        assistant_end = special("<|assistant_end|>")
        bos = self.tokenizer.get_bos_token_id()

        # 1) prefill the prompt once, at batch 1
        m = self.model.config
        kv_kwargs = {"num_heads": m.n_kv_head, "head_dim": m.n_embd // m.n_head, "num_layers": m.n_layer}
        kv_cache_prefill = KVCache(batch_size=1, seq_len=len(tokens), **kv_kwargs)
        ids = torch.tensor([tokens], dtype=torch.long, device=device)  # (1, T)
        logits = self.model.forward(ids, kv_cache=kv_cache_prefill)  # (1, T, V)
        logits = logits[:, -1, :].expand(num_samples, -1)  # (num_samples, V)

        # 2) a decode cache for all samples, seeded with the prompt's keys/values
        kv_length_hint = (len(tokens) + max_tokens) if max_tokens is not None else m.sequence_len
        kv_cache_decode = KVCache(batch_size=num_samples, seq_len=kv_length_hint, **kv_kwargs)
        kv_cache_decode.prefill(kv_cache_prefill)
        del kv_cache_prefill

        # 3) decode loop
        row_states = [RowState(tokens.copy()) for _ in range(num_samples)]
        num_generated = 0
        while True:
            if max_tokens is not None and num_generated >= max_tokens:
                break
            if all(state.completed for state in row_states):
                break
            next_ids = sample_next_token(logits, rng, temperature, top_k, top_p)  # (B, 1)
            sampled_tokens = next_ids[:, 0].tolist()
            token_column, token_masks = [], []
            for i, state in enumerate(row_states):
                is_forced = len(state.forced_tokens) > 0
                token_masks.append(0 if is_forced else 1)
                next_token = state.forced_tokens.popleft() if is_forced else sampled_tokens[i]
                token_column.append(next_token)
                state.current_tokens.append(next_token)
                if next_token == assistant_end or next_token == bos:
                    state.completed = True
                if next_token == python_start:
                    state.in_python_block = True
                    state.python_expr_tokens = []
                elif next_token == python_end and state.in_python_block:
                    state.in_python_block = False
                    if state.python_expr_tokens:
                        expr = self.tokenizer.decode(state.python_expr_tokens)
                        result = use_calculator(expr)
                        if result is not None:
                            result_tokens = self.tokenizer.encode(str(result))
                            state.forced_tokens.append(output_start)
                            state.forced_tokens.extend(result_tokens)
                            state.forced_tokens.append(output_end)
                    state.python_expr_tokens = []
                elif state.in_python_block:
                    state.python_expr_tokens.append(next_token)
            yield token_column, token_masks
            num_generated += 1
            ids = torch.tensor(token_column, dtype=torch.long, device=device).unsqueeze(1)  # (B, 1)
            logits = self.model.forward(ids, kv_cache=kv_cache_decode)[:, -1, :]  # (B, V)

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
