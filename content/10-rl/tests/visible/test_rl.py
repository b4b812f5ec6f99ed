"""Visible tests for module 10 (RL). Learner code is reached only through the ``learner`` fixture."""

import copy

import pytest
import torch

from grading.testkit import assert_number, assert_tensor, finite_max, finite_numbers
from grading.testkit.shipped import RL_RUN_FLAGS
from nanochat_ref.scripts import chat_rl as ref

PAD = 3
RUN_STEPS = 12  # the number of steps RL_RUN_FLAGS asks for

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


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_policy_gradient_loss_divides_by_passes_and_questions(rl, model, judge_model):
    inputs, targets = ref.rollout_batch([[1, 5, 9, 11, 2], [1, 5, 7]], [[0, 1, 1, 1, 1], [0, 1, 1]], PAD)
    adv = torch.tensor([0.5, -0.5])
    loss = rl.policy_gradient_loss(model, inputs, targets, adv, 2, 3)
    expected = ref.policy_gradient_loss(judge_model, inputs, targets, adv, 2, 3)
    assert_tensor(
        loss,
        expected.detach(),
        what="policy_gradient_loss(..., num_passes=2, examples_per_rank=3)",
        msg="the summed objective is divided by num_valid_tokens * num_passes * examples_per_rank, so the "
        "gradients accumulated over every pass and question add up to one average",
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


# --- step 4: the update step and a real RL run ----------------------------------------------------------------

LRS = {"unembedding_lr": 0.004, "embedding_lr": 0.02, "matrix_lr": 0.002}


def _rollouts(seed: int, n: int = 4):
    """One question's rollouts for the tiny GPT: n sequences (prompt 0-masked), rewards, advantages."""
    gen = torch.Generator().manual_seed(seed)
    seqs, masks = [], []
    for i in range(n):
        completion = torch.randint(4, 64, (5 + 2 * i,), generator=gen).tolist()
        seqs.append([1, 2, 3] + completion)
        masks.append([0, 0, 0] + [1] * len(completion))
    inputs, targets = ref.rollout_batch(seqs, masks, PAD)
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0][:n])
    return inputs, targets, ref.compute_advantages(rewards), rewards


def _seq_logp(judge_model, state: dict, inputs, targets) -> torch.Tensor:
    """Summed log-probability of each row's valid targets under the reference GPT with ``state``."""
    judge = copy.deepcopy(judge_model)
    judge.load_state_dict(state)
    with torch.no_grad():
        return -judge(inputs, targets, loss_reduction="none").view_as(inputs).sum(dim=1)


def _max_abs_error(got: dict, expected: dict) -> float:
    errors = [float((got[k].float() - v.float()).abs().max()) for k, v in expected.items()]
    return finite_max(errors, what="max abs error per parameter")


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_one_update_raises_the_log_probability_of_rewarded_samples(rl, model, judge_model):
    inputs, targets, adv, rewards = _rollouts(0)
    before = _seq_logp(judge_model, judge_model.state_dict(), inputs, targets)
    opts = model.setup_optimizers(**LRS)
    rl.update_step(model, opts, [(inputs, targets, adv)], 0, 1, 2)
    after = _seq_logp(judge_model, model.state_dict(), inputs, targets)
    change = after - before
    rewarded, unrewarded = change[rewards == 1], change[rewards == 0]
    assert bool((rewarded > 0).all()) and bool((unrewarded < 0).all()), (
        f"after one update the summed log-probability of the rewarded samples must rise and that of the "
        f"others fall; change per sample {change.tolist()} for rewards {rewards.tolist()}. Likely cause: the "
        "loss has the wrong sign (minimise -objective), the optimizers never step, or the gradients are "
        "cleared before the step (step 4)"
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_three_update_steps_match_the_reference(rl, model, judge_model):
    opts = model.setup_optimizers(**LRS)
    twin = copy.deepcopy(judge_model)
    ref_opts = twin.setup_optimizers(**LRS)
    for step in range(3):
        a, b = _rollouts(10 + step)[:3], _rollouts(20 + step)[:3]
        rl.update_step(model, opts, [a, b], step, 3, 2)
        ref.update_step(twin, ref_opts, [a, b], step, 3, 2)
        err = _max_abs_error(model.state_dict(), twin.state_dict())
        assert err < 1e-5, (
            f"after update step {step} of 3 (2 questions, 2 passes each) the parameters differ from nanochat's "
            f"by {err:.3g}. Likely cause: the gradients are not cleared after the step (they leak into the next "
            "one), the LR is scaled from the current LR instead of initial_lr (the multipliers compound), the "
            "multiplier is not 1 - step/num_steps, one optimizer is not stepped, or only the last pass is "
            "backpropagated (step 4)"
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_update_step_sets_each_lr_from_initial_lr(rl, learner, model):
    opts = model.setup_optimizers(**LRS)
    rl.update_step(model, opts, [_rollouts(3)[:3]], 3, 4, 4)
    for i, opt in enumerate(learner.value([opt.param_groups for opt in opts])):
        for group in opt:
            assert_number(
                group["lr"],
                group["initial_lr"] * 0.25,
                rel=1e-9,
                what=f"optimizer {i}'s LR after update_step(step=3, num_steps=4)",
                msg="each group's LR is initial_lr * (1 - step / num_steps) (step 4)",
            )


@pytest.mark.graded_run
@pytest.mark.step("step4")
@pytest.mark.hint("h12")
@pytest.mark.timeout(240)  # one long call (module.yaml call_seconds); the bug catalogue's default is 20 s
def test_a_real_rl_run_raises_the_reward_of_a_weakened_model(rl, weak_base, metrics):
    got = rl.main(RL_RUN_FLAGS)
    rewards = finite_numbers(got["rewards"], what="the mean reward per step of the RL run")
    metrics.series("reward", rewards)
    assert len(rewards) == RUN_STEPS, (
        f"expected a mean reward for each of the {RUN_STEPS} steps, got {rewards}"
    )
    q = RUN_STEPS // 4
    rise = (
        sum(rewards[-q:]) / q - rewards[0]
    )  # the last quarter against the weak start (step 0, before any update)
    metrics.record("reward_rise", rise)
    assert rise > 0, (
        f"12 RL steps from the shipped model with its answer marker muted should raise the mean reward of the "
        f"last quarter of the steps above the first step's; rewards {[round(r, 3) for r in rewards]}, rise {rise:+.3f}. "
        "Likely cause: a sign error or a missing step in the update (step 4), or advantages that do not "
        "centre the rewards (step 1)"
    )
