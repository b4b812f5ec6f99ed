"""Hidden tests for module 10: advantage edges, rollout padding, loss normalisation and gradient, pass@k edges."""

import pytest
import torch

from grading.testkit import assert_number, assert_tensor, check_tensor, finite_max, finite_numbers
from nanochat_ref.scripts import chat_rl as ref

# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
@pytest.mark.parametrize(
    "rewards",
    [[0.0], [1.0, 0.0], [0.0] * 15 + [1.0], [0.25, 0.5, 1.0, 0.0, 0.75]],
    ids=["one", "two", "16", "five"],
)
def test_advantages_match_the_reference(rl, rewards):
    r = torch.tensor(rewards)
    adv = rl.compute_advantages(r)
    assert_tensor(adv, ref.compute_advantages(r), what=f"compute_advantages({rewards})")


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_advantages_keep_the_shape_and_sum_to_zero(rl):
    adv = rl.compute_advantages(torch.tensor([1.0, 1.0, 0.0]))
    check_tensor(
        adv, shape=(3,), what="compute_advantages([1, 1, 0])", msg="advantage must keep the shape (3,)"
    )
    assert_number(
        float(adv.sum()),
        0.0,
        abs=1e-6,
        what="the sum of the advantages",
        msg="advantages of one question sum to 0",
    )


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
@pytest.mark.parametrize(
    ("seqs", "masks"),
    [
        ([[1, 2]], [[0, 1]]),
        ([[1, 2, 3], [4, 5, 6]], [[0, 1, 1], [0, 0, 1]]),
        ([[1], [2, 3, 4, 5, 6]], [[0], [0, 1, 0, 1, 1]]),
    ],
    ids=["one-token-completion", "same-length", "empty-completion"],
)
def test_rollout_batch_matches_the_reference(rl, seqs, masks):
    got = rl.rollout_batch(seqs, masks, 63)
    want = ref.rollout_batch(seqs, masks, 63)
    assert torch.equal(got[0], want[0]), f"inputs differ for {seqs}"
    assert torch.equal(got[1], want[1]), f"targets differ for {seqs}"
    assert got[0].dtype == torch.long and got[1].dtype == torch.long, "inputs and targets must be int64"


def _batch():
    return ref.rollout_batch(
        [[1, 5, 9, 11, 2, 4], [1, 5, 7], [1, 5, 8, 8]],
        [[0, 0, 1, 1, 1, 1], [0, 1, 1], [0, 1, 0, 1]],
        3,
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.parametrize(("passes", "per_rank"), [(1, 1), (4, 1), (2, 8)])
def test_policy_gradient_loss_is_normalised_by_tokens_passes_and_examples(
    rl, model, judge_model, passes, per_rank
):
    inputs, targets = _batch()
    adv = torch.tensor([1.0, -0.25, -0.75])
    loss = rl.policy_gradient_loss(model, inputs, targets, adv, passes, per_rank)
    expected = ref.policy_gradient_loss(judge_model, inputs, targets, adv, passes, per_rank)
    assert_tensor(loss, expected.detach(), what=f"policy_gradient_loss with {passes} passes, {per_rank}/rank")


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_policy_gradient_loss_with_no_valid_token_is_finite(rl, model):
    inputs = torch.tensor([[1, 2, 3]])
    targets = torch.full((1, 3), -1)
    loss = rl.policy_gradient_loss(model, inputs, targets, torch.tensor([1.0]), 1, 1)
    assert_tensor(
        loss,
        torch.tensor(0.0),
        rtol=0,
        atol=0,
        what="policy_gradient_loss with no valid token",
        msg="no valid token: the loss must be 0, not NaN",
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_loss_is_minus_the_advantage_weighted_log_probs_per_valid_token(rl, model, judge_model):
    inputs, targets = _batch()
    adv = torch.tensor([1.0, 0.0, 0.0])
    got = rl.policy_gradient_loss(model, inputs, targets, adv, 1, 1)
    loss = float(check_tensor(got, shape=(), dtype=torch.float32, what="policy_gradient_loss(...)"))
    logp = -judge_model(inputs, targets, loss_reduction="none").view_as(inputs)
    expected = -float(logp[0].sum()) / int((targets >= 0).sum())
    assert_number(
        loss, expected, rel=1e-4, what="the loss", msg="loss must be -sum(logp * adv) / num_valid_tokens"
    )
    assert loss > 0, "logp < 0 and advantage > 0 give a positive loss (minus the objective)"


# --- step 3 ---------------------------------------------------------------------------------------------------


def _records(*rows: str) -> list[dict]:
    return [{"idx": i, "outcomes": [{"is_correct": c == "1"} for c in row]} for i, row in enumerate(rows)]


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.parametrize("k", [1, 2, 3, 4, 8])
def test_pass_at_k_matches_the_reference(rl, k):
    records = _records("0001", "0100", "0000", "1111", "0010", "00")
    assert_number(rl.pass_at_k(records, k), ref.pass_at_k(records, k), what=f"pass_at_k(records, {k})")


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_pass_at_k_never_decreases_with_k(rl):
    records = _records("00010000", "01000000", "00000001", "10000000")
    values = finite_numbers([rl.pass_at_k(records, k) for k in range(1, 9)], what="pass_at_k for k = 1..8")
    assert values == sorted(values), f"pass@k must grow with k: {values}"
    assert_number(values[-1], 1.0, what="pass_at_k(records, 8)", msg=f"pass@k must grow with k: {values}")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_pass_at_k_of_no_records_is_zero(rl):
    assert_number(
        rl.pass_at_k([], 1),
        0.0,
        rel=0,
        abs=0,
        what="pass_at_k([], 1)",
        msg="pass@k without records must be 0.0 (no division by zero)",
    )


# --- step 4 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_one_question_in_one_pass_updates_like_the_reference(rl, model, judge_model):
    import copy

    gen = torch.Generator().manual_seed(7)
    seqs = [[1, 2] + torch.randint(4, 64, (4 + i,), generator=gen).tolist() for i in range(3)]
    masks = [[0, 0] + [1] * (len(s) - 2) for s in seqs]
    inputs, targets = ref.rollout_batch(seqs, masks, 3)
    adv = ref.compute_advantages(torch.tensor([0.0, 1.0, 1.0]))
    lrs = {"unembedding_lr": 0.002, "embedding_lr": 0.01, "matrix_lr": 0.004}
    rl.update_step(model, model.setup_optimizers(**lrs), [(inputs, targets, adv)], 1, 5, 3)
    twin = copy.deepcopy(judge_model)
    ref.update_step(twin, twin.setup_optimizers(**lrs), [(inputs, targets, adv)], 1, 5, 3)
    got, want = model.state_dict(), twin.state_dict()
    err = finite_max(
        [float((got[k] - v).abs().max()) for k, v in want.items()], what="max abs error per parameter"
    )
    assert err < 1e-5, f"parameters after update_step differ from the reference by {err:.3g}"
