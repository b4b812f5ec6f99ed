"""Loss evaluation in bits per byte (mirrors nanochat's ``nanochat/loss_eval.py``, identical at commits C and H).

Design choices:
- Report bits per byte (bpb), not mean cross-entropy per token: per-token loss depends on the tokenizer (a bigger
  vocabulary packs more bytes into each token), bpb does not, so models with different vocabularies compare.
- ``bpb = sum(nats over target tokens) / (ln 2 * sum(bytes of those target tokens))``. Target tokens with 0 bytes
  (special tokens such as ``<|bos|>``) and ignored targets (-1, the loss mask) contribute neither nats nor bytes.
- Both sums are all-reduced across ranks when a process group is up, so every rank returns the same number;
  ``inf`` when no bytes were counted.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist


@torch.no_grad()
def evaluate_bpb(model, batches, steps: int, token_bytes: torch.Tensor) -> float:
    """Bits per byte of ``model`` over ``steps`` batches drawn from the iterable ``batches``.

    ``batches`` yields ``(inputs, targets)`` or ``(inputs, targets, state)``, each (B, T) int64;
    ``token_bytes`` is a 1-D int tensor (vocab_size,) with each token's byte length (0 for specials).
    """
    raise NotImplementedError("TODO(step 1): sum nats and bytes over targets with bytes > 0; all-reduce; nats / (ln 2 * bytes)")
