"""Visible tests for module 4 (dataloader). Learner code is reached only through the ``learner`` fixture.

Every test here goes through nanochat's public loader, ``tokenizing_distributed_data_loader_with_state(B, T,
split, tokenizer_threads, tokenizer_batch_size, device, resume_state_dict)`` (and the plain
``tokenizing_distributed_data_loader``), with the rank taken from torchrun's variables, so nanochat's own
``dataloader.py`` passes them. The lab's split-out helpers are tested in ``test_dataloader_helpers.py``.

Most tests use the *wide* data set (``conftest.py``: 3 shards x 12 row groups x 3 short documents) and small
batches (``B*T+1`` = 8 tokens), so every row group a rank reads shows up in some batch's state dict.
"""

import itertools
import math

import pytest
import torch

from nanochat_ref import dataloader as ref

SMALL = (1, 7)  # B, T: 8 tokens a batch, fewer than any row group holds


@pytest.fixture
def dl(learner):
    return learner.module("nanochat.dataloader")


def _loader(module, B, T, split, tokenizer_batch_size=2, device="cpu", resume=None):
    return module.tokenizing_distributed_data_loader_with_state(
        B, T, split, 1, tokenizer_batch_size, device, resume
    )


def _run(wide, dl, take, rank, world_size, n, *, B=SMALL[0], T=SMALL[1], split="train", tbs=2, resume=None):
    """``n`` batches of the learner's loader and of the reference's, as ``rank`` of ``world_size``."""
    got = wide.learner(rank, world_size, lambda: take(_loader(dl, B, T, split, tbs, "cpu", resume), n))
    expected = wide.judge(
        rank, world_size, lambda: list(itertools.islice(_loader(ref, B, T, split, tbs, "cpu", resume), n))
    )
    return got, expected


def _epoch_batches(wide, kit, split, rank, world_size, tokens_per_batch, tbs=2):
    """How many batches of ``tokens_per_batch`` tokens the rank's pass over ``split`` fills (the last one partly)."""
    docs, _bos = wide.judge(None, None, lambda: kit.reference_epoch(split, rank, world_size, tbs))
    n_tokens = sum(len(d) for d in docs)
    return math.ceil(n_tokens / tokens_per_batch), n_tokens


def _states(batches):
    return [dict(state) for *_xy, state in batches]


# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_each_of_eight_ranks_reads_its_own_row_groups_in_order(dl, wide, take, kit):
    for rank in range(8):
        n, _ = _epoch_batches(wide, kit, "train", rank, 8, SMALL[0] * SMALL[1] + 1)
        got, expected = _run(wide, dl, take, rank, 8, n)
        got_rgs = kit.row_groups_read(_states(got))
        expected_rgs = kit.row_groups_read(_states(expected))
        assert got_rgs == expected_rgs, (
            f"rank {rank} of 8 read row groups (pq_idx, rg_idx) {got_rgs}; expected {expected_rgs} "
            f"({kit.first_difference(got_rgs, expected_rgs)}). Likely cause: inside every file rank r reads row "
            f"groups r, r+W, r+2W, ... (W = world size from get_dist_info()), files in sorted order, train = all "
            f"but the last file; the state is the row group the batch's last documents came from. Step 1."
        )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_one_and_eight_ranks_read_every_document_exactly_once(dl, wide, take, kit, metrics):
    """The measurement: 1 rank and 8 simulated ranks over the same shards; coverage and batch equivalence."""
    B, T = 2, 31
    docs_ref, bos = wide.judge(None, None, lambda: kit.reference_epoch("train", 0, 1, 2))
    read: dict[int, list[tuple[int, ...]]] = {}
    tokens_per_rank, docs_per_rank = [], []
    for world_size in (1, 8):
        read[world_size] = []
        for rank in range(world_size):
            n, n_tokens = _epoch_batches(wide, kit, "train", rank, world_size, B * T + 1)
            batches = wide.learner(rank, world_size, lambda n=n: take(_loader(dl, B, T, "train", 2), n))
            stream = kit.token_stream(batches)[:n_tokens]  # this rank's first pass over the split
            docs = kit.split_documents(stream, bos)
            read[world_size] += docs
            if world_size == 8:
                tokens_per_rank.append(len(stream))
                docs_per_rank.append(len(docs))
    total = len(docs_ref)
    coverage = {}
    for world_size, docs in read.items():
        remaining = list(docs_ref)
        extra = 0
        for doc in docs:
            if doc in remaining:
                remaining.remove(doc)
            else:
                extra += 1
        coverage[world_size] = (total - len(remaining), extra)
    covered_8, extra_8 = coverage[8]
    metrics.series("tokens_per_rank", tokens_per_rank)
    metrics.series("documents_per_rank", docs_per_rank)
    metrics.record("coverage_1_rank", coverage[1][0] / total)
    metrics.record("coverage_8_ranks", covered_8 / total)
    metrics.record("documents_read_twice_8_ranks", extra_8)
    for world_size in (1, 8):
        covered, extra = coverage[world_size]
        assert covered == total and extra == 0, (
            f"over one pass of the train split, {world_size} rank(s) read {covered} of its {total} documents "
            f"and {extra} documents that are not in it or were read again (documents counted by splitting each "
            f"rank's token stream at <|bos|>). Expected every document exactly once. Likely cause: a rank that "
            f"does not start at row group `rank`, a stride other than the world size, or documents dropped when "
            f"a row group is cut into tokenizer batches of `tokenizer_batch_size`. Step 1."
        )
    assert sorted(read[8]) == sorted(read[1]), (
        "batch equivalence: the documents of the 8 ranks together must be the documents 1 rank reads. Step 1."
    )


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_batches_are_b_by_t_int64_with_targets_shifted_by_one(dl, learner_env, take):
    ((inputs, targets, state),) = take(
        dl.tokenizing_distributed_data_loader_with_state(2, 8, "train", 1, 128, "cpu"), 1
    )
    for name, t in (("inputs", inputs), ("targets", targets)):
        assert isinstance(t, torch.Tensor), (
            f"{name}: expected a torch.Tensor, got {type(t).__name__}. Step 2."
        )
        assert tuple(t.shape) == (2, 8), (
            f"{name} for B=2, T=8: expected shape (2, 8), got {tuple(t.shape)}. Likely cause: view the B*T "
            "tokens as (B, T). Step 2."
        )
        assert t.dtype == torch.int64, (
            f"{name}: expected dtype torch.int64 (torch.long), got {t.dtype}. Likely cause: the scratch tensor "
            "is built with another dtype; embeddings and cross-entropy want int64 ids. Step 2."
        )
    assert torch.equal(inputs.reshape(-1)[1:], targets.reshape(-1)[:-1]), (
        f"targets must be the inputs shifted by one: expected targets[:-1] == inputs[1:] (flattened), got inputs "
        f"{inputs.reshape(-1)[:6].tolist()}... and targets {targets.reshape(-1)[:6].tolist()}... Likely cause: "
        "inputs = scratch[:-1], targets = scratch[1:] of the same B*T+1 window, not the other way round. Step 2."
    )
    assert set(state) == {"pq_idx", "rg_idx"}, (
        f"state dict: expected keys pq_idx, rg_idx, got {sorted(state)}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_the_token_stream_matches_the_reference(dl, learner_env, ref_env, take, kit):
    got = take(dl.tokenizing_distributed_data_loader_with_state(2, 16, "train", 1, 128, "cpu"), 5)
    expected = list(
        itertools.islice(ref.tokenizing_distributed_data_loader_with_state(2, 16, "train", 1, 128, "cpu"), 5)
    )
    bos = int(expected[0][0][0, 0])
    first = int(torch.as_tensor(got[0][0]).reshape(-1)[0])
    assert first == bos, (
        f"the first input token: expected <|bos|> (id {bos}), got {first}. Likely cause: documents are encoded "
        "without prepend=bos, so the model never sees where a document starts. Step 2."
    )
    got_stream, expected_stream = kit.token_stream(got), kit.token_stream(expected)
    assert got_stream == expected_stream, (
        f"the tokens of 5 batches of B=2, T=16 (B*T+1 = 33 consumed per batch): "
        f"{kit.first_difference(got_stream, expected_stream)}. Likely cause: a batch must pop exactly B*T+1 "
        "tokens from one buffer that keeps its leftovers for the next batch. Step 2."
    )
    for i, ((x, y, s), (rx, ry, rs)) in enumerate(zip(got, expected, strict=True)):
        assert torch.equal(x, rx) and torch.equal(y, ry), f"batch {i}: inputs/targets differ from nanochat's"
        assert dict(s) == rs, f"batch {i}: state dict expected {rs}, got {dict(s)}. Step 2."


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_every_batch_reports_the_row_group_it_came_from(dl, wide, take, kit):
    got, expected = _run(wide, dl, take, None, None, 60)
    got_states, expected_states = _states(got), _states(expected)
    assert got_states == expected_states, (
        f"the state dicts of 60 batches of B=1, T=7: {kit.first_difference(got_states, expected_states)}. "
        "Likely cause: each batch yields a NEW dict {'pq_idx': ..., 'rg_idx': ...} of the row group its last "
        "tokenizer slice came from; a dict reused and updated in place changes every state saved earlier. Step 2."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_batches_land_on_the_requested_device(dl, learner, learner_env):
    # a "meta" tensor holds no data, so the device is read in the learner's process
    ops, it, builtins = learner.module("operator"), learner.module("itertools"), learner.module("builtins")
    gen = dl.tokenizing_distributed_data_loader_with_state(2, 8, "train", 1, 128, "meta")
    first_two = it.islice(it.chain.from_iterable(it.islice(gen, 1)), 2)  # inputs, targets of the first batch
    devices = builtins.list(builtins.map(ops.attrgetter("device.type"), first_two))
    for name, device in zip(("inputs", "targets"), devices, strict=True):
        assert device == "meta", (
            f"{name} for device='meta': expected a tensor on meta, got one on {device}. Likely cause: the batch "
            "is not moved with .to(device=device) (pinned memory and non_blocking only on CUDA). Step 2."
        )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_the_plain_loader_yields_pairs_and_runs_on_into_a_new_epoch(dl, wide, take, kit):
    B, T = 1, 63
    n_epoch, _ = _epoch_batches(wide, kit, "val", 0, 1, B * T + 1)
    n = n_epoch + 10  # past the end of the val split
    got = wide.learner(
        None, None, lambda: take(dl.tokenizing_distributed_data_loader(B, T, "val", 1, 2, "cpu"), n)
    )
    expected = wide.judge(
        None,
        None,
        lambda: list(itertools.islice(ref.tokenizing_distributed_data_loader(B, T, "val", 1, 2, "cpu"), n)),
    )
    assert len(got) == n, f"the loader must never run out: expected {n} batches, got {len(got)}. Step 2."
    assert all(len(item) == 2 for item in got), (
        "tokenizing_distributed_data_loader must yield (inputs, targets) pairs, without the state dict. Step 2."
    )
    got_stream = kit.token_stream([(x, y) for x, y in got])
    expected_stream = kit.token_stream([(x, y) for x, y in expected])
    assert got_stream == expected_stream, (
        f"{n} batches over the val split (one pass is {n_epoch}): {kit.first_difference(got_stream, expected_stream)}. "
        "Likely cause: when the split runs out the loader starts the next epoch at the first file. Step 2."
    )


# --- step 3 ---------------------------------------------------------------------------------------------------


def _resume_message(state, rank, world_size, got, expected, kit, why):
    return (
        f"resumed with {state} as rank {rank} of {world_size}: read row groups {got[:8]}...; expected "
        f"{expected[:8]}... ({kit.first_difference(got, expected)}). Likely cause: {why} Step 3."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_resuming_never_rereads_the_row_group_in_progress(dl, wide, take, kit):
    state = {"pq_idx": 0, "rg_idx": 1}
    got, expected = _run(wide, dl, take, None, None, 30, resume=state)
    got_rgs, expected_rgs = kit.row_groups_read(_states(got)), kit.row_groups_read(_states(expected))
    assert got_rgs == expected_rgs, _resume_message(
        state, 0, 1, got_rgs, expected_rgs, kit,
        "the checkpoint's row group may be half read: skip the whole round it is in (base_idx = rg_idx // W + 1) "
        "and start at this rank's slot of the next round, base_idx * W + rank; repeating data is worse than "
        "skipping a little.",
    )  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_every_rank_resumes_in_its_own_slot_of_the_next_round(dl, wide, take, kit):
    state = {"pq_idx": 0, "rg_idx": 5}
    for rank in range(4):
        got, expected = _run(wide, dl, take, rank, 4, 10, resume=state)
        got_rgs, expected_rgs = kit.row_groups_read(_states(got)), kit.row_groups_read(_states(expected))
        assert got_rgs == expected_rgs, _resume_message(
            state, rank, 4, got_rgs, expected_rgs, kit,
            "each rank resumes at its own slot of the next round, base_idx * W + rank, not at one shared row group.",
        )  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_a_loader_resumed_from_a_yielded_state_in_a_later_file_continues_like_nanochat(dl, wide, take, kit):
    states = wide.judge(None, None, lambda: _states(itertools.islice(_loader(ref, *SMALL, "train"), 600)))
    state = next(s for s in states if s["pq_idx"] == 1 and s["rg_idx"] >= 2)  # a real checkpoint in file 1
    got, expected = _run(wide, dl, take, None, None, 20, resume=state)
    got_rgs, expected_rgs = kit.row_groups_read(_states(got)), kit.row_groups_read(_states(expected))
    assert got_rgs == expected_rgs, _resume_message(
        state, 0, 1, got_rgs, expected_rgs, kit,
        "tokenizing_distributed_data_loader_with_state must hand resume_state_dict on to the document reader, "
        "which starts in file pq_idx (not file 0) at the next row group of its stride.",
    )  # fmt: skip


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_a_resumed_run_starts_its_next_epoch_at_the_first_file(dl, wide, take, kit):
    state = {"pq_idx": 1, "rg_idx": 10}  # resumes at row group 11, the last of the last train file
    got, expected = _run(wide, dl, take, None, None, 60, resume=state)
    got_rgs, expected_rgs = kit.row_groups_read(_states(got)), kit.row_groups_read(_states(expected))
    assert got_rgs == expected_rgs, _resume_message(
        state, 0, 1, got_rgs, expected_rgs, kit,
        "the saved (pq_idx, rg_idx) applies to the first pass only: once the split runs out, the next epoch "
        "starts at file 0, row group `rank`, like any other.",
    )  # fmt: skip
