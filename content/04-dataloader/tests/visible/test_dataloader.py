"""Visible tests for module 4 (dataloader). Learner code is reached only through the ``learner`` fixture."""

import itertools

import pytest
import torch

from nanochat_ref import dataloader as ref


@pytest.fixture
def dl(learner):
    return learner.module("nanochat.dataloader")


def _ref_locations(split, rank, world_size):
    return [loc for _docs, loc in ref.document_batches(split, rank, world_size, 1024, None, 1)]


# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_a_single_rank_reads_every_train_row_group_in_order(dl, learner_env, ref_env, take):
    got = take(dl.document_batches("train", 0, 1, 1024, None, 1), 100)
    expected = list(ref.document_batches("train", 0, 1, 1024, None, 1))
    assert [tuple(loc) for _docs, loc in got] == [loc for _docs, loc in expected]
    assert [list(docs) for docs, _loc in got] == [docs for docs, _loc in expected]


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_two_ranks_read_disjoint_row_groups_that_cover_the_split(dl, learner_env, ref_env, take):
    seen = []
    for rank in range(2):
        got = take(dl.document_batches("train", rank, 2, 1024, None, 1), 100)
        locs = [tuple(loc) for _docs, loc in got]
        assert locs == _ref_locations("train", rank, 2), (
            f"rank {rank} of 2 must read row groups {rank}, {rank}+2, ..."
        )
        seen += locs
    assert sorted(seen) == sorted(_ref_locations("train", 0, 1)), (
        "ranks must read disjoint row groups (no overlap)"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_row_groups_are_cut_into_tokenizer_batches(dl, learner_env, ref_env, take):
    got = take(dl.document_batches("train", 0, 1, 5, None, 1), 1000)
    expected = list(ref.document_batches("train", 0, 1, 5, None, 1))
    assert [len(docs) for docs, _ in got] == [len(docs) for docs, _ in expected]


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_batches_are_b_by_t_int64_with_targets_shifted_by_one(dl, learner_env, take):
    ((inputs, targets, state),) = take(
        dl.tokenizing_distributed_data_loader_with_state(2, 8, "train", 1, 128, "cpu"), 1
    )
    assert inputs.shape == targets.shape == (2, 8)
    assert inputs.dtype == targets.dtype == torch.int64, "inputs and targets must be int64 (torch.long)"
    assert torch.equal(inputs.reshape(-1)[1:], targets.reshape(-1)[:-1]), (
        "targets must be the inputs shifted by one"
    )
    assert set(state) == {"pq_idx", "rg_idx"}


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_the_token_stream_matches_the_reference(dl, learner_env, ref_env, take):
    got = take(dl.tokenizing_distributed_data_loader_with_state(2, 16, "train", 1, 128, "cpu"), 5)
    expected = list(
        itertools.islice(ref.tokenizing_distributed_data_loader_with_state(2, 16, "train", 1, 128, "cpu"), 5)
    )
    for (x, y, s), (rx, ry, rs) in zip(got, expected, strict=True):
        torch.testing.assert_close(x, rx)
        torch.testing.assert_close(y, ry)
        assert dict(s) == rs


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_resume_row_group_moves_to_the_ranks_slot_in_the_next_round(dl):
    assert dl.resume_row_group(0, 0, 1) == 1
    assert dl.resume_row_group(5, 1, 4) == 9
    assert dl.resume_row_group(7, 0, 4) == 8


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_resuming_never_rereads_the_row_group_in_progress(dl, learner_env, ref_env, take):
    state = {"pq_idx": 0, "rg_idx": 1}
    got = take(dl.document_batches("train", 0, 1, 1024, state, 1), 100)
    expected = list(ref.document_batches("train", 0, 1, 1024, state, 1))
    assert [tuple(loc) for _docs, loc in got] == [loc for _docs, loc in expected]
