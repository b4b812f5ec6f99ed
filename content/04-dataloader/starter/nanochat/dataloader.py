"""Distributed, tokenizing pretraining data loader (nanochat ``dataloader.py``, commit C).

Design choices:
- Sharding by row group: the shards of a split are visited in sorted order, and inside each shard rank ``r`` of
  ``W`` reads row groups ``r, r+W, r+2W, ...``. Ranks never see the same documents and need no communication.
- Streaming: each row group is cut into tokenizer batches of ``tokenizer_batch_size`` documents; each document is
  encoded with ``<|bos|>`` prepended (tiktoken, ``tokenizer_threads`` threads) and its tokens join one FIFO
  buffer. Documents run across row boundaries, so a row may start mid-document: fine for pretraining.
- A batch pops ``B*T + 1`` tokens: inputs are the first ``B*T``, targets the same window shifted by one, both
  reshaped to ``(B, T)`` int64. (The extra token is consumed, not reused by the next batch, as in nanochat.)
- The outer loop never ends: when the split runs out the loader starts another epoch.
- Approximate resume: each batch comes with ``{"pq_idx", "rg_idx"}`` of the row group being read. Resuming skips
  to the NEXT row group of this rank's stride (``(rg_idx // W + 1) * W + rank``): it never repeats data but may skip
  the unread rest of a row group. Resuming past the end of a file moves on to the next file.
- On CUDA, the host tensor is pinned and copied with ``non_blocking=True``; elsewhere it is a plain copy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import pyarrow.parquet as pq
import torch

from .common import get_dist_info
from .dataset import split_parquet_files
from .tokenizer import get_tokenizer


def resume_row_group(rg_idx: int, rank: int, world_size: int) -> int:
    """Where a rank restarts inside the file a checkpoint was reading: the next row group of its stride.

    The checkpoint says row group ``rg_idx`` was being read (by some rank of ``world_size``): skip the whole
    "round" of ``world_size`` row groups containing it, ``base_idx = rg_idx // world_size + 1``, and take this
    rank's slot in the next round, ``base_idx * world_size + rank``. Never repeats data; may skip a little.
    """
    raise NotImplementedError("TODO(step 3): the next row group of this rank's stride after rg_idx")


def document_batches(
    split: str,
    rank: int,
    world_size: int,
    tokenizer_batch_size: int = 128,
    resume_state_dict: dict | None = None,
    num_epochs: int | None = None,
) -> Iterator[tuple[list[str], tuple[int, int]]]:
    """Yield ``(documents, (pq_idx, rg_idx))`` for this rank, forever (or for ``num_epochs`` passes).

    ``documents`` is at most ``tokenizer_batch_size`` texts from row group ``rg_idx`` of split file ``pq_idx``.
    """
    raise NotImplementedError("TODO(step 1): visit the split's files; rank r reads row groups r, r+W, ...; resume via resume_row_group")


def tokenizing_distributed_data_loader_with_state(
    B: int,
    T: int,
    split: str,
    tokenizer_threads: int = 4,
    tokenizer_batch_size: int = 128,
    device: str | torch.device = "cuda",
    resume_state_dict: dict | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict]]:
    """Yield ``(inputs, targets, state_dict)`` forever: ``(B, T)`` int64 tensors on ``device``.

    Pass a yielded ``state_dict`` back as ``resume_state_dict`` to continue (approximately) from there.
    """
    raise NotImplementedError("TODO(step 2): BOS-prefixed tokens into a buffer; pop B*T+1 per batch")


def tokenizing_distributed_data_loader(*args, **kwargs) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The same loader, yielding only ``(inputs, targets)``."""
    for inputs, targets, _state_dict in tokenizing_distributed_data_loader_with_state(*args, **kwargs):
        yield inputs, targets
