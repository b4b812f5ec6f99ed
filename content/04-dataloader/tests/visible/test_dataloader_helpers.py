"""Visible tests of the lab's split-out helpers (module 4): ``document_batches`` and ``resume_row_group``.

nanochat ``48abd7d`` nests the document generator inside ``tokenizing_distributed_data_loader_with_state`` and
computes the resume row group inline; the lab names both so each step can be tested on its own, and gives
``document_batches`` a ``num_epochs`` parameter so a test can read exactly one pass. These tests are lab
additions (deviation ``split-out-helpers``): nanochat's own file has neither helper.
"""

import pytest

from nanochat_ref import dataloader as ref

pytestmark = pytest.mark.lab_addition("split-out-helpers")


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
    got_locs, expected_locs = [tuple(loc) for _docs, loc in got], [loc for _docs, loc in expected]
    assert got_locs == expected_locs, (
        f"document_batches('train', 0, 1, 1024, None, num_epochs=1) yielded row groups {got_locs}; expected "
        f"{expected_locs}. Likely cause: files in sorted order (train = all but the last), every row group of each "
        "file from `rank` on with stride `world_size`, and exactly num_epochs passes (None: forever). Step 1."
    )
    assert [list(docs) for docs, _loc in got] == [docs for docs, _loc in expected], (
        "the documents of each row group must be its 'text' column, in order. Step 1."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_two_ranks_read_disjoint_row_groups_that_cover_the_split(dl, learner_env, ref_env, take):
    seen = []
    for rank in range(2):
        got = take(dl.document_batches("train", rank, 2, 1024, None, 1), 100)
        locs = [tuple(loc) for _docs, loc in got]
        expected = _ref_locations("train", rank, 2)
        assert locs == expected, (
            f"document_batches as rank {rank} of 2: expected row groups {expected}, got {locs}. Likely cause: "
            f"rank r reads row groups r, r+2, ... of every file. Step 1."
        )
        seen += locs
    assert sorted(seen) == sorted(_ref_locations("train", 0, 1)), (
        "ranks must read disjoint row groups that together cover the split. Step 1."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_row_groups_are_cut_into_tokenizer_batches(dl, learner_env, ref_env, take):
    got = take(dl.document_batches("train", 0, 1, 5, None, 1), 1000)
    expected = list(ref.document_batches("train", 0, 1, 5, None, 1))
    got_sizes, expected_sizes = [len(docs) for docs, _ in got], [len(docs) for docs, _ in expected]
    assert got_sizes == expected_sizes, (
        f"with tokenizer_batch_size=5, a row group of 16 documents comes as batches of {expected_sizes[:4]}; got "
        f"{got_sizes[:4]}... Likely cause: slice each row group as texts[i : i + tokenizer_batch_size] for i in "
        "range(0, len(texts), tokenizer_batch_size); the last slice may be shorter. Step 1."
    )


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_resume_row_group_moves_to_the_ranks_slot_in_the_next_round(dl):
    for args, expected in (((0, 0, 1), 1), ((5, 1, 4), 9), ((7, 0, 4), 8), ((4, 3, 4), 11)):
        got = dl.resume_row_group(*args)
        assert got == expected, (
            f"resume_row_group(rg_idx={args[0]}, rank={args[1]}, world_size={args[2]}): expected {expected}, got "
            f"{got}. Likely cause: base_idx = rg_idx // world_size + 1 (skip the round in progress), then "
            "base_idx * world_size + rank (this rank's slot). Step 3."
        )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_document_batches_resumes_after_the_row_group_in_progress(dl, learner_env, ref_env, take):
    state = {"pq_idx": 0, "rg_idx": 1}
    got = take(dl.document_batches("train", 0, 1, 1024, state, 1), 100)
    expected = list(ref.document_batches("train", 0, 1, 1024, state, 1))
    got_locs, expected_locs = [tuple(loc) for _docs, loc in got], [loc for _docs, loc in expected]
    assert got_locs == expected_locs, (
        f"document_batches resumed with {state}: expected row groups {expected_locs}, got {got_locs}. Likely "
        "cause: in file pq_idx start at resume_row_group(rg_idx, rank, world_size), never at rg_idx. Step 3."
    )
