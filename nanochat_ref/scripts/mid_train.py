"""Midtraining: teach the base model the chat format, multiple choice, tool use, spelling and identity
(nanochat `scripts/mid_train.py`, commit C; removed at H).

    python -m nanochat_ref.scripts.mid_train                    # from the base checkpoint
    python -m nanochat_ref.scripts.mid_train --tiny             # small mixture for the CPU speedrun

Design choices:

- The data is a `TaskMixture` of conversations (SmolTalk, MMLU auxiliary_train, GSM8K, identity x2,
  SimpleSpelling, SpellingBee), rendered with `render_conversation` and then **the mask is discarded**: every token,
  user text and tool outputs included, is trained on, exactly like pretraining (`mid_data_generator`).
- Token ids are appended to a deque and cut into `B*T+1` windows: no padding, no BOS alignment. A cursor starts at
  `rank` and advances by the world size; when it wraps past the dataset, `last_step` is set, so the default length
  is one epoch (`num_iterations=-1`). `--num_epochs` (an addition for tiny runs) allows several.
- LR multiplier: 1.0 until progress 0.8, then linear to 0 (the launch version ramped *up*: issue #68).
- Saves to `mid_checkpoints/<tag>`; report section "Midtraining". `main` returns the report's figures plus the run's
  per-step training losses and LR multipliers and the val-loss history (the lab's graded run charts them).
- The optimizer step inside the loop is marked as a region (`# lab: begin loop-step`): the learner writes it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import deque

import torch
import torch.distributed as dist

from ..common import autocast_ctx, autodetect_device_type, compute_init, get_base_dir, get_dist_info, print0
from ..tasks.common import TaskMixture
from ..tasks.customjson import CustomJSON
from ..tasks.gsm8k import GSM8K
from ..tasks.mmlu import MMLU
from ..tasks.smoltalk import SmolTalk
from ..tasks.spellingbee import SimpleSpelling, SpellingBee


def mid_mixture(tiny: bool):
    """(train, val) task mixtures, nanochat C's recipe on the offline synthetic sets."""
    identity = os.path.join(get_base_dir(), "identity_conversations.jsonl")
    if tiny:  # fewer general rows, all of the skill rows: a ~2M-parameter model has little capacity to spare
        train_tasks = [
            SmolTalk(split="train", stop=400),
            MMLU(subset="auxiliary_train", split="train", stop=800),
            GSM8K(subset="main", split="train"),
            CustomJSON(filepath=identity, stop=300),
            CustomJSON(filepath=identity, stop=300),
            SimpleSpelling(size=300, split="train"),
            SpellingBee(size=2000, split="train"),
        ]
        val_tasks = [SmolTalk(split="test", stop=50), MMLU(subset="all", split="test", stop=50),
                     GSM8K(subset="main", split="test", stop=50)]  # fmt: skip
    else:
        train_tasks = [
            SmolTalk(split="train"),
            MMLU(subset="auxiliary_train", split="train"),
            GSM8K(subset="main", split="train"),
            CustomJSON(filepath=identity),
            CustomJSON(filepath=identity),  # listed twice: two epochs of identity
            SimpleSpelling(size=2000, split="train"),
            SpellingBee(size=3000, split="train"),
        ]
        val_tasks = [
            SmolTalk(split="test"),
            MMLU(subset="all", split="test"),
            GSM8K(subset="main", split="test"),
        ]
    train, val = TaskMixture(train_tasks), TaskMixture(val_tasks)
    return train, val


def mid_data_generator(
    dataset, tokenizer, B: int, T: int, device, num_epochs: int = 1, state: dict | None = None
):
    """Yield `(inputs, targets)` `(B, T)` windows of rendered conversations (mask ignored), one epoch by default.

    `state` (a dict) receives `last_step` (True once the cursor wrapped `num_epochs` times) and `progress` (0..1).
    """
    ddp, rank, _, world_size = get_dist_info()
    state = state if state is not None else {}
    state.update(last_step=False, progress=0.0)
    needed = B * T + 1
    token_buffer: deque[int] = deque()
    cursor, epoch = rank, 0
    dataset_size = len(dataset)
    assert dataset_size > 0
    while True:
        while len(token_buffer) < needed:
            ids, _ = tokenizer.render_conversation(dataset[cursor])
            token_buffer.extend(ids)
            cursor += world_size
            if cursor >= dataset_size:
                cursor -= dataset_size
                epoch += 1
                if epoch >= num_epochs:
                    state["last_step"] = True
        last = torch.tensor([float(state["last_step"])], device=device)
        if ddp and dist.is_initialized():
            dist.all_reduce(last, op=dist.ReduceOp.MAX)
        state["last_step"] = bool(last.item())
        state["progress"] = min(1.0, (epoch + cursor / dataset_size) / num_epochs)
        tokens = [token_buffer.popleft() for _ in range(needed)]
        scratch = torch.tensor(tokens, dtype=torch.long)
        inputs = scratch[:-1].view(B, T).to(device)  # (B, T)
        targets = scratch[1:].view(B, T).to(device)  # (B, T)
        yield inputs, targets


def get_lr_multiplier(progress: float) -> float:
    """1.0 until 80% of training, then linear down to 0."""
    return 1.0 if progress < 0.8 else 1.0 - (progress - 0.8) / 0.2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Midtraining on a mixture of chat/task conversations")
    p.add_argument("--model_tag", type=str, default=None, help="base model tag to load (default: largest)")
    p.add_argument("--step", type=int, default=None, help="base checkpoint step to load (default: last)")
    p.add_argument("--device_type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument("--device_batch_size", type=int, default=32, help="rows per micro-batch")
    p.add_argument("--max_seq_len", type=int, default=2048, help="tokens per row")
    p.add_argument("--total_batch_size", type=int, default=524288, help="tokens per optimizer step")
    p.add_argument("--num_iterations", type=int, default=-1, help="explicit number of steps (-1: one epoch)")
    p.add_argument("--num_epochs", type=int, default=1, help="epochs over the mixture when num_iterations=-1")
    p.add_argument("--unembedding_lr", type=float, default=0.004, help="AdamW LR of lm_head")
    p.add_argument("--embedding_lr", type=float, default=0.2, help="AdamW LR of wte")
    p.add_argument("--matrix_lr", type=float, default=0.02, help="Muon LR of the block matrices")
    p.add_argument("--weight_decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--init_lr_frac", type=float, default=1.0, help="fraction of the base LRs")
    p.add_argument("--eval_every", type=int, default=150, help="val loss every N steps (-1: only at the end)")
    p.add_argument("--eval_tokens", type=int, default=20 * 524288, help="tokens per val evaluation")
    p.add_argument("--save_every", type=int, default=-1, help="also save a checkpoint every N steps (-1: only at "
                   "the end), so a long run stopped early leaves a model")  # fmt: skip
    p.add_argument("--dry_run", action="store_true", help="train but do not save a checkpoint or report")
    p.add_argument("--tiny", action="store_true", help="small mixture and batch for the CPU speedrun")
    p.add_argument("--domains", type=int, default=0, help="train on this many conversations of the shipped chat "
                   "model's domains instead (tasks/domainchat.py; 0: the mixture above)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> dict:
    from ..checkpoint_manager import load_model, save_checkpoint
    from ..report import get_report

    args = build_parser().parse_args(argv)
    device_type = autodetect_device_type() if args.device_type == "" else args.device_type
    _, rank, _, world_size, device = compute_init(device_type)
    model, tokenizer, meta = load_model(
        "base", device, phase="train", model_tag=args.model_tag, step=args.step
    )
    pretrain_batch_size = meta.get("device_batch_size")
    if pretrain_batch_size is not None and args.device_batch_size > pretrain_batch_size:
        print0("FOOTGUN WARNING: device_batch_size is larger than in pretraining; you may run out of memory")
    T = min(args.max_seq_len, model.config.sequence_len)
    B = args.device_batch_size
    tokens_per_fwdbwd = B * T * world_size
    total_batch_size = max(args.total_batch_size, tokens_per_fwdbwd)
    assert total_batch_size % tokens_per_fwdbwd == 0, "total_batch_size must be a multiple of B*T*world"
    grad_accum_steps = total_batch_size // tokens_per_fwdbwd

    optimizers = model.setup_optimizers(
        unembedding_lr=args.unembedding_lr * args.init_lr_frac,
        embedding_lr=args.embedding_lr * args.init_lr_frac,
        matrix_lr=args.matrix_lr * args.init_lr_frac,
        weight_decay=args.weight_decay,
    )
    muon = optimizers[1]

    if args.domains > 0:
        from ..tasks.domainchat import domain_mixture

        train_ds, val_ds = domain_mixture("mid", args.domains)
    else:
        train_ds, val_ds = mid_mixture(args.tiny)
    print0(f"Midtraining on {len(train_ds):,} conversations, B={B} T={T} grad_accum={grad_accum_steps}")
    state: dict = {}
    train_loader = mid_data_generator(
        train_ds, tokenizer, B, T, device, num_epochs=args.num_epochs, state=state
    )

    def val_loss() -> float:
        model.eval()
        steps = max(1, args.eval_tokens // (B * T * world_size))
        loader = mid_data_generator(val_ds, tokenizer, B, T, device, num_epochs=10**6)
        losses = []
        with torch.no_grad():
            for _ in range(steps):
                vx, vy = next(loader)
                with autocast_ctx(device_type):
                    losses.append(model(vx, vy).item())
        model.train()
        return sum(losses) / len(losses)

    model_tag = args.model_tag or f"d{model.config.n_layer}"

    def save() -> None:
        save_checkpoint(
            os.path.join(get_base_dir(), "mid_checkpoints", model_tag),
            step,
            model.state_dict(),
            None,
            {
                "step": step,
                "val_loss": min_val,
                "model_config": meta["model_config"],
                "device_batch_size": B,
                "max_seq_len": T,
            },
        )

    t0 = time.time()
    step, smooth_loss, min_val = 0, 0.0, float("inf")
    train_losses: list[float] = []
    lrms: list[float] = []
    val_history: list[tuple[int, float]] = []
    x, y = next(train_loader)
    while True:
        last_step = state["last_step"] if args.num_iterations < 0 else step >= args.num_iterations
        if last_step or (args.eval_every > 0 and step % args.eval_every == 0):
            v = val_loss()
            min_val = min(min_val, v)
            val_history.append((step, v))
            print0(f"Step {step:05d} | val loss: {v:.4f}")
        if last_step:
            break
        # lab: begin loop-step
        for _ in range(grad_accum_steps):
            with autocast_ctx(device_type):
                loss = model(x, y)
            train_loss = loss.detach()  # the last micro-step's loss, for logging
            (loss / grad_accum_steps).backward()  # every backward() adds to .grad: average over micro-steps
            x, y = next(train_loader)  # the generator updates state["progress"] and state["last_step"]
        progress = state["progress"] if args.num_iterations < 0 else step / args.num_iterations
        lrm = get_lr_multiplier(progress)
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * lrm  # from initial_lr: a multiplier must not compound
        frac = min(step / 300, 1)
        for group in muon.param_groups:
            group["momentum"] = (1 - frac) * 0.85 + frac * 0.95
        for opt in optimizers:
            opt.step()
        model.zero_grad(set_to_none=True)
        # lab: end loop-step
        train_losses.append(train_loss.item())
        lrms.append(lrm)
        smooth_loss = 0.9 * smooth_loss + 0.1 * train_loss.item()
        debiased = smooth_loss / (1 - 0.9 ** (step + 1))
        if step % 10 == 0:
            print0(f"step {step:05d} ({100 * progress:.1f}%) | loss: {debiased:.4f} | lrm: {lrm:.2f}")
        step += 1
        if args.save_every > 0 and step % args.save_every == 0 and rank == 0 and not args.dry_run:
            save()
    train_time = time.time() - t0

    if rank == 0 and not args.dry_run:
        save()
    stats = {
        "Number of iterations": step,
        "Training rows": len(train_ds),
        "Minimum validation loss": min_val,
        "Final training loss": debiased if step else float("nan"),
        "Training time (s)": train_time,
    }
    if not args.dry_run:
        get_report().log("Midtraining", [vars(args), stats])
    return {**stats, "train_losses": train_losses, "lrms": lrms, "val_loss_history": val_history}


if __name__ == "__main__":
    main()
