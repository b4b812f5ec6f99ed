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
    base_idx = rg_idx // world_size + 1
    return base_idx * world_size + rank


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
    parquet_paths = split_parquet_files(split)
    resume_pq_idx = resume_state_dict["pq_idx"] if resume_state_dict is not None else 0
    resume_rg_idx = resume_state_dict["rg_idx"] if resume_state_dict is not None else None
    first_pass = True
    epoch = 0
    while num_epochs is None or epoch < num_epochs:
        pq_idx = resume_pq_idx if first_pass else 0
        while pq_idx < len(parquet_paths):
            pf = pq.ParquetFile(parquet_paths[pq_idx])
            if first_pass and resume_rg_idx is not None and pq_idx == resume_pq_idx:
                rg_idx = resume_row_group(resume_rg_idx, rank, world_size)
                resume_rg_idx = None  # only once
                if rg_idx >= pf.num_row_groups:
                    pq_idx += 1
                    continue
            else:
                rg_idx = rank
            while rg_idx < pf.num_row_groups:
                texts = pf.read_row_group(rg_idx, columns=["text"]).column("text").to_pylist()
                for i in range(0, len(texts), tokenizer_batch_size):
                    yield texts[i : i + tokenizer_batch_size], (pq_idx, rg_idx)
                rg_idx += world_size
            pq_idx += 1
        first_pass = False
        epoch += 1


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
    assert split in ("train", "val"), "split must be 'train' or 'val'"
    _ddp, rank, _local_rank, world_size = get_dist_info()
    batches = document_batches(split, rank, world_size, tokenizer_batch_size, resume_state_dict)
    needed_tokens = B * T + 1  # +1 because the targets are the inputs shifted by one
    tokenizer = get_tokenizer()
    bos_token = tokenizer.get_bos_token_id()
    token_buffer: deque[int] = deque()
    use_cuda = torch.device(device).type == "cuda"
    pq_idx, rg_idx = 0, 0
    while True:
        while len(token_buffer) < needed_tokens:
            doc_batch, (pq_idx, rg_idx) = next(batches)
            for tokens in tokenizer.encode(doc_batch, prepend=bos_token, num_threads=tokenizer_threads):
                token_buffer.extend(tokens)
        tokens = [token_buffer.popleft() for _ in range(needed_tokens)]
        scratch = torch.tensor(tokens, dtype=torch.long, pin_memory=use_cuda)  # (B*T+1,)
        inputs = scratch[:-1].view(B, T).to(device=device, non_blocking=use_cuda)  # (B, T)
        targets = scratch[1:].view(B, T).to(device=device, non_blocking=use_cuda)  # (B, T)
        yield inputs, targets, {"pq_idx": pq_idx, "rg_idx": rg_idx}


def tokenizing_distributed_data_loader(*args, **kwargs) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The same loader, yielding only ``(inputs, targets)``."""
    for inputs, targets, _state_dict in tokenizing_distributed_data_loader_with_state(*args, **kwargs):
        yield inputs, targets
