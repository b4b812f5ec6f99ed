"""Tests for the RL core math: advantages, rollout padding/masking and the per-token-normalised objective."""

import torch
import torch.nn.functional as F

from nanochat_ref.gpt import GPT, GPTConfig
from nanochat_ref.scripts.chat_rl import compute_advantages, pass_at_k, policy_gradient_loss, rollout_batch


def test_advantages_are_rewards_minus_their_mean_without_std_scaling():
    adv = compute_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0]))
    torch.testing.assert_close(adv, torch.tensor([0.4, -0.6, -0.6, 0.4, 0.4]))
    assert compute_advantages(torch.tensor([1.0, 1.0])).abs().sum() == 0


def test_rollout_batch_masks_prompt_forced_tokens_and_padding():
    seqs = [[5, 6, 7, 8, 9], [5, 6, 7]]
    masks = [[0, 0, 1, 0, 1], [0, 0, 1]]  # prompt = first 2; token 8 was forced (calculator output)
    inputs, targets = rollout_batch(seqs, masks, pad_token_id=3)
    assert inputs.tolist() == [[5, 6, 7, 8], [5, 6, 7, 3]]
    assert targets.tolist() == [[-1, 7, -1, 9], [-1, 7, -1, -1]]


def tiny_model():
    torch.manual_seed(0)
    model = GPT(GPTConfig(sequence_len=16, vocab_size=20, n_layer=1, n_head=2, n_kv_head=2, n_embd=16))
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    return model


def test_policy_gradient_loss_is_normalised_per_valid_token():
    model = tiny_model()
    inputs = torch.tensor([[1, 2, 3, 4], [1, 2, 5, 6]])
    targets = torch.tensor([[-1, 3, 4, 7], [-1, 5, -1, -1]])
    adv = torch.tensor([0.5, -0.5])
    loss = policy_gradient_loss(model, inputs, targets, adv, num_passes=2, examples_per_rank=3)
    logp_all = F.log_softmax(model(inputs), dim=-1)  # (B, T, V)
    expected = 0.0
    for b in range(2):
        for t in range(4):
            if targets[b, t] >= 0:
                expected += adv[b] * logp_all[b, t, targets[b, t]]
    expected = -expected / (4 * 2 * 3)  # 4 valid tokens, 2 passes, 3 examples per rank
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)


def test_policy_gradient_raises_the_probability_of_rewarded_samples():
    model = tiny_model()
    inputs = torch.tensor([[1, 2], [1, 2]])
    targets = torch.tensor([[2, 9], [2, 11]])
    adv = compute_advantages(torch.tensor([1.0, 0.0]))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = F.log_softmax(model(inputs[:1]), dim=-1)[0, 1]
    for _ in range(5):
        policy_gradient_loss(model, inputs, targets, adv, 1, 1).backward()
        opt.step()
        opt.zero_grad()
    after = F.log_softmax(model(inputs[:1]), dim=-1)[0, 1]
    assert after[9] > before[9] and after[11] < before[11]


def test_pass_at_k_counts_problems_with_any_correct_sample_in_the_first_k():
    records = [
        {"outcomes": [{"is_correct": False}, {"is_correct": True}]},
        {"outcomes": [{"is_correct": False}, {"is_correct": False}]},
    ]
    assert pass_at_k(records, 1) == 0.0 and pass_at_k(records, 2) == 0.5
