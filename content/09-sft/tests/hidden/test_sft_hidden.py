"""Hidden tests for module 09: collate edges, generator order and epochs, distributed striding, lr edges."""

import pytest
import torch

from grading.testkit import assert_numbers
from nanochat_ref.scripts import chat_sft as ref

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.parametrize(
    "batch",
    [
        [([5, 6], [0, 1])],
        [([5, 6], [0, 0])],
        [([1, 2, 3], [0, 1, 0]), ([4, 5, 6, 7, 8, 9], [0, 0, 1, 1, 0, 1]), ([3, 3], [1, 1])],
        [([1, 2, 3, 4], [1, 1, 1, 1]), ([1, 2, 3, 4], [0, 0, 0, 0])],
    ],
    ids=["two-tokens", "all-masked", "three-rows", "same-length"],
)
def test_collate_matches_the_reference(sft, batch):
    inputs, targets = sft.sft_collate(batch, 0)
    ref_inputs, ref_targets = ref.sft_collate(batch, 0)
    assert torch.equal(inputs, ref_inputs), f"inputs differ from the reference for {batch}"
    assert torch.equal(targets, ref_targets), f"targets differ from the reference for {batch}"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_collate_every_rendered_conversation_matches_the_reference(sft, judge_tok, sd):
    batch = [judge_tok.render_conversation(c) for c in sd.CONVERSATIONS]
    pad = judge_tok.encode_special("<|assistant_end|>")
    got = sft.sft_collate(batch, pad)
    want = ref.sft_collate(batch, pad)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_batches_follow_the_dataset_order_and_wrap_around(sft, tok, lnext, judge_tok, sd):
    gen = sft.sft_data_generator(sd.CONVERSATIONS, tok, 3, "cpu")
    ref_gen = ref.sft_data_generator(sd.CONVERSATIONS, judge_tok, 3, "cpu")
    for step in range(5):  # 7 conversations, batches of 3: the third batch wraps into the second epoch
        got, want = lnext(gen), next(ref_gen)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]), f"batch {step} differs"


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_crops_conversations_to_max_tokens(sft, tok, lnext, judge_tok, sd):
    inputs, targets = lnext(sft.sft_data_generator(sd.CONVERSATIONS[2:4], tok, 2, "cpu", max_tokens=12))
    want = next(ref.sft_data_generator(sd.CONVERSATIONS[2:4], judge_tok, 2, "cpu", max_tokens=12))
    assert inputs.shape[1] <= 11, "conversations must be rendered with max_tokens"
    assert torch.equal(inputs, want[0]) and torch.equal(targets, want[1])


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_strides_over_the_dataset_by_rank(sft, tok, lnext, learner, judge_tok, sd, monkeypatch):
    env = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "3"}
    los = learner.module("os")
    los.environ.update(env)
    try:
        gen = sft.sft_data_generator(sd.CONVERSATIONS, tok, 2, "cpu")
        got = [lnext(gen) for _ in range(2)]
    finally:
        for key in env:
            los.environ.pop(key, None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ref_gen = ref.sft_data_generator(sd.CONVERSATIONS, judge_tok, 2, "cpu")
    for step in range(2):
        want = next(ref_gen)
        assert torch.equal(got[step][0], want[0]) and torch.equal(got[step][1], want[1]), (
            f"rank 1 of 3 must read rows 1, 4, 1, 4, ...: batch {step} differs"
        )


# --- step 3 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
@pytest.mark.parametrize("lrm", [1.0, 0.0, 1 - 350 / 700])
def test_set_lr_matches_the_schedule_multiplier(sft, learner, lrm):
    opt = learner.module("types").SimpleNamespace(param_groups=[{"lr": 9.0, "initial_lr": 0.004, "x": 1}])
    sft.set_lr([opt], lrm)
    group = learner.value(opt.param_groups)[0]
    assert_numbers(group, {"lr": 0.004 * lrm, "initial_lr": 0.004, "x": 1}, what="the param group")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_set_lr_leaves_nothing_else_and_accepts_no_optimizers(sft, learner):
    sft.set_lr([], 0.5)
    opt = learner.module("types").SimpleNamespace(param_groups=[])
    sft.set_lr([opt], 0.5)
    assert learner.value(opt.param_groups) == [], "set_lr must not add param groups"
