"""Visible tests for module 09 (SFT). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.testkit import assert_numbers
from nanochat_ref.scripts import chat_sft as ref

PAD = 7

# --- step 1: sft_collate ---------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_collate_pads_every_row_to_the_longest_sequence_minus_one(sft):
    batch = [([1, 2, 3, 4, 5], [0, 0, 1, 1, 1]), ([1, 2, 3], [0, 1, 1])]
    inputs, targets = sft.sft_collate(batch, PAD)
    assert tuple(inputs.shape) == (2, 4), (
        f"inputs must be (B, longest - 1) = (2, 4), got {tuple(inputs.shape)}"
    )
    assert tuple(targets.shape) == (2, 4), (
        f"targets must be (B, longest - 1) = (2, 4), got {tuple(targets.shape)}"
    )
    assert inputs.dtype == torch.long and targets.dtype == torch.long, "inputs and targets must be int64"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_collate_inputs_are_the_ids_without_the_last_and_padded_with_the_pad_id(sft):
    batch = [([1, 2, 3, 4, 5], [1, 1, 1, 1, 1]), ([9, 8, 6], [1, 1, 1])]
    inputs, _ = sft.sft_collate(batch, PAD)
    expected = torch.tensor([[1, 2, 3, 4], [9, 8, PAD, PAD]])
    assert torch.equal(inputs, expected), f"inputs are ids[:-1], right-padded with pad_token_id:\n{inputs}"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_collate_targets_are_the_ids_shifted_by_one_and_minus_one_on_padding(sft):
    batch = [([1, 2, 3, 4, 5], [1, 1, 1, 1, 1]), ([9, 8, 6], [1, 1, 1])]
    _, targets = sft.sft_collate(batch, PAD)
    expected = torch.tensor([[2, 3, 4, 5], [8, 6, -1, -1]])
    assert torch.equal(targets, expected), f"targets are ids[1:], with -1 on padding:\n{targets}"


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_collate_masks_the_targets_with_the_mask_shifted_by_one(sft):
    batch = [([1, 2, 3, 4, 5, 6], [1, 0, 0, 1, 1, 0])]
    _, targets = sft.sft_collate(batch, PAD)
    expected = ref.sft_collate(batch, PAD)[1]
    assert torch.equal(targets, expected), (
        f"targets must be -1 where mask[1:] is 0: expected {expected.tolist()}, got {targets.tolist()}"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_collate_on_a_rendered_conversation_supervises_only_the_assistant(sft, judge_tok, sd):
    ids, mask = judge_tok.render_conversation(sd.CONVERSATIONS[0])
    pad = judge_tok.encode_special("<|assistant_end|>")
    _, targets = sft.sft_collate([(ids, mask)], pad)
    _, expected = ref.sft_collate([(ids, mask)], pad)
    assert torch.equal(targets, expected), "targets of a rendered conversation: only assistant tokens stay"


# --- step 2: sft_data_generator --------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_yields_a_batch_of_batch_size_rows(sft, tok, lnext, sd):
    gen = sft.sft_data_generator(sd.CONVERSATIONS, tok, 3, "cpu")
    inputs, targets = lnext(gen)
    assert inputs.shape[0] == 3 and targets.shape[0] == 3, (
        f"a batch must hold batch_size (3) rows, got {inputs.shape[0]}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_generator_first_batch_matches_the_reference(sft, tok, lnext, judge_tok, sd):
    inputs, targets = lnext(sft.sft_data_generator(sd.CONVERSATIONS, tok, 2, "cpu"))
    ref_inputs, ref_targets = next(ref.sft_data_generator(sd.CONVERSATIONS, judge_tok, 2, "cpu"))
    assert torch.equal(inputs, ref_inputs), "inputs of the first batch differ from the reference"
    assert torch.equal(targets, ref_targets), "targets of the first batch differ from the reference"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_generator_pads_with_assistant_end(sft, tok, lnext, judge_tok, sd):
    batch = [sd.conv("Hi", "Hello! How are you today? I am fine."), sd.conv("Hi", "Yes.")]
    inputs, _ = lnext(sft.sft_data_generator(batch, tok, 2, "cpu"))
    pad = judge_tok.encode_special("<|assistant_end|>")
    assert int(inputs[1, -1]) == pad, (
        f"padding must be <|assistant_end|> (id {pad}), got {int(inputs[1, -1])}"
    )


# --- step 3: set_lr --------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_set_lr_scales_the_initial_lr_of_every_group(sft, learner):
    opt = learner.module("types").SimpleNamespace(
        param_groups=[{"lr": 1.0, "initial_lr": 0.02}, {"lr": 1.0, "initial_lr": 0.004}]
    )
    sft.set_lr([opt], 0.5)
    lrs = [g["lr"] for g in learner.value(opt.param_groups)]
    assert_numbers(
        lrs,
        [0.01, 0.002],
        what="lrs",
        msg=f"lr must be initial_lr * lrm in every group, got {lrs}",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_set_lr_updates_every_optimizer(sft, learner):
    ns = learner.module("types").SimpleNamespace
    opts = [
        ns(param_groups=[{"lr": 0.0, "initial_lr": 0.2}]),
        ns(param_groups=[{"lr": 0.0, "initial_lr": 0.02}]),
    ]
    sft.set_lr(opts, 0.25)
    lrs = [learner.value(o.param_groups)[0]["lr"] for o in opts]
    assert_numbers(
        lrs,
        [0.05, 0.005],
        what="lrs",
        msg=f"lr must be set in every optimizer (AdamW and Muon), got {lrs}",
    )
