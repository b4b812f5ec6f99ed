"""Hidden tests for module 4: more world sizes, the real loader per rank, epochs, val and resume edge cases."""

import itertools

import pytest
import torch

from nanochat_ref import dataloader as ref


@pytest.fixture
def dl(learner):
    return learner.module("nanochat.dataloader")


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
@pytest.mark.parametrize("world_size", [3, 4])
def test_every_rank_reads_its_own_stride_for_larger_worlds(dl, learner_env, ref_env, take, world_size):
    for rank in range(world_size):
        got = take(dl.document_batches("train", rank, world_size, 1024, None, 1), 100)
        expected = [loc for _docs, loc in ref.document_batches("train", rank, world_size, 1024, None, 1)]
        assert [tuple(loc) for _docs, loc in got] == expected


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_val_reads_only_the_last_shard(dl, learner_env, ref_env, take):
    got = take(dl.document_batches("val", 0, 1, 1024, None, 1), 100)
    expected = [loc for _docs, loc in ref.document_batches("val", 0, 1, 1024, None, 1)]
    assert [tuple(loc) for _docs, loc in got] == expected


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_without_num_epochs_the_documents_never_run_out(dl, learner_env, ref_env, take):
    got = take(dl.document_batches("val", 0, 1, 1024), 10)
    expected = list(itertools.islice(ref.document_batches("val", 0, 1, 1024), 10))
    assert [tuple(loc) for _docs, loc in got] == [loc for _docs, loc in expected]


@pytest.mark.step("step2")
@pytest.mark.hint("h1")
def test_the_loader_reads_the_rank_from_the_environment(dl, learner_env, ref_env, take, monkeypatch):
    learner_env(1, 2)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    got = take(dl.tokenizing_distributed_data_loader_with_state(1, 32, "train", 1, 128, "cpu"), 3)
    expected = list(
        itertools.islice(ref.tokenizing_distributed_data_loader_with_state(1, 32, "train", 1, 128, "cpu"), 3)
    )
    for (x, y, s), (rx, ry, rs) in zip(got, expected, strict=True):
        torch.testing.assert_close(x, rx)
        torch.testing.assert_close(y, ry)
        assert dict(s) == rs


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_the_plain_loader_yields_pairs_and_wraps_into_a_new_epoch(dl, learner_env, ref_env, take):
    n = 40  # more tokens than the val shard holds at B*T = 64
    got = take(dl.tokenizing_distributed_data_loader(1, 64, "val", 1, 128, "cpu"), n)
    expected = list(itertools.islice(ref.tokenizing_distributed_data_loader(1, 64, "val", 1, 128, "cpu"), n))
    assert all(len(item) == 2 for item in got)
    for (x, y), (rx, ry) in zip(got, expected, strict=True):
        torch.testing.assert_close(x, rx)
        torch.testing.assert_close(y, ry)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_resuming_past_the_end_of_a_file_moves_to_the_next_file(dl, learner_env, ref_env, take):
    state = {"pq_idx": 0, "rg_idx": 3}
    got = take(dl.document_batches("train", 0, 2, 1024, state, 1), 100)
    expected = [loc for _docs, loc in ref.document_batches("train", 0, 2, 1024, state, 1)]
    assert [tuple(loc) for _docs, loc in got] == expected


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_resumed_loader_continues_like_the_reference(dl, learner_env, ref_env, take):
    args = (1, 40, "train", 1, 128, "cpu")
    *_, state = next(itertools.islice(ref.tokenizing_distributed_data_loader_with_state(*args), 2, None))
    got = take(dl.tokenizing_distributed_data_loader_with_state(*args, state), 3)
    expected = list(itertools.islice(ref.tokenizing_distributed_data_loader_with_state(*args, state), 3))
    for (x, y, s), (rx, ry, rs) in zip(got, expected, strict=True):
        torch.testing.assert_close(x, rx)
        torch.testing.assert_close(y, ry)
        assert dict(s) == rs


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_the_resume_rule_for_every_rank_of_four(dl):
    for rg_idx in range(12):
        for rank in range(4):
            assert dl.resume_row_group(rg_idx, rank, 4) == ref.resume_row_group(rg_idx, rank, 4)
