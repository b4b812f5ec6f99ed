"""Visible tests for module 10 (RL). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from grading.testkit import assert_number, assert_tensor
from nanochat_ref.scripts import chat_rl as ref

PAD = 3

# --- step 1: compute_advantages --------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_advantages_are_rewards_minus_their_mean(rl):
    adv = rl.compute_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]))
    assert_tensor(
        adv,
        torch.tensor([0.5, -0.5, -0.5, 0.5]),
        what="compute_advantages([1, 0, 0, 1])",
        msg="advantage must be r - mean(r): [0.5, -0.5, -0.5, 0.5]",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_advantages_are_not_divided_by_the_std(rl):
    adv = rl.compute_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert_tensor(
        adv,
        torch.tensor([0.75, -0.25, -0.25, -0.25]),
        what="compute_advantages([1, 0, 0, 0])",
        msg="advantage must be r - mean(r) with no division by the standard deviation",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_equal_rewards_give_zero_advantages(rl):
    adv = rl.compute_advantages(torch.ones(16))
    assert torch.equal(adv, torch.zeros(16)), f"all-equal rewards must give advantage 0 everywhere, got {adv}"


# --- step 2: rollout_batch and policy_gradient_loss ------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_rollout_inputs_are_padded_ids_without_the_last(rl):
    inputs, _ = rl.rollout_batch([[1, 2, 3, 4], [5, 6]], [[0, 0, 1, 1], [0, 1]], PAD)
    expected = torch.tensor([[1, 2, 3], [5, 6, PAD]])
    assert torch.equal(inputs, expected), f"inputs are the padded ids without the last column:\n{inputs}"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_rollout_targets_are_minus_one_on_prompt_and_padding(rl):
    _, targets = rl.rollout_batch([[1, 2, 3, 4], [5, 6]], [[0, 0, 1, 1], [0, 1]], PAD)
    expected = torch.tensor([[-1, 3, 4], [6, -1, -1]])
    assert torch.equal(targets, expected), (
        f"targets are ids[:, 1:], -1 where mask[:, 1:] is 0 or on padding: expected {expected.tolist()}, "
        f"got {targets.tolist()}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_rollout_masks_forced_tool_output_tokens(rl):
    seqs, masks = [[1, 2, 7, 8, 9, 4]], [[0, 1, 0, 0, 1, 1]]  # 7, 8: forced calculator output, mask 0
    _, targets = rl.rollout_batch(seqs, masks, PAD)
    _, expected = ref.rollout_batch(seqs, masks, PAD)
    assert torch.equal(targets, expected), (
        f"forced tokens (mask 0) must get target -1: expected {expected.tolist()}, got {targets.tolist()}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_policy_gradient_loss_matches_the_reference(rl, model, judge_model):
    inputs, targets = ref.rollout_batch([[1, 5, 9, 11, 2], [1, 5, 7]], [[0, 1, 1, 1, 1], [0, 1, 1]], PAD)
    adv = torch.tensor([0.5, -0.5])
    loss = rl.policy_gradient_loss(model, inputs, targets, adv, 1, 1)
    expected = ref.policy_gradient_loss(judge_model, inputs, targets, adv, 1, 1)
    assert_tensor(
        loss,
        expected.detach(),
        what="policy_gradient_loss(...)",
        msg="the loss is a 0-d tensor: -sum(logp * advantage) / num_valid_tokens, like the reference's",
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_policy_gradient_loss_is_zero_with_zero_advantages(rl, model):
    inputs, targets = ref.rollout_batch([[1, 5, 9, 11], [1, 5, 7, 2]], [[0, 1, 1, 1], [0, 1, 1, 1]], PAD)
    loss = rl.policy_gradient_loss(model, inputs, targets, torch.zeros(2), 1, 1)
    assert_tensor(
        loss,
        torch.tensor(0.0),
        rtol=0,
        atol=1e-7,
        what="policy_gradient_loss(...) with zero advantages",
        msg="zero advantages must give loss 0 (a 0-d tensor)",
    )


# --- step 3: pass_at_k -----------------------------------------------------------------------------------------


def _records(*rows: str) -> list[dict]:
    """'01' -> a record whose first outcome is wrong and second right."""
    return [{"idx": i, "outcomes": [{"is_correct": c == "1"} for c in row]} for i, row in enumerate(rows)]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_pass_at_1_counts_only_the_first_sample(rl):
    value = rl.pass_at_k(_records("10", "01", "00", "11"), 1)
    assert_number(value, 0.5, what="pass_at_k(records, 1)", msg="pass@1 of [10, 01, 00, 11] is 2/4")


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_pass_at_k_counts_a_record_if_any_of_its_first_k_is_correct(rl):
    value = rl.pass_at_k(_records("10", "01", "00", "11"), 2)
    assert_number(value, 0.75, what="pass_at_k(records, 2)", msg="pass@2 of [10, 01, 00, 11] is 3/4")
