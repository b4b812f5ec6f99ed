"""Hidden tests for module 4: other world sizes, the val split, epochs and resume edge cases.

They re-check the visible tests' properties on other inputs, through nanochat's public loader, except the two
marked as lab additions, which call the lab's split-out helpers.
"""

import itertools
import math

import pytest

from nanochat_ref import dataloader as ref


@pytest.fixture
def dl(learner):
    return learner.module("nanochat.dataloader")


def _loader(module, split, resume=None, B=1, T=7):
    return module.tokenizing_distributed_data_loader_with_state(B, T, split, 1, 2, "cpu", resume)


def _states(batches):
    return [dict(state) for *_xy, state in batches]


def _compare(wide, dl, take, kit, rank, world_size, split, n, resume=None):
    got = wide.learner(rank, world_size, lambda: take(_loader(dl, split, resume), n))
    expected = wide.judge(rank, world_size, lambda: list(itertools.islice(_loader(ref, split, resume), n)))
    assert kit.row_groups_read(_states(got)) == kit.row_groups_read(_states(expected))


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
@pytest.mark.parametrize("world_size", [3, 5])
def test_every_rank_reads_its_own_stride_for_other_worlds(dl, wide, take, kit, world_size):
    for rank in range(world_size):
        docs, _bos = wide.judge(
            None, None, lambda rank=rank: kit.reference_epoch("train", rank, world_size, 2)
        )
        n = math.ceil(sum(len(d) for d in docs) / 8) + 2
        _compare(wide, dl, take, kit, rank, world_size, "train", n)


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_val_reads_only_the_last_shard(dl, wide, take, kit):
    _compare(wide, dl, take, kit, 1, 2, "val", 120)


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.lab_addition("split-out-helpers")
def test_without_num_epochs_the_documents_never_run_out(dl, learner_env, ref_env, take):
    got = take(dl.document_batches("val", 0, 1, 1024), 10)
    expected = list(itertools.islice(ref.document_batches("val", 0, 1, 1024), 10))
    assert [tuple(loc) for _docs, loc in got] == [loc for _docs, loc in expected]


@pytest.mark.step("step2")
@pytest.mark.hint("h1")
def test_the_loader_reads_the_rank_from_the_environment(dl, wide, take, kit):
    args = (1, 32, "train", 1, 128, "cpu")
    got = wide.learner(1, 2, lambda: take(dl.tokenizing_distributed_data_loader_with_state(*args), 3))
    expected = wide.judge(
        1, 2, lambda: list(itertools.islice(ref.tokenizing_distributed_data_loader_with_state(*args), 3))
    )
    assert kit.token_stream(got) == kit.token_stream(expected)
    assert _states(got) == _states(expected)


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_the_plain_loader_yields_pairs_and_wraps_into_a_new_epoch(dl, wide, take, kit):
    n = 40  # more tokens than the wide val shard holds at B*T = 64
    args = (1, 64, "val", 1, 128, "cpu")
    got = wide.learner(None, None, lambda: take(dl.tokenizing_distributed_data_loader(*args), n))
    expected = wide.judge(
        None, None, lambda: list(itertools.islice(ref.tokenizing_distributed_data_loader(*args), n))
    )
    assert len(got) == n and all(len(item) == 2 for item in got)
    assert kit.token_stream([(x, y) for x, y in got]) == kit.token_stream([(x, y) for x, y in expected])


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_resuming_past_the_end_of_a_file_moves_to_the_next_file(dl, wide, take, kit):
    for rank in range(2):
        _compare(wide, dl, take, kit, rank, 2, "train", 30, {"pq_idx": 0, "rg_idx": 11})


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_every_rank_of_three_resumes_in_a_later_file(dl, wide, take, kit):
    for rank in range(3):
        _compare(wide, dl, take, kit, rank, 3, "train", 40, {"pq_idx": 1, "rg_idx": 4})


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_resumed_loader_continues_like_the_reference(dl, wide, take, kit):
    args = (1, 40, "train", 1, 128, "cpu")

    def state_at_batch_40():
        return next(itertools.islice(ref.tokenizing_distributed_data_loader_with_state(*args), 40, None))[2]

    state = wide.judge(None, None, state_at_batch_40)
    got = wide.learner(
        None, None, lambda: take(dl.tokenizing_distributed_data_loader_with_state(*args, state), 3)
    )
    expected = wide.judge(
        None,
        None,
        lambda: list(itertools.islice(ref.tokenizing_distributed_data_loader_with_state(*args, state), 3)),
    )
    assert kit.token_stream(got) == kit.token_stream(expected)
    assert _states(got) == _states(expected)


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
@pytest.mark.lab_addition("split-out-helpers")
def test_the_resume_rule_for_every_rank_of_four(dl):
    for rg_idx in range(12):
        for rank in range(4):
            assert dl.resume_row_group(rg_idx, rank, 4) == ref.resume_row_group(rg_idx, rank, 4)
