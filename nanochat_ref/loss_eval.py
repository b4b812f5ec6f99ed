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
    device = model.get_device()
    total_nats = torch.tensor(0.0, dtype=torch.float32, device=device)
    total_bytes = torch.tensor(0, dtype=torch.int64, device=device)
    batch_iter = iter(batches)
    for _ in range(steps):
        x, y, *_ = next(batch_iter)  # (B, T), (B, T)
        loss2d = model(x, y, loss_reduction="none")  # (B*T,) nats per target token
        loss2d = loss2d.view(-1)  # (B*T,)
        y = y.view(-1)  # (B*T,)
        valid = y >= 0  # ignore_index=-1 targets count for nothing
        y_safe = torch.where(valid, y, torch.zeros_like(y))  # (B*T,) a legal index everywhere
        num_bytes = torch.where(valid, token_bytes[y_safe], torch.zeros_like(y_safe, dtype=token_bytes.dtype))
        total_nats += (loss2d * (num_bytes > 0)).sum()  # only tokens that stand for real bytes
        total_bytes += num_bytes.sum()
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(total_nats, op=dist.ReduceOp.SUM)
        dist.all_reduce(total_bytes, op=dist.ReduceOp.SUM)
    total_nats_f = total_nats.item()
    total_bytes_i = total_bytes.item()
    if total_bytes_i == 0:
        return float("inf")
    return total_nats_f / (math.log(2) * total_bytes_i)
