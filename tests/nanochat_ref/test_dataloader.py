"""Tests for nanochat_ref.dataloader: batch shapes, the token stream, rank sharding, epochs and resume."""

import itertools

import pyarrow.parquet as pq
import pytest
import torch

from nanochat_ref.dataloader import (
    document_batches,
    tokenizing_distributed_data_loader,
    tokenizing_distributed_data_loader_with_state,
)
from nanochat_ref.dataset import split_parquet_files
from nanochat_ref.tokenizer import get_tokenizer


def _as_rank(monkeypatch, rank, world_size):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world_size))


def _row_groups(split, rank, world_size, first=None):
    """(pq_idx, rg_idx, docs) of this rank's stride, read straight from the parquet files (independent oracle)."""
    out = []
    for pq_idx, path in enumerate(split_parquet_files(split)):
        pf = pq.ParquetFile(path)
        for rg_idx in range(rank, pf.num_row_groups, world_size):
            if first is not None and (pq_idx, rg_idx) < first:
                continue
            out.append((pq_idx, rg_idx, pf.read_row_group(rg_idx).column("text").to_pylist()))
    return out


def _stream(tok, groups):
    bos = tok.get_bos_token_id()
    return [t for _, _, docs in groups for d in docs for t in [bos, *tok.encode(d)]]


def _flatten(batches):
    """Rebuild the consumed token stream: each batch is inputs + the last target (B*T+1 tokens)."""
    out = []
    for inputs, targets, *_ in batches:
        flat_in, flat_tg = inputs.reshape(-1).tolist(), targets.reshape(-1).tolist()
        out += flat_in + flat_tg[-1:]
    return out


def test_batches_are_b_by_t_int64_with_targets_shifted_by_one(tiny_base_dir):
    B, T = 2, 8
    inputs, targets, state = next(tokenizing_distributed_data_loader_with_state(B, T, "train", device="cpu"))
    assert inputs.shape == targets.shape == (B, T)
    assert inputs.dtype == targets.dtype == torch.int64
    assert torch.equal(inputs.reshape(-1)[1:], targets.reshape(-1)[:-1])
    assert set(state) == {"pq_idx", "rg_idx"}


def test_the_loader_streams_bos_prefixed_documents_in_shard_order(tiny_base_dir):
    tok = get_tokenizer()
    B, T, n = 2, 16, 6
    batches = list(
        itertools.islice(tokenizing_distributed_data_loader_with_state(B, T, "train", device="cpu"), n)
    )
    expected = _stream(tok, _row_groups("train", 0, 1))
    assert expected[0] == tok.get_bos_token_id()
    assert _flatten(batches) == expected[: n * (B * T + 1)]


def test_the_plain_loader_yields_only_inputs_and_targets(tiny_base_dir):
    item = next(tokenizing_distributed_data_loader(2, 4, "train", device="cpu"))
    assert len(item) == 2


def test_val_reads_only_the_last_shard(tiny_base_dir):
    tok = get_tokenizer()
    batches = list(
        itertools.islice(tokenizing_distributed_data_loader_with_state(1, 16, "val", device="cpu"), 3)
    )
    assert {s["pq_idx"] for *_, s in batches} == {0}
    assert _flatten(batches) == _stream(tok, _row_groups("val", 0, 1))[: 3 * 17]


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_ranks_cover_every_row_group_exactly_once_per_epoch(tiny_base_dir, tiny_config, world_size):
    seen = []
    for rank in range(world_size):
        for docs, (pq_idx, rg_idx) in document_batches(
            "train", rank, world_size, tokenizer_batch_size=5, num_epochs=1
        ):
            seen.append((pq_idx, rg_idx, rank, len(docs)))
    groups = {(p, r) for p, r, _, _ in seen}
    n_groups = (tiny_config["num_shards"] - 1) * tiny_config["row_groups_per_shard"]
    assert len(groups) == n_groups
    assert all(rg % world_size == rank for _, rg, rank, _ in seen)  # rank r reads r, r+W, ...
    for p, r in groups:  # each group's documents are read once, in full, by one rank
        assert sum(n for pp, rr, _, n in seen if (pp, rr) == (p, r)) == tiny_config["rows_per_group"]


def test_each_rank_gets_its_own_documents_from_the_real_loader(tiny_base_dir, monkeypatch):
    tok = get_tokenizer()
    streams = []
    for rank in range(2):
        _as_rank(monkeypatch, rank, 2)
        batches = list(
            itertools.islice(tokenizing_distributed_data_loader_with_state(1, 32, "train", device="cpu"), 2)
        )
        assert _flatten(batches) == _stream(tok, _row_groups("train", rank, 2))[: 2 * 33]
        streams.append(_flatten(batches))
    assert streams[0] != streams[1]


def test_the_loader_starts_another_epoch_when_the_split_runs_out(tiny_base_dir):
    tok = get_tokenizer()
    epoch_tokens = len(_stream(tok, _row_groups("val", 0, 1)))
    B, T = 1, 64
    n = epoch_tokens // (B * T + 1) + 3
    states = [
        s
        for *_, s in itertools.islice(
            tokenizing_distributed_data_loader_with_state(B, T, "val", device="cpu"), n
        )
    ]
    rg_order = [s["rg_idx"] for s in states]
    assert max(rg_order) > 0
    assert rg_order[-1] < max(rg_order)  # wrapped around to the first row group again


@pytest.mark.parametrize(("world_size", "rank"), [(1, 0), (2, 1), (3, 2)])
def test_resume_continues_at_the_next_row_group_of_the_ranks_stride(
    tiny_base_dir, monkeypatch, world_size, rank
):
    _as_rank(monkeypatch, rank, world_size)
    tok = get_tokenizer()
    B, T = 1, 40
    loader = tokenizing_distributed_data_loader_with_state(B, T, "train", device="cpu")
    *_, state = next(itertools.islice(loader, 2, None))  # the third batch's state
    resumed = tokenizing_distributed_data_loader_with_state(
        B, T, "train", device="cpu", resume_state_dict=state
    )
    first = next(resumed)
    # expected: the first row group of this rank's stride after state's (pq_idx, rg_idx), read from the files
    groups = _row_groups("train", rank, world_size)
    after = [g for g in groups if (g[0], g[1]) > (state["pq_idx"], state["rg_idx"])]
    assert after, "the tiny data should have a later row group for this rank"
    assert _flatten([first]) == _stream(tok, after)[: B * T + 1]
    assert first[2]["pq_idx"] == after[0][0]
    assert first[2]["rg_idx"] == after[0][1]


def test_resume_from_the_last_row_group_of_a_file_moves_to_the_next_file(tiny_base_dir, tiny_config):
    last_rg = tiny_config["row_groups_per_shard"] - 1
    batches = document_batches(
        "train", 0, 1, resume_state_dict={"pq_idx": 0, "rg_idx": last_rg}, num_epochs=1
    )
    _docs, (pq_idx, rg_idx) = next(batches)
    assert (pq_idx, rg_idx) == (1, 0)


def test_resume_never_repeats_the_row_group_in_progress(tiny_base_dir):
    batches = document_batches("train", 0, 1, resume_state_dict={"pq_idx": 0, "rg_idx": 1}, num_epochs=1)
    visited = {loc for _docs, loc in batches}
    assert (0, 0) not in visited and (0, 1) not in visited
    assert (0, 2) in visited


def test_resume_row_group_skips_to_this_ranks_slot_in_the_next_round():
    from nanochat_ref.dataloader import resume_row_group

    assert resume_row_group(0, 0, 1) == 1
    assert resume_row_group(5, 1, 4) == 9  # row group 5 is in the round 4..7, so rank 1 restarts in 8..11
    assert resume_row_group(5, 3, 4) == 11
    assert resume_row_group(7, 0, 4) == 8
