"""Evaluate a base checkpoint's bits per byte on the train and val splits, and print a few greedy samples
(mirrors nanochat's ``scripts/base_loss.py`` at commit C; nanochat H merged it into ``base_eval.py``).

    python -m nanochat_ref.scripts.base_loss --device_batch_size=8 --split_tokens=16384
    torchrun --standalone --nproc_per_node=8 -m nanochat_ref.scripts.base_loss

Design choices:
- The model comes from ``checkpoint_manager.load_model("base", ...)`` (largest ``d<N>`` tag, last step, unless
  ``--model_tag`` / ``--model_step`` say otherwise); the context length is the checkpoint's ``sequence_len``.
- Both splits are measured with the same ``evaluate_bpb`` over ``split_tokens`` tokens (all ranks together), so
  the train/val gap is a like-for-like overfitting check.
- Samples use the KV-cache ``Engine``, greedy (temperature 0), 16 tokens, on rank 0 only.
- ``main(argv)`` returns ``{"train_bpb", "val_bpb", "samples"}`` for tests; the report gets a "Base model loss"
  section.
"""

from __future__ import annotations

import argparse

from ..checkpoint_manager import load_model
from ..common import autocast_ctx, autodetect_device_type, compute_cleanup, compute_init, print0
from ..dataloader import tokenizing_distributed_data_loader
from ..engine import Engine
from ..loss_eval import evaluate_bpb
from ..tokenizer import get_token_bytes
from .base_train import SAMPLE_PROMPTS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Measure a base model's train/val bpb and print greedy samples.")
    p.add_argument("--device_batch_size", type=int, default=32, help="sequences per forward pass per device")
    p.add_argument(
        "--split_tokens", type=int, default=20 * 524288, help="tokens evaluated per split (all ranks)"
    )
    p.add_argument(
        "--model_tag", type=str, default=None, help="checkpoint folder (default: the largest d<N>)"
    )
    p.add_argument("--model_step", type=int, default=None, help="checkpoint step (default: the last one)")
    p.add_argument("--device_type", type=str, default="", help="cuda|cpu|mps (empty: autodetect)")
    p.add_argument(
        "--max_tokens", type=int, default=16, help="tokens generated per sample prompt (0: no samples)"
    )
    return p


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    device_type = autodetect_device_type() if args.device_type == "" else args.device_type
    ddp, ddp_rank, ddp_local_rank, ddp_world_size, device = compute_init(device_type)
    model, tokenizer, meta = load_model(
        "base", device, phase="eval", model_tag=args.model_tag, step=args.model_step
    )
    sequence_len = meta["model_config"]["sequence_len"]
    autocast = autocast_ctx(device_type)

    # bpb on each split
    tokens_per_step = args.device_batch_size * sequence_len * ddp_world_size
    assert args.split_tokens % tokens_per_step == 0, (
        f"split_tokens {args.split_tokens} must be a multiple of {tokens_per_step}"
    )
    steps = args.split_tokens // tokens_per_step
    token_bytes = get_token_bytes(device=device)
    bpb_results = {}
    for split_name in ("train", "val"):
        loader = tokenizing_distributed_data_loader(
            args.device_batch_size, sequence_len, split_name, device=device
        )
        with autocast:
            bpb = evaluate_bpb(model, loader, steps, token_bytes)
        print0(f"{split_name} bpb: {bpb:.4f}")
        bpb_results[split_name] = bpb

    # Greedy samples (rank 0)
    samples: list[str] = []
    if ddp_rank == 0 and args.max_tokens > 0:
        engine = Engine(model, tokenizer)
        for prompt in SAMPLE_PROMPTS:
            tokens = tokenizer(prompt, prepend="<|bos|>")
            with autocast:
                sample, _ = engine.generate_batch(
                    tokens, num_samples=1, max_tokens=args.max_tokens, temperature=0
                )
            sample_str = tokenizer.decode(sample[0])
            print0(sample_str)
            samples.append(sample_str)

    from ..report import get_report

    get_report().log(
        section="Base model loss",
        data=[
            {"train bpb": bpb_results["train"], "val bpb": bpb_results["val"]},
            {f"sample {i}": sample for i, sample in enumerate(samples)},
        ],
    )
    compute_cleanup()
    return {"train_bpb": bpb_results["train"], "val_bpb": bpb_results["val"], "samples": samples}


if __name__ == "__main__":
    main()
