"""Reinforcement learning on GSM8K-style problems: nanochat's simplified "GRPO" (`scripts/chat_rl.py`, commit C).

    python -m nanochat_ref.scripts.chat_rl                      # from the SFT checkpoint
    python -m nanochat_ref.scripts.chat_rl --tiny               # a few steps for the CPU speedrun

Design choices (the algorithm ends up close to plain REINFORCE):

1. No trust region and no KL penalty to a reference model.
2. No PPO ratio or clipping: training is fully on-policy (every batch is sampled by the current weights).
3. Token-level (DAPO-style) normalisation: the objective is summed over valid tokens and divided by the number of
   valid tokens (times passes and examples per rank), not averaged per sequence (`policy_gradient_loss`).
4. The advantage is `r - mean(r)` over the samples of one question, not a z-score (`compute_advantages`).

Rollouts: `render_for_completion` -> `Engine.generate_batch` (`device_batch_size` samples at a time until
`num_samples`), reward 1.0 when the number after `#### ` matches. Sequences are right-padded with
`<|assistant_end|>`; targets are -1 wherever the Engine mask is 0 (the prompt and the *forced* calculator outputs,
which the policy did not choose) and on padding (`rollout_batch`). LR multiplier `1 - step/num_steps`.
Evaluation: pass@k, k = 1..`device_batch_size`, at temperature 1.0 on held-out problems.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import torch
import torch.distributed as dist

from ..common import autocast_ctx, autodetect_device_type, compute_init, get_base_dir, get_dist_info, print0
from ..engine import Engine
from ..tasks.gsm8k import GSM8K


def compute_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """`r - mean(r)` over the samples of one question (no division by the std)."""
    return rewards - rewards.mean()


def rollout_batch(sequences: list[list[int]], masks: list[list[int]], pad_token_id: int):
    """Pad rollouts into `(inputs, targets)` `(B, T)`; targets are -1 where the mask is 0 or on padding."""
    max_length = max(len(seq) for seq in sequences)
    padded_ids = [seq + [pad_token_id] * (max_length - len(seq)) for seq in sequences]
    padded_masks = [mask + [0] * (max_length - len(mask)) for mask in masks]
    ids = torch.tensor(padded_ids, dtype=torch.long)  # (B, T+1)
    mask_ids = torch.tensor(padded_masks, dtype=torch.long)  # (B, T+1)
    inputs = ids[:, :-1]  # (B, T)
    targets = ids[:, 1:].clone()  # (B, T)
    targets[mask_ids[:, 1:] == 0] = -1
    return inputs, targets


def policy_gradient_loss(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    advantages: torch.Tensor,
    num_passes: int,
    examples_per_rank: int,
) -> torch.Tensor:
    """`-sum(logp * adv) / (num_valid_tokens * num_passes * examples_per_rank)` for one pass.

    `logp` is the log-probability of each target token (0 where the target is -1, so those never contribute).
    """
    logp = -model(inputs, targets, loss_reduction="none").view_as(inputs)  # (B, T)
    pg_obj = (logp * advantages.unsqueeze(-1)).sum()
    num_valid = (targets >= 0).sum().clamp(min=1)
    pg_obj = pg_obj / (num_valid * num_passes * examples_per_rank)
    return -pg_obj


def update_step(
    model,
    optimizers,
    rollouts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    step: int,
    num_steps: int,
    device_batch_size: int,
    device_type: str = "cpu",
) -> None:
    """One RL optimizer step on this rank's questions (a lab helper: nanochat writes it inline in its loop).

    `rollouts` holds one `(inputs, targets, advantages)` per question, shaped `(N, T)`, `(N, T)`, `(N,)` with `N`
    a multiple of `device_batch_size`. Each pass of `device_batch_size` rows backpropagates its
    `policy_gradient_loss` (so the gradients add up over passes and questions); then every group's LR becomes
    `initial_lr * (1 - step / num_steps)`, every optimizer steps once and the gradients are cleared.
    """
    examples_per_rank = len(rollouts)
    for inputs_all, targets_all, advantages_all in rollouts:
        assert inputs_all.size(0) % device_batch_size == 0
        num_passes = inputs_all.size(0) // device_batch_size
        for pass_idx in range(num_passes):
            b0, b1 = pass_idx * device_batch_size, (pass_idx + 1) * device_batch_size
            with autocast_ctx(device_type):
                loss = policy_gradient_loss(
                    model, inputs_all[b0:b1], targets_all[b0:b1], advantages_all[b0:b1],
                    num_passes, examples_per_rank,
                )  # fmt: skip
            loss.backward()
    lrm = 1.0 - step / num_steps
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * lrm
    for opt in optimizers:
        opt.step()
    model.zero_grad(set_to_none=True)


@torch.no_grad()
def get_batch(task, tokenizer, engine, args, device, device_type):
    """Yield rollouts for one question at a time, cycling over the task's indices `rank, rank+W, ...`."""
    _, rank, _, world_size = get_dist_info()
    assistant_end = tokenizer.encode_special("<|assistant_end|>")
    rank_indices = range(rank, len(task), world_size)
    for step, example_idx in enumerate(itertools.cycle(rank_indices)):
        conversation = task[example_idx]
        tokens = tokenizer.render_for_completion(conversation)
        prefix_length = len(tokens)
        generated, masks = [], []
        num_sampling_steps = args.num_samples // args.device_batch_size
        for sampling_step in range(num_sampling_steps):
            seed = (hash((step, example_idx, sampling_step)) + args.seed) & 0x7FFFFFFF
            with autocast_ctx(device_type):
                seqs, seq_masks = engine.generate_batch(
                    tokens,
                    num_samples=args.device_batch_size,
                    max_tokens=args.max_new_tokens,
                    temperature=args.temperature,
                    top_k=args.top_k,
                    seed=seed,
                )
            generated.extend(seqs)
            masks.extend(seq_masks)
        rewards = []
        for seq in generated:
            completion = tokenizer.decode(seq[prefix_length:])
            rewards.append(task.reward(conversation, completion))
        inputs, targets = rollout_batch(generated, masks, assistant_end)
        rewards_t = torch.tensor(rewards, dtype=torch.float, device=device)
        yield generated, inputs.to(device), targets.to(device), rewards_t, compute_advantages(rewards_t)


def run_gsm8k_eval(
    task, tokenizer, engine, max_examples, num_samples, max_completion_tokens, temperature, top_k
):
    """Yield `{"idx", "outcomes": [{"is_correct"}]}` per example (strided across ranks)."""
    _, rank, _, world_size = get_dist_info()
    max_examples = min(max_examples, len(task))
    for idx in range(rank, max_examples, world_size):
        conversation = task[idx]
        tokens = tokenizer.render_for_completion(conversation)
        prefix_length = len(tokens)
        seqs, _ = engine.generate_batch(
            tokens,
            num_samples=num_samples,
            max_tokens=max_completion_tokens,
            temperature=temperature,
            top_k=top_k,
        )
        outcomes = [
            {"is_correct": task.evaluate(conversation, tokenizer.decode(s[prefix_length:]))} for s in seqs
        ]
        yield {"idx": idx, "outcomes": outcomes}


def pass_at_k(records: list[dict], k: int) -> float:
    return sum(any(o["is_correct"] for o in r["outcomes"][:k]) for r in records) / max(len(records), 1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="RL on GSM8K-style problems (simplified GRPO / REINFORCE)")
    p.add_argument("--source", type=str, default="sft", help="which checkpoint to start from: sft|mid")
    p.add_argument("--model_tag", type=str, default=None, help="model tag to load (default: largest)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step to load (default: last)")
    p.add_argument("--device_type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument("--device_batch_size", type=int, default=8, help="samples generated / trained per pass")
    p.add_argument(
        "--examples_per_step", type=int, default=16, help="questions per optimizer step (all ranks)"
    )
    p.add_argument("--num_samples", type=int, default=16, help="samples per question")
    p.add_argument("--max_new_tokens", type=int, default=256, help="max tokens per sample")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--top_k", type=int, default=50, help="top-k sampling")
    p.add_argument("--unembedding_lr", type=float, default=0.004, help="AdamW LR of lm_head")
    p.add_argument("--embedding_lr", type=float, default=0.2, help="AdamW LR of wte")
    p.add_argument("--matrix_lr", type=float, default=0.02, help="Muon LR of the block matrices")
    p.add_argument("--weight_decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--init_lr_frac", type=float, default=0.05, help="start at this fraction of the base LRs")
    p.add_argument("--num_epochs", type=int, default=1, help="passes over the training questions")
    p.add_argument("--num_steps", type=int, default=-1, help="explicit number of steps (-1: from epochs)")
    p.add_argument("--save_every", type=int, default=60, help="save a checkpoint every N steps")
    p.add_argument("--eval_every", type=int, default=60, help="pass@k evaluation every N steps (0: never)")
    p.add_argument("--eval_examples", type=int, default=400, help="held-out questions per evaluation")
    p.add_argument("--seed", type=int, default=0, help="added to every rollout's sampling seed")
    p.add_argument("--tiny", action="store_true", help="a few short steps for the CPU speedrun")
    p.add_argument("--out_tag", type=str, default=None, help="checkpoint tag to save under")
    return p


TINY_PRESET = dict(
    device_batch_size=8,
    num_samples=8,
    examples_per_step=4,
    max_new_tokens=96,
    eval_examples=50,
    num_steps=15,
    eval_every=0,
    save_every=10**9,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse flags; `--tiny` replaces the defaults with TINY_PRESET, explicit flags still win."""
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    if first.tiny:
        parser.set_defaults(**TINY_PRESET)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    from ..checkpoint_manager import load_model, save_checkpoint
    from ..report import get_report

    args = parse_args(argv)
    device_type = autodetect_device_type() if args.device_type == "" else args.device_type
    ddp, rank, _, world_size, device = compute_init(device_type)
    model, tokenizer, meta = load_model(
        args.source, device, phase="eval", model_tag=args.model_tag, step=args.step
    )
    engine = Engine(model, tokenizer)
    train_task = GSM8K(subset="main", split="train")
    val_task = GSM8K(subset="main", split="test")
    assert args.examples_per_step % world_size == 0, "examples_per_step must be divisible by the world size"
    examples_per_rank = args.examples_per_step // world_size
    assert args.num_samples % args.device_batch_size == 0, (
        "num_samples must be a multiple of device_batch_size"
    )
    num_steps = (
        args.num_steps
        if args.num_steps > 0
        else (len(train_task) // args.examples_per_step) * args.num_epochs
    )
    print0(f"RL: {num_steps} steps, {examples_per_rank} questions per rank per step")

    optimizers = model.setup_optimizers(
        unembedding_lr=args.unembedding_lr,
        embedding_lr=args.embedding_lr,
        matrix_lr=args.matrix_lr,
        weight_decay=args.weight_decay,
    )
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["lr"] * args.init_lr_frac
            group["initial_lr"] = group["lr"]

    def evaluate() -> dict[str, float]:
        model.eval()
        with autocast_ctx(device_type):
            records = list(
                run_gsm8k_eval(val_task, tokenizer, engine, args.eval_examples, args.device_batch_size,
                               args.max_new_tokens, temperature=1.0, top_k=args.top_k)
            )  # fmt: skip
        return {f"pass@{k}": pass_at_k(records, k) for k in range(1, args.device_batch_size + 1)}

    batch_iterator = get_batch(train_task, tokenizer, engine, args, device, device_type)
    t0 = time.time()
    history = []
    eval_metrics: dict[str, float] = {}
    for step in range(num_steps):
        if args.eval_every > 0 and step % args.eval_every == 0:
            eval_metrics = evaluate()
            print0(f"Step {step} | " + ", ".join(f"{k}: {v:.4f}" for k, v in eval_metrics.items()))
        rollouts, rewards_list, seq_lengths = [], [], []
        for _ in range(examples_per_rank):
            sequences_all, inputs_all, targets_all, rewards_all, advantages_all = next(batch_iterator)
            rollouts.append((inputs_all, targets_all, advantages_all))
            rewards_list.append(rewards_all.mean().item())
            seq_lengths.extend(len(s) for s in sequences_all)
        mean_reward = sum(rewards_list) / len(rewards_list)
        mean_len = sum(seq_lengths) / len(seq_lengths)
        if ddp:
            t = torch.tensor([mean_reward, mean_len], device=device)
            dist.all_reduce(t, op=dist.ReduceOp.AVG)
            mean_reward, mean_len = t.tolist()
        print0(f"Step {step}/{num_steps} | reward: {mean_reward:.4f} | sequence length: {mean_len:.1f}")
        history.append(mean_reward)
        model.train()
        update_step(model, optimizers, rollouts, step, num_steps, args.device_batch_size, device_type)
        model.eval()
        if rank == 0 and ((step > 0 and step % args.save_every == 0) or step == num_steps - 1):
            tag = args.out_tag or args.model_tag or f"d{model.config.n_layer}"
            save_checkpoint(
                os.path.join(get_base_dir(), "chatrl_checkpoints", tag),
                step,
                model.state_dict(),
                None,
                {"step": step, "model_config": meta["model_config"]},
            )
    train_time = time.time() - t0
    stats = {
        "Number of steps": num_steps,
        "Mean reward (first step)": history[0] if history else float("nan"),
        "Mean reward (last step)": history[-1] if history else float("nan"),
        "Mean reward (all steps)": sum(history) / max(len(history), 1),
        "Training time (s)": train_time,
        **{f"Initial {k}": v for k, v in eval_metrics.items()},
    }
    get_report().log("Chat RL", [vars(args), stats])
    return {**stats, "rewards": history}


if __name__ == "__main__":
    main()
