"""Benchmark base training at the ``--tiny`` preset's shape on CPU; prints ``name: value`` lines.

    .venv/bin/python bench/bench_train.py                 # tiny preset shape, vocab 4096, torch's default threads
    .venv/bin/python bench/bench_train.py --threads 1 --steps 5

What it measures (synthetic tokens, so no data or tokenizer is needed; the model and optimizers are the real
ones from ``nanochat_ref``):
- ``forward_ms``, ``forward_backward_ms``: one micro-batch (device_batch_size x max_seq_len tokens).
- ``optimizer_step_ms``: AdamW + Muon steps together; ``train_step_ms`` a whole optimizer step with gradient
  accumulation (what base_train times), and ``train_tokens_per_s`` from it.
- Side by side in the same run: Newton–Schulz in bf16 (nanochat's choice, used on every device) against fp32,
  and their ratio (CPU bf16 speed depends on the CPU's bf16 support and on thread contention).
Median over ``--steps`` repetitions after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from nanochat_ref.gpt import GPT
from nanochat_ref.muon import zeropower_via_newtonschulz5
from nanochat_ref.scripts.base_train import TINY_PRESET, get_muon_momentum, model_config_for


def median_ms(fn, steps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark tiny base training on CPU.")
    parser.add_argument("--steps", type=int, default=5, help="timed repetitions per measurement (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--vocab_size", type=int, default=4096, help="vocabulary size (tok_train's default)")
    parser.add_argument(
        "--depth", type=int, default=TINY_PRESET["depth"], help="model depth (width 64*depth)"
    )
    parser.add_argument("--max_seq_len", type=int, default=TINY_PRESET["max_seq_len"], help="sequence length")
    parser.add_argument(
        "--device_batch_size",
        type=int,
        default=TINY_PRESET["device_batch_size"],
        help="sequences per micro-batch",
    )
    parser.add_argument(
        "--total_batch_size",
        type=int,
        default=TINY_PRESET["total_batch_size"],
        help="tokens per optimizer step",
    )
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = model_config_for(args.depth, args.max_seq_len, args.vocab_size)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    model.init_weights()
    optimizers = model.setup_optimizers()
    B, T = args.device_batch_size, args.max_seq_len
    grad_accum_steps = args.total_batch_size // (B * T)
    x = torch.randint(0, args.vocab_size, (B, T))
    y = torch.randint(0, args.vocab_size, (B, T))

    def forward():
        with torch.no_grad():
            model(x, y)

    def forward_backward():
        model(x, y).backward()

    def optimizer_step():
        for opt in optimizers:
            opt.step()

    def train_step():
        for _ in range(grad_accum_steps):
            (model(x, y) / grad_accum_steps).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for group in optimizers[1].param_groups:
            group["momentum"] = get_muon_momentum(0)
        for opt in optimizers:
            opt.step()
        model.zero_grad(set_to_none=True)

    forward_ms = median_ms(forward, args.steps)
    forward_backward_ms = median_ms(forward_backward, args.steps)  # grads accumulate: harmless for timing
    optimizer_step_ms = median_ms(optimizer_step, args.steps)
    model.zero_grad(set_to_none=True)
    train_step_ms = median_ms(train_step, args.steps)

    G = torch.randn(4 * config.n_embd, config.n_embd)  # the MLP's c_fc shape, the largest Muon matrix
    ns_bf16_ms = median_ms(lambda: zeropower_via_newtonschulz5(G, 5, dtype=torch.bfloat16), args.steps)
    ns_fp32_ms = median_ms(lambda: zeropower_via_newtonschulz5(G, 5, dtype=torch.float32), args.steps)

    print(f"threads: {torch.get_num_threads()}")
    print(f"num_params: {sum(p.numel() for p in model.parameters())}")
    print(f"tokens_per_micro_batch: {B * T}")
    print(f"grad_accum_steps: {grad_accum_steps}")
    print(f"forward_ms: {forward_ms:.2f}")
    print(f"forward_backward_ms: {forward_backward_ms:.2f}")
    print(f"optimizer_step_ms: {optimizer_step_ms:.2f}")
    print(f"train_step_ms: {train_step_ms:.2f}")
    print(f"train_tokens_per_s: {args.total_batch_size / (train_step_ms / 1000):.0f}")
    print(f"newton_schulz_bf16_ms: {ns_bf16_ms:.3f}")
    print(f"newton_schulz_fp32_ms: {ns_fp32_ms:.3f}")
    print(f"newton_schulz_bf16_over_fp32: {ns_bf16_ms / ns_fp32_ms:.2f}")


if __name__ == "__main__":
    main()
