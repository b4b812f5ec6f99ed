"""Supervised fine-tuning on conversations, training only on assistant tokens (nanochat `scripts/chat_sft.py`, C).

    python -m nanochat_ref.scripts.chat_sft                     # from the mid checkpoint
    python -m nanochat_ref.scripts.chat_sft --tiny              # small mixture for the CPU speedrun

Design choices:

- **One conversation per row, no packing.** A batch is right-padded to its longest row with `<|assistant_end|>`.
- **The loss mask.** Targets are the ids shifted by one, and a target is set to -1 (ignored by the loss) wherever
  `mask[1:]` is 0 and on padding: only assistant text, python calls and `<|assistant_end|>` are supervised, never
  user text or tool outputs (`sft_collate`).
- No `torch.compile` (sequence lengths vary). LR multiplier `1 - step/num_iterations`, from `init_lr_frac` (0.02)
  times the base learning rates; `num_iterations = len(train) // target_examples_per_step * num_epochs`.
- Val loss every `eval_every` steps; MMLU / ARC-Easy accuracy every `eval_metrics_every` steps via `run_chat_eval`.
- The mixture mirrors nanochat C (ARC-Easy/Challenge, GSM8K, SmolTalk, identity, SimpleSpelling, SpellingBee) on
  the offline synthetic sets; `--tiny` shrinks it and is what the CPU speedrun uses.
- `main` returns the report's figures plus the per-step training losses, LR multipliers and supervised-token counts
  and the val-loss history (the lab's graded run charts them). The optimizer step inside the loop is marked as a
  region (`# lab: begin loop-step`): the learner writes it.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from ..common import autocast_ctx, autodetect_device_type, compute_init, get_base_dir, get_dist_info, print0
from ..engine import Engine
from ..tasks.arc import ARC
from ..tasks.common import TaskMixture
from ..tasks.customjson import CustomJSON
from ..tasks.gsm8k import GSM8K
from ..tasks.smoltalk import SmolTalk
from ..tasks.spellingbee import SimpleSpelling, SpellingBee


def sft_collate(batch: list[tuple[list[int], list[int]]], pad_token_id: int):
    """Stack rendered conversations `(ids, mask)` into `(inputs, targets)`, both `(B, T)` int64.

    Rows are right-padded with `pad_token_id`; targets are -1 wherever the *target* token has mask 0 or is padding.
    """
    nrows = len(batch)
    ncols = max(len(ids) for ids, _ in batch) - 1  # inputs/targets are one shorter than the sequence
    inputs = torch.full((nrows, ncols), pad_token_id, dtype=torch.long)  # (B, T)
    targets = torch.full((nrows, ncols), -1, dtype=torch.long)  # (B, T)
    for i, (ids, mask) in enumerate(batch):
        n = len(ids)
        ids_tensor = torch.tensor(ids, dtype=torch.long)
        inputs[i, : n - 1] = ids_tensor[:-1]
        row_targets = ids_tensor[1:].clone()
        mask_tensor = torch.tensor(mask[1:], dtype=torch.long)
        row_targets[mask_tensor == 0] = -1  # the mask is aligned with the *target* position
        targets[i, : n - 1] = row_targets
    return inputs, targets


def sft_data_generator(dataset, tokenizer, batch_size: int, device, max_tokens: int = 2048):
    """Yield `(inputs, targets)` batches forever, striding over `dataset` by rank."""
    _, rank, _, world_size = get_dist_info()
    pad_token_id = tokenizer.encode_special("<|assistant_end|>")
    batch = []
    while True:
        for i in range(rank, len(dataset), world_size):
            ids, mask = tokenizer.render_conversation(dataset[i], max_tokens=max_tokens)
            batch.append((ids, mask))
            if len(batch) == batch_size:
                inputs, targets = sft_collate(batch, pad_token_id)
                yield inputs.to(device), targets.to(device)
                batch = []


def sft_mixture(tiny: bool):
    """The training mixture (and the val set), nanochat C's recipe on the synthetic sets."""
    identity = os.path.join(get_base_dir(), "identity_conversations.jsonl")
    if tiny:
        train = TaskMixture(
            [
                ARC(subset="ARC-Easy", split="train", stop=400),
                ARC(subset="ARC-Challenge", split="train", stop=200),
                GSM8K(subset="main", split="train", stop=600),
                SmolTalk(split="train", stop=200),
                CustomJSON(filepath=identity, stop=200),
                SimpleSpelling(size=200, split="train"),
                SpellingBee(size=600, split="train"),
            ]
        )
        val = SmolTalk(split="test", stop=64)
    else:
        train = TaskMixture(
            [
                ARC(subset="ARC-Easy", split="train"),
                ARC(subset="ARC-Challenge", split="train"),
                GSM8K(subset="main", split="train"),
                SmolTalk(split="train"),
                CustomJSON(filepath=identity),
                SimpleSpelling(size=300, split="train"),
                SpellingBee(size=300, split="train"),
            ]
        )
        val = SmolTalk(split="test")
    return train, val


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Supervised fine-tuning (assistant tokens only)")
    p.add_argument("--source", type=str, default="mid", help="which checkpoint to start from: base|mid")
    p.add_argument("--model_tag", type=str, default=None, help="model tag to load (default: largest)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step to load (default: last)")
    p.add_argument("--device_type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument("--device_batch_size", type=int, default=4, help="conversations per micro-batch")
    p.add_argument(
        "--target_examples_per_step", type=int, default=32, help="conversations per optimizer step"
    )
    p.add_argument("--num_epochs", type=int, default=1, help="passes over the mixture")
    p.add_argument(
        "--num_iterations", type=int, default=-1, help="explicit number of steps (-1: from epochs)"
    )
    p.add_argument("--max_seq_len", type=int, default=2048, help="crop rendered conversations to this length")
    p.add_argument("--unembedding_lr", type=float, default=0.004, help="AdamW LR of lm_head")
    p.add_argument("--embedding_lr", type=float, default=0.2, help="AdamW LR of wte")
    p.add_argument("--matrix_lr", type=float, default=0.02, help="Muon LR of the block matrices")
    p.add_argument("--weight_decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--init_lr_frac", type=float, default=0.02, help="start at this fraction of the base LRs")
    p.add_argument("--eval_every", type=int, default=100, help="val loss every N steps")
    p.add_argument("--eval_steps", type=int, default=100, help="val batches per evaluation")
    p.add_argument("--eval_metrics_every", type=int, default=200, help="MMLU/ARC accuracy every N steps")
    p.add_argument(
        "--eval_metrics_max_problems", type=int, default=1024, help="problems per metric evaluation"
    )
    p.add_argument("--tiny", action="store_true", help="small mixture and settings for the CPU speedrun")
    p.add_argument("--domains", type=int, default=0, help="fine-tune on this many conversations of the shipped "
                   "chat model's domains instead (tasks/domainchat.py; 0: the mixture above)")  # fmt: skip
    p.add_argument(
        "--out_tag", type=str, default=None, help="checkpoint tag to save under (default: source's)"
    )
    return p


TINY_PRESET = dict(eval_every=10**9, eval_steps=8, eval_metrics_every=10**9, eval_metrics_max_problems=100)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse flags; `--tiny` replaces the defaults with TINY_PRESET, explicit flags still win."""
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    if first.tiny:
        parser.set_defaults(**TINY_PRESET)
    return parser.parse_args(argv)


def set_lr(optimizers, lrm: float) -> None:
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * lrm


def main(argv: list[str] | None = None) -> dict:
    from ..checkpoint_manager import load_model, save_checkpoint
    from ..report import get_report
    from .chat_eval import run_chat_eval

    args = parse_args(argv)
    device_type = autodetect_device_type() if args.device_type == "" else args.device_type
    _, rank, _, world_size, device = compute_init(device_type)
    model, tokenizer, meta = load_model(
        args.source, device, phase="train", model_tag=args.model_tag, step=args.step
    )
    max_seq_len = min(args.max_seq_len, model.config.sequence_len)

    if args.domains > 0:
        from ..tasks.domainchat import domain_mixture

        train_ds, val_ds = domain_mixture("sft", args.domains)
    else:
        train_ds, val_ds = sft_mixture(args.tiny)
    examples_per_step = args.device_batch_size * world_size
    assert args.target_examples_per_step % examples_per_step == 0, "target examples must divide evenly"
    grad_accum_steps = args.target_examples_per_step // examples_per_step
    num_iterations = args.num_iterations
    if num_iterations < 0:
        num_iterations = (len(train_ds) // args.target_examples_per_step) * args.num_epochs
    print0(f"SFT: {len(train_ds):,} conversations, {num_iterations} steps, grad accum {grad_accum_steps}")
    train_iter = sft_data_generator(train_ds, tokenizer, args.device_batch_size, device, max_seq_len)

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

    t0 = time.time()
    val_loss = float("nan")
    metrics: dict[str, float] = {}
    train_loss = torch.tensor(float("nan"))
    train_losses: list[float] = []
    lrms: list[float] = []
    tokens_per_step: list[int] = []
    val_history: list[tuple[int, float]] = []
    for step in range(num_iterations + 1):
        last_step = step == num_iterations
        if last_step or step % args.eval_every == 0:
            model.eval()
            val_iter = sft_data_generator(val_ds, tokenizer, args.device_batch_size, device, max_seq_len)
            losses = []
            with torch.no_grad():
                for _ in range(args.eval_steps):
                    vx, vy = next(val_iter)
                    with autocast_ctx(device_type):
                        losses.append(model(vx, vy).item())
            val_loss = sum(losses) / len(losses)
            val_history.append((step, val_loss))
            print0(f"Step {step:05d} | val loss: {val_loss:.6f}")
            model.train()
        if last_step or (step > 0 and step % args.eval_metrics_every == 0):
            model.eval()
            engine = Engine(model, tokenizer)
            with autocast_ctx(device_type):
                for task in ("MMLU", "ARC-Easy"):
                    metrics[task] = run_chat_eval(
                        task, model, tokenizer, engine, batch_size=args.device_batch_size * 2,
                        max_problems=args.eval_metrics_max_problems,
                    )  # fmt: skip
            print0(f"Step {step:05d} | " + ", ".join(f"{k}: {v:.4f}" for k, v in metrics.items()))
            model.train()
        if last_step:
            break
        # lab: begin loop-step
        num_tokens = 0
        for _ in range(grad_accum_steps):
            x, y = next(train_iter)
            with autocast_ctx(device_type):
                loss = model(x, y)  # mean cross-entropy over the supervised targets only (-1 is ignored)
            train_loss = loss.detach()
            (loss / grad_accum_steps).backward()  # every backward() adds to .grad: average over micro-steps
            num_tokens += int((y >= 0).sum())  # supervised targets, not padding or user/tool tokens
        lrm = 1.0 - step / num_iterations
        set_lr(optimizers, lrm)
        for opt in optimizers:
            opt.step()
        model.zero_grad(set_to_none=True)
        # lab: end loop-step
        train_losses.append(float(train_loss.item()))
        lrms.append(lrm)
        tokens_per_step.append(num_tokens)
        if step % 10 == 0 or step == num_iterations - 1:
            print0(
                f"Step {step:05d}/{num_iterations:05d} | train loss: {train_loss.item():.6f} | tokens: {num_tokens}"
            )
    train_time = time.time() - t0

    model_tag = args.out_tag or args.model_tag or f"d{model.config.n_layer}"
    if rank == 0:
        checkpoint_dir = os.path.join(get_base_dir(), "chatsft_checkpoints", model_tag)
        save_checkpoint(
            checkpoint_dir,
            num_iterations,
            model.state_dict(),
            None,
            {"step": num_iterations, "val_loss": val_loss, **metrics, "model_config": meta["model_config"]},
        )
    stats = {
        "Training rows": len(train_ds),
        "Number of iterations": num_iterations,
        "Training loss": float(train_loss.item()),
        "Validation loss": val_loss,
        "Training time (s)": train_time,
        **metrics,
    }
    get_report().log("Chat SFT", [vars(args), stats])
    return {
        **stats,
        "train_losses": train_losses,
        "lrms": lrms,
        "tokens_per_step": tokens_per_step,
        "val_loss_history": val_history,
    }


if __name__ == "__main__":
    main()
