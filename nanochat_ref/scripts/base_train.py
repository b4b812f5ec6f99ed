"""Pretrain the base model (mirrors nanochat's ``scripts/base_train.py`` at commit C).

    python -m nanochat_ref.scripts.base_train --tiny                 # CPU, ~1-3 minutes, lowers val bpb
    python -m nanochat_ref.scripts.base_train --depth=20             # the speedrun's d20 (8 GPUs via torchrun)
    torchrun --standalone --nproc_per_node=8 -m nanochat_ref.scripts.base_train -- --depth=20

Design choices (nanochat's):
- One dial, ``--depth``: n_layer = depth, n_embd = 64*depth, head_dim 128 (n_head = ceil(n_embd/128)),
  n_kv_head = n_head. The vocabulary comes from the tokenizer in the base dir.
- The horizon is the first one set of: ``--num_iterations``, ``--target_flops`` (divided by FLOPs per step),
  ``--target_param_data_ratio`` (Chinchilla: 20 tokens per parameter).
- ``--total_batch_size`` tokens per optimizer step, reached by gradient accumulation over
  ``device_batch_size * max_seq_len * world_size`` tokens per micro-step (the division must be exact).
- Two optimizers (``GPT.setup_optimizers``): AdamW for the embeddings, Muon for the block matrices; no DDP
  wrapper, the distributed optimizers average gradients themselves. Gradient norm clipped to ``--grad_clip``.
- LR multiplier: linear warmup over ``warmup_ratio`` of the steps, 1.0, then a linear warmdown over the last
  ``warmdown_ratio`` of the steps to ``final_lr_frac``. Muon momentum ramps 0.85 -> 0.95 over 300 steps.
- The loop runs ``num_iterations + 1`` times so the last pass only evaluates and saves: val bpb every
  ``eval_every`` steps, greedy samples every ``sample_every`` steps (rank 0), the CORE metric every
  ``core_metric_every`` steps when ``scripts.base_eval`` is available, a checkpoint at the end (and every
  ``save_every`` steps; ``resume_from_step`` continues from one).
- bf16 autocast and ``torch.compile`` only on CUDA (``common.autocast_ctx``); CPU runs stay fp32 and eager.
- Changes from C: argparse instead of the exec'd configurator (same ``--name=value`` spelling), ``--tiny``
  (a CPU preset; explicit flags still override it), and ``main(argv)`` returns a summary dict for tests (the
  per-step losses, grad norms, smoothed losses, schedules, tokens/s, MFU and step times it logged).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import asdict

import torch

from ..checkpoint_manager import load_checkpoint, save_checkpoint
from ..common import (
    DummyWandb,
    autocast_ctx,
    autodetect_device_type,
    compute_cleanup,
    compute_init,
    get_base_dir,
    print0,
    synchronize,
)
from ..dataloader import tokenizing_distributed_data_loader, tokenizing_distributed_data_loader_with_state
from ..gpt import GPT, GPTConfig
from ..loss_eval import evaluate_bpb
from ..tokenizer import get_token_bytes, get_tokenizer

# A CPU preset: about a million parameters (plus embeddings), small batches, evaluation every 20 steps.
TINY_PRESET = dict(
    depth=4,
    max_seq_len=128,
    device_batch_size=8,
    total_batch_size=2048,  # 2 micro-steps of 8 x 128 tokens: exercises gradient accumulation
    num_iterations=60,
    eval_every=20,
    eval_tokens=8 * 8 * 128,
    core_metric_every=-1,
    sample_every=-1,
    warmdown_ratio=0.2,
)

SAMPLE_PROMPTS = [
    "The capital of France is",
    "The chemical symbol of gold is",
    "If yesterday was Friday, then tomorrow will be",
    "The opposite of hot is",
    "The planets of the solar system are:",
    "My favorite color is",
    "If 5*x + 3 = 13, then x is",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Pretrain a nanochat base model.")
    # Run
    p.add_argument("--run", type=str, default="dummy", help="wandb run name ('dummy' disables wandb logging)")
    p.add_argument("--device_type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument("--model_tag", type=str, default="", help="checkpoint folder name (empty: d<depth>)")
    p.add_argument(
        "--tiny", action="store_true", help="CPU preset (depth 4, T 128, 60 steps); flags override it"
    )
    # Model
    p.add_argument("--depth", type=int, default=20, help="number of layers; width is 64*depth")
    p.add_argument("--max_seq_len", type=int, default=2048, help="context length in tokens")
    # Horizon (the first one set wins)
    p.add_argument(
        "--num_iterations", type=int, default=-1, help="explicit number of optimizer steps (-1: off)"
    )
    p.add_argument("--target_flops", type=float, default=-1.0, help="train for this many FLOPs (-1: off)")
    p.add_argument(
        "--target_param_data_ratio",
        type=int,
        default=20,
        help="tokens per parameter, Chinchilla=20 (-1: off)",
    )
    # Batch
    p.add_argument("--device_batch_size", type=int, default=32, help="sequences per micro-step per device")
    p.add_argument(
        "--total_batch_size", type=int, default=524288, help="tokens per optimizer step (all ranks)"
    )
    # Optimization
    p.add_argument(
        "--embedding_lr", type=float, default=0.2, help="AdamW lr of wte (scaled by (n_embd/768)^-0.5)"
    )
    p.add_argument(
        "--unembedding_lr", type=float, default=0.004, help="AdamW lr of lm_head (scaled likewise)"
    )
    p.add_argument("--weight_decay", type=float, default=0.0, help="AdamW weight decay of the embeddings")
    p.add_argument("--matrix_lr", type=float, default=0.02, help="Muon lr of the block matrices")
    p.add_argument("--grad_clip", type=float, default=1.0, help="gradient norm clip (0: off)")
    p.add_argument("--warmup_ratio", type=float, default=0.0, help="fraction of steps for the lr warmup")
    p.add_argument(
        "--warmdown_ratio", type=float, default=0.2, help="fraction of steps for the final lr warmdown"
    )
    p.add_argument("--final_lr_frac", type=float, default=0.0, help="lr multiplier at the very end")
    p.add_argument(
        "--resume_from_step", type=int, default=-1, help="resume from this checkpoint step (-1: fresh)"
    )
    # Evaluation
    p.add_argument("--eval_every", type=int, default=250, help="evaluate val bpb every N steps")
    p.add_argument("--eval_tokens", type=int, default=20 * 524288, help="tokens per val bpb evaluation")
    p.add_argument("--core_metric_every", type=int, default=2000, help="CORE metric every N steps (-1: off)")
    p.add_argument("--core_metric_max_per_task", type=int, default=500, help="examples per CORE task")
    p.add_argument(
        "--sample_every", type=int, default=2000, help="print greedy samples every N steps (-1: off)"
    )
    p.add_argument(
        "--save_every", type=int, default=-1, help="checkpoint every N steps (-1: only at the end)"
    )
    p.add_argument(
        "--compile", type=int, default=-1, help="torch.compile the model: 1 on, 0 off, -1 CUDA only"
    )
    p.add_argument(
        "--num_threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default; 1 is best on busy CPUs)",
    )
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse flags; with ``--tiny`` the preset replaces the defaults, so explicit flags still win."""
    parser = build_parser()
    first, _ = parser.parse_known_args(argv)
    if first.tiny:
        parser.set_defaults(**TINY_PRESET)
    return parser.parse_args(argv)


def model_config_for(depth: int, max_seq_len: int, vocab_size: int) -> GPTConfig:
    """The depth dial: width 64*depth, head_dim 128 (at least one head), no GQA."""
    model_dim = depth * 64
    num_heads = max(1, math.ceil(model_dim / 128))
    return GPTConfig(
        sequence_len=max_seq_len,
        vocab_size=vocab_size,
        n_layer=depth,
        n_head=num_heads,
        n_kv_head=num_heads,
        n_embd=model_dim,
    )


def get_lr_multiplier(
    it: int, num_iterations: int, warmup_ratio: float, warmdown_ratio: float, final_lr_frac: float
) -> float:
    """Linear warmup, constant 1.0, then a linear warmdown to ``final_lr_frac`` at ``num_iterations``."""
    warmup_iters = round(warmup_ratio * num_iterations)
    warmdown_iters = round(warmdown_ratio * num_iterations)
    if it < warmup_iters:
        return (it + 1) / warmup_iters
    if it <= num_iterations - warmdown_iters:
        return 1.0
    progress = (num_iterations - it) / warmdown_iters
    return progress * 1.0 + (1 - progress) * final_lr_frac


def get_muon_momentum(it: int) -> float:
    """Muon momentum: 0.85 -> 0.95 linearly over the first 300 steps."""
    frac = min(it / 300, 1)
    return (1 - frac) * 0.85 + frac * 0.95


def train_step(
    model, optimizers, train_loader, batch, grad_accum_steps, grad_clip, lrm, muon_momentum, autocast
):
    """One optimizer step; returns ``(train_loss, grad_norm, next_batch)``.

    ``batch`` is the prefetched ``(x, y)``; each of the ``grad_accum_steps`` micro-steps runs forward under
    ``autocast``, divides the loss by ``grad_accum_steps`` (``backward`` sums gradients, so the sum becomes the
    mean over the whole batch) and calls ``backward``, then prefetches the next ``(x, y, state)`` from
    ``train_loader``. Then: clip the gradient norm to ``grad_clip`` (when > 0; ``grad_norm`` is None otherwise),
    set every group's lr to ``initial_lr * lrm`` and the Muon (last) optimizer's momentum to ``muon_momentum``,
    step every optimizer and zero the gradients (``set_to_none=True``). ``train_loss`` is the last micro-step's
    loss (detached, not divided).
    """
    x, y = batch[0], batch[1]
    next_batch = None
    for _micro_step in range(grad_accum_steps):
        with autocast:
            loss = model(x, y)
        train_loss = loss.detach()  # for logging
        loss = loss / grad_accum_steps  # backward() sums gradients: divide to get the mean
        loss.backward()
        next_batch = next(train_loader)  # prefetch while the device works
        x, y = next_batch[0], next_batch[1]
    grad_norm = None
    if grad_clip > 0.0:
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip).item()
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * lrm
    for group in optimizers[-1].param_groups:  # [adamw, muon]
        group["momentum"] = muon_momentum
    for opt in optimizers:
        opt.step()
    model.zero_grad(set_to_none=True)
    return train_loss, grad_norm, next_batch


def _load_core_evaluator():
    """``scripts.base_eval.evaluate_model`` when that script exists (it needs the CORE eval bundle)."""
    try:
        from .base_eval import evaluate_model  # type: ignore[import-not-found]
    except ImportError:
        return None
    return evaluate_model


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    user_config = vars(args).copy()

    # Compute init
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    device_type = autodetect_device_type() if args.device_type == "" else args.device_type
    ddp, ddp_rank, ddp_local_rank, ddp_world_size, device = compute_init(device_type)
    master_process = ddp_rank == 0
    autocast = autocast_ctx(device_type)

    # wandb logging: only with a real run name, on rank 0, and when wandb is installed
    wandb_run = DummyWandb()
    if args.run != "dummy" and master_process:
        try:
            import wandb  # type: ignore[import-not-found]

            wandb_run = wandb.init(project="nanochat", name=args.run, config=user_config)
        except ImportError:
            print0("wandb is not installed: logging to stdout only")

    # Tokenizer: the vocab size, and bytes per token for bpb
    tokenizer = get_tokenizer()
    token_bytes = get_token_bytes(device=device)
    vocab_size = tokenizer.get_vocab_size()
    print0(f"Vocab size: {vocab_size:,}")

    # Model shape from the depth dial
    model_config = model_config_for(args.depth, args.max_seq_len, vocab_size)
    print0(f"num_layers: {model_config.n_layer}")
    print0(f"model_dim: {model_config.n_embd}")
    print0(f"num_heads: {model_config.n_head}")
    print0(f"num_kv_heads: {model_config.n_kv_head}")

    # Gradient accumulation to reach the total batch size
    tokens_per_fwdbwd = args.device_batch_size * args.max_seq_len  # per rank, per micro-step
    world_tokens_per_fwdbwd = tokens_per_fwdbwd * ddp_world_size
    assert args.total_batch_size % world_tokens_per_fwdbwd == 0, (
        f"total_batch_size {args.total_batch_size} must be a multiple of {world_tokens_per_fwdbwd}"
    )
    grad_accum_steps = args.total_batch_size // world_tokens_per_fwdbwd
    print0(
        f"Tokens / micro-batch / rank: {args.device_batch_size} x {args.max_seq_len} = {tokens_per_fwdbwd:,}"
    )
    print0(f"Total batch size {args.total_batch_size:,} => gradient accumulation steps: {grad_accum_steps}")

    # Model: build on meta (no memory), allocate on the device, then initialise
    with torch.device("meta"):
        model = GPT(model_config)
    model.to_empty(device=device)
    model.init_weights()

    model_tag = args.model_tag if args.model_tag else f"d{args.depth}"
    checkpoint_dir = os.path.join(get_base_dir(), "base_checkpoints", model_tag)
    resuming = args.resume_from_step != -1
    meta_data: dict = {}
    optimizer_data = None
    if resuming:
        print0(f"Resuming optimization from step {args.resume_from_step}")
        model_data, optimizer_data, meta_data = load_checkpoint(
            checkpoint_dir, args.resume_from_step, device, load_optimizer=True, rank=ddp_rank
        )
        model.load_state_dict(model_data, strict=True, assign=True)
        del model_data

    orig_model = model  # uncompiled: for evaluation, sampling and saving
    use_compile = args.compile == 1 or (args.compile == -1 and device_type == "cuda")
    if use_compile:
        model = torch.compile(model, dynamic=False)
    num_params = sum(p.numel() for p in model.parameters())
    print0(f"Number of parameters: {num_params:,}")
    num_flops_per_token = orig_model.estimate_flops()
    print0(f"Estimated FLOPs per token: {num_flops_per_token:e}")

    # Horizon
    assert args.num_iterations > 0 or args.target_param_data_ratio > 0 or args.target_flops > 0
    if args.num_iterations > 0:
        num_iterations = args.num_iterations
        print0(f"Using user-provided number of iterations: {num_iterations:,}")
    elif args.target_flops > 0:
        num_iterations = round(args.target_flops / (num_flops_per_token * args.total_batch_size))
        print0(f"Calculated number of iterations from target FLOPs: {num_iterations:,}")
    else:
        target_tokens = args.target_param_data_ratio * num_params
        num_iterations = target_tokens // args.total_batch_size
        print0(f"Calculated number of iterations from target data:param ratio: {num_iterations:,}")
    total_tokens = args.total_batch_size * num_iterations
    print0(f"Total number of training tokens: {total_tokens:,}")
    print0(f"Tokens : Params ratio: {total_tokens / num_params:.2f}")
    print0(f"Total training FLOPs estimate: {num_flops_per_token * total_tokens:e}")

    # Optimizers
    optimizers = orig_model.setup_optimizers(
        unembedding_lr=args.unembedding_lr,
        embedding_lr=args.embedding_lr,
        matrix_lr=args.matrix_lr,
        weight_decay=args.weight_decay,
    )
    if resuming:
        for opt, dat in zip(optimizers, optimizer_data):
            opt.load_state_dict(dat)
        del optimizer_data

    # Data
    dataloader_resume_state_dict = meta_data.get("dataloader_state_dict") if resuming else None
    train_loader = tokenizing_distributed_data_loader_with_state(
        args.device_batch_size,
        args.max_seq_len,
        split="train",
        device=device,
        resume_state_dict=dataloader_resume_state_dict,
    )

    def build_val_loader():
        return tokenizing_distributed_data_loader(
            args.device_batch_size, args.max_seq_len, split="val", device=device
        )

    x, y, dataloader_state_dict = next(train_loader)  # prefetch the first batch

    def lr_multiplier(it: int) -> float:
        return get_lr_multiplier(
            it, num_iterations, args.warmup_ratio, args.warmdown_ratio, args.final_lr_frac
        )

    # Loop state
    if not resuming:
        step = 0
        min_val_bpb = float("inf")
        smooth_train_loss = 0.0
        total_training_time = 0.0
    else:
        step = meta_data["step"]
        loop_state = meta_data["loop_state"]
        min_val_bpb = loop_state["min_val_bpb"]
        smooth_train_loss = loop_state["smooth_train_loss"]
        total_training_time = loop_state["total_training_time"]

    core_evaluator = _load_core_evaluator() if args.core_metric_every > 0 else None
    if args.core_metric_every > 0 and core_evaluator is None:
        print0("CORE metric disabled: scripts.base_eval is not available")
    val_bpb = float("nan")
    mfu = 0.0
    val_history: list[tuple[int, float]] = []
    train_losses: list[float] = []  # per optimizer step from here on, for the summary
    grad_norms: list[float | None] = []
    smooth_losses: list[float] = []
    lrms: list[float] = []
    momentums: list[float] = []
    tok_per_sec_log: list[int] = []
    mfu_log: list[float] = []
    step_times: list[float] = []
    results: dict = {}

    while True:
        last_step = step == num_iterations
        flops_so_far = num_flops_per_token * args.total_batch_size * step

        # Validation bpb (all ranks)
        if last_step or step % args.eval_every == 0:
            model.eval()
            val_loader = build_val_loader()
            eval_steps = max(
                1, args.eval_tokens // (args.device_batch_size * args.max_seq_len * ddp_world_size)
            )
            with autocast:
                val_bpb = evaluate_bpb(model, val_loader, eval_steps, token_bytes)
            print0(f"Step {step:05d} | Validation bpb: {val_bpb:.4f}")
            min_val_bpb = min(min_val_bpb, val_bpb)
            val_history.append((step, val_bpb))
            wandb_run.log({"step": step, "total_training_flops": flops_so_far, "val/bpb": val_bpb})
            model.train()

        # CORE metric (all ranks), on the uncompiled model
        if core_evaluator is not None and (last_step or (step > 0 and step % args.core_metric_every == 0)):
            model.eval()
            with autocast:
                results = core_evaluator(
                    orig_model, tokenizer, device, max_per_task=args.core_metric_max_per_task
                )
            print0(f"Step {step:05d} | CORE metric: {results['core_metric']:.4f}")
            wandb_run.log({"step": step, "core_metric": results["core_metric"]})
            model.train()

        # Greedy samples (rank 0), through the KV-cache engine
        if (
            master_process
            and args.sample_every > 0
            and (last_step or (step > 0 and step % args.sample_every == 0))
        ):
            from ..engine import Engine

            model.eval()
            engine = Engine(orig_model, tokenizer)
            for prompt in SAMPLE_PROMPTS:
                tokens = tokenizer(prompt, prepend="<|bos|>")
                with autocast:
                    sample, _ = engine.generate_batch(tokens, num_samples=1, max_tokens=16, temperature=0)
                print0(tokenizer.decode(sample[0]))
            model.train()

        # Checkpoint: at the end, or every save_every steps
        if last_step or (
            step > 0 and step != args.resume_from_step and args.save_every > 0 and step % args.save_every == 0
        ):
            save_checkpoint(
                checkpoint_dir,
                step,
                orig_model.state_dict(),
                [opt.state_dict() for opt in optimizers],
                {
                    "step": step,
                    "val_bpb": val_bpb,
                    "model_config": asdict(model_config),
                    "user_config": user_config,
                    "device_batch_size": args.device_batch_size,
                    "max_seq_len": args.max_seq_len,
                    "dataloader_state_dict": dataloader_state_dict,
                    "loop_state": {
                        "min_val_bpb": min_val_bpb,
                        "smooth_train_loss": smooth_train_loss,
                        "total_training_time": total_training_time,
                    },
                },
                rank=ddp_rank,
            )

        if last_step:
            break

        # One optimizer step: grad_accum_steps micro-steps of forward/backward
        synchronize(device_type)
        t0 = time.time()
        lrm = lr_multiplier(step)
        muon_momentum = get_muon_momentum(step)
        train_loss, grad_norm, (x, y, dataloader_state_dict) = train_step(
            model,
            optimizers,
            train_loader,
            (x, y),
            grad_accum_steps,
            args.grad_clip,
            lrm,
            muon_momentum,
            autocast,
        )
        synchronize(device_type)
        dt = time.time() - t0

        # Logging
        # lab: begin logging
        ema_beta = 0.9  # EMA of the training loss, debiased as in Adam (the EMA starts at 0)
        smooth_train_loss = ema_beta * smooth_train_loss + (1 - ema_beta) * train_loss.item()
        debiased_smooth_loss = smooth_train_loss / (1 - ema_beta ** (step + 1))
        tok_per_sec = int(args.total_batch_size / dt)
        flops_per_sec = num_flops_per_token * args.total_batch_size / dt
        promised_flops_per_sec_h100 = 989e12 * ddp_world_size  # H100 SXM dense bf16
        mfu = 100 * flops_per_sec / promised_flops_per_sec_h100  # in percent
        # lab: end logging
        pct_done = 100 * step / num_iterations
        if step > 10:
            total_training_time += dt  # the first steps include warm-up/compile time
        train_losses.append(train_loss.item())
        grad_norms.append(grad_norm)
        smooth_losses.append(debiased_smooth_loss)
        lrms.append(lrm)
        momentums.append(muon_momentum)
        tok_per_sec_log.append(tok_per_sec)
        mfu_log.append(mfu)
        step_times.append(dt)
        norm_str = f" | grad norm: {grad_norm:.4f}" if grad_norm is not None else ""
        print0(
            f"step {step:05d}/{num_iterations:05d} ({pct_done:.2f}%) | loss: {debiased_smooth_loss:.6f}{norm_str}"
            f" | lrm: {lrm:.2f} | dt: {dt * 1000:.2f}ms | tok/sec: {tok_per_sec:,} | mfu: {mfu:.2f}"
            f" | total time: {total_training_time / 60:.2f}m"
        )
        if step % 100 == 0:
            wandb_run.log(
                {
                    "step": step,
                    "total_training_flops": flops_so_far,
                    "total_training_time": total_training_time,
                    "train/loss": debiased_smooth_loss,
                    "train/lrm": lrm,
                    "train/dt": dt,
                    "train/tok_per_sec": tok_per_sec,
                    "train/mfu": mfu,
                }
            )
        step += 1

    # Summary
    timed = step_times[1:] or step_times  # the first step pays one-off costs
    avg_dt = sum(timed) / len(timed) if timed else float("nan")
    print0(f"Total training time: {total_training_time / 60:.2f}m")
    print0(f"Minimum validation bpb: {min_val_bpb:.4f}")
    try:
        from ..report import get_report

        get_report().log(
            section="Base model training",
            data=[
                user_config,
                {
                    "Number of parameters": num_params,
                    "Number of FLOPs per token": f"{num_flops_per_token:e}",
                    "Calculated number of iterations": num_iterations,
                    "Number of training tokens": total_tokens,
                    "Tokens : Params ratio": args.total_batch_size * num_iterations / num_params,
                    "DDP world size": ddp_world_size,
                    "warmup_ratio": args.warmup_ratio,
                    "warmdown_ratio": args.warmdown_ratio,
                    "final_lr_frac": args.final_lr_frac,
                },
                {
                    "Minimum validation bpb": min_val_bpb,
                    "Final validation bpb": val_bpb,
                    "CORE metric estimate": results.get("core_metric", None),
                    "MFU %": f"{mfu:.2f}%",
                    "Total training flops": f"{num_flops_per_token * total_tokens:e}",
                    "Total training time": f"{total_training_time / 60:.2f}m",
                },
            ],
        )
    except ImportError:
        pass
    wandb_run.finish()
    compute_cleanup()
    return {
        "num_params": num_params,
        "num_iterations": num_iterations,
        "grad_accum_steps": grad_accum_steps,
        "val_bpb_history": val_history,
        "initial_val_bpb": val_history[0][1] if val_history else float("nan"),
        "final_val_bpb": val_bpb,
        "min_val_bpb": min_val_bpb,
        "num_flops_per_token": num_flops_per_token,
        "total_batch_size": args.total_batch_size,
        "first_step": step - len(train_losses),
        "train_losses": train_losses,
        "grad_norms": grad_norms,
        "smooth_losses": smooth_losses,
        "lr_multipliers": lrms,
        "muon_momentums": momentums,
        "tok_per_sec": tok_per_sec_log,
        "mfu": mfu_log,
        "step_times": step_times,
        "tokens_per_second": args.total_batch_size / avg_dt if step_times else float("nan"),
        "step_ms": 1000 * avg_dt,
        "checkpoint_dir": checkpoint_dir,
    }


if __name__ == "__main__":
    main()
