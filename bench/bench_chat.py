"""Benchmarks of the chat stack (nanochat_ref.engine, speedrun). Prints `name: value` lines.

    .venv/bin/python bench/bench_chat.py                  # engine figures + the --smoke speedrun's stage times
    .venv/bin/python bench/bench_chat.py --speedrun tiny  # stage times of the full tiny speedrun (~15 min)
    .venv/bin/python bench/bench_chat.py --speedrun none  # engine figures only

Measured side by side in one process, same model, same prompt:
- decode tokens/s without a KV cache (`GPT.generate`, re-runs the whole sequence each step) and with it
  (`Engine.generate`), and their ratio;
- generation throughput of one `generate_batch(num_samples=8)` call vs 8 single-sample calls, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nanochat_ref.engine import Engine
from nanochat_ref.gpt import GPT, GPTConfig


class DigitTokenizer:
    """Just enough tokenizer for the Engine: ids >= 256 are specials that never get sampled here."""

    def encode_special(self, s):
        return {"<|python_start|>": 1001, "<|python_end|>": 1002, "<|output_start|>": 1003,
                "<|output_end|>": 1004, "<|assistant_end|>": 1005}[s]  # fmt: skip

    def get_bos_token_id(self):
        return 1000

    def encode(self, text):
        return list(text.encode())

    def decode(self, ids):
        return bytes(i for i in ids if i < 256).decode(errors="replace")


def make_model(depth: int, vocab: int, seq_len: int, device: str) -> GPT:
    dim = 64 * depth
    heads = max(1, -(-dim // 128))
    cfg = GPTConfig(
        sequence_len=seq_len, vocab_size=vocab, n_layer=depth, n_head=heads, n_kv_head=heads, n_embd=dim
    )
    with torch.device("meta"):
        model = GPT(cfg)
    model.to_empty(device=device)
    model.init_weights()
    with torch.no_grad():  # c_proj starts at zero; make attention matter so the work is realistic
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model.eval()


def bench_engine(args) -> None:
    torch.manual_seed(0)
    model = make_model(args.depth, 1024, 1024, args.device)
    tok = DigitTokenizer()
    prompt = torch.randint(0, 256, (args.prompt_len,)).tolist()
    n = args.new_tokens

    def run_uncached():
        for _ in model.generate(prompt, max_tokens=n, temperature=1.0, top_k=50):
            pass

    def run_cached():
        for _ in Engine(model, tok).generate(prompt, max_tokens=n, temperature=1.0, top_k=50):
            pass

    run_cached()  # warm-up
    t0 = time.perf_counter()
    run_uncached()
    t_uncached = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_cached()
    t_cached = time.perf_counter() - t0
    print(f"engine_model: depth {args.depth}, prompt {args.prompt_len} tokens, {n} new tokens, {args.device}")
    print(f"decode_tokens_per_s_no_cache: {n / t_uncached:.1f}")
    print(f"decode_tokens_per_s_kv_cache: {n / t_cached:.1f}")
    print(f"kv_cache_speedup_ratio: {t_uncached / t_cached:.2f}")

    engine = Engine(model, tok)
    samples = 8
    t0 = time.perf_counter()
    for i in range(samples):
        engine.generate_batch(prompt, num_samples=1, max_tokens=n, temperature=1.0, top_k=50, seed=i)
    t_single = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.generate_batch(prompt, num_samples=samples, max_tokens=n, temperature=1.0, top_k=50)
    t_batch = time.perf_counter() - t0
    print(f"single_generation_tokens_per_s: {samples * n / t_single:.1f}")
    print(f"batched_generation_tokens_per_s: {samples * n / t_batch:.1f}")
    print(f"batched_vs_single_throughput_ratio: {t_single / t_batch:.2f}")


def bench_speedrun(profile: str) -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NANOCHAT_BASE_DIR": os.path.join(tmp, "base"), "PYTHONPATH": root}
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "nanochat_ref.speedrun", f"--{profile}"], cwd=tmp, env=env,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        total = time.perf_counter() - t0
    for line in out.splitlines():
        m = re.match(r"speedrun_(\w+)_s: ([0-9.]+)", line)
        if m:
            print(f"speedrun_{profile}_{m.group(1)}_s: {m.group(2)}")
    print(f"speedrun_{profile}_process_wall_s: {total:.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description="Chat stack benchmarks")
    p.add_argument("--depth", type=int, default=4, help="model depth for the engine benchmark")
    p.add_argument("--prompt-len", type=int, default=64, help="prompt tokens")
    p.add_argument("--new-tokens", type=int, default=128, help="tokens to generate")
    p.add_argument(
        "--device", type=str, default="cuda" if torch.cuda.is_available() else "cpu", help="device"
    )
    p.add_argument(
        "--speedrun", type=str, default="smoke", choices=["none", "smoke", "tiny"], help="speedrun run"
    )
    args = p.parse_args()
    bench_engine(args)
    if args.speedrun != "none":
        bench_speedrun(args.speedrun)


if __name__ == "__main__":
    main()
