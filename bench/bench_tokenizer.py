"""Tokenizer benchmark: training speed, encoding speed and compression, side by side in one run.

    .venv/bin/python bench/bench_tokenizer.py                  # ~30 s CPU (the Python trainer dominates)
    .venv/bin/python bench/bench_tokenizer.py --max_chars 1000000 --vocab_size 2048 --skip_python

What it measures, on ONE corpus (the train split of ``scripts.make_shards``' offline shards, made in a tmp dir)
and ONE vocab size:
- training time: rustbpe vs the HuggingFace ``tokenizers`` BPE trainer (same split regex, same final vocab size
  including the 9 specials) vs our pure-Python trainer; printed as ratios (targets: rustbpe/HF <= 1.0,
  python/rustbpe >= 50).
- encoding throughput (MB/s) on the val split: rustbpe's own encoder vs tiktoken loaded with OUR ranks, single
  text at a time and batched (threads).
- compression (UTF-8 bytes per token, higher is better) on the val split: ours vs GPT-2 vs GPT-4 (cl100k), with the
  reference rank files loaded offline from PyPI packages (see ``scripts.tok_eval``).
- that the rustbpe and Python trainers learned the same merges (1 = identical).

Output: one ``name: value`` line per figure. Timings are the best of ``--repeats`` runs (the Python trainer runs
once). Nothing here is a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nanochat_ref import bpe_python
from nanochat_ref.scripts.make_shards import make_shards
from nanochat_ref.scripts.tok_eval import load_reference_tokenizers
from nanochat_ref.tokenizer import SPECIAL_TOKENS, SPLIT_PATTERN, HuggingFaceTokenizer, RustBPETokenizer


def best_time(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def load_corpus(max_chars: int) -> tuple[list[str], list[str]]:
    """(train texts up to max_chars, all val texts) from freshly made offline shards."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_shards(tmp)
        train: list[str] = []
        n = 0
        for path in paths[:-1]:
            for text in pq.read_table(path).column("text").to_pylist():
                if n >= max_chars:
                    break
                train.append(text)
                n += len(text)
        val = pq.read_table(paths[-1]).column("text").to_pylist()
    return train, val


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark BPE training, encoding and compression")
    parser.add_argument("--max_chars", type=int, default=200_000, help="Characters of training text")
    parser.add_argument("--vocab_size", type=int, default=768, help="Final vocab size, 9 specials included")
    parser.add_argument("--repeats", type=int, default=3, help="Timing repeats (best is kept) for fast runs")
    parser.add_argument("--skip_python", action="store_true", help="Skip the (slow) pure-Python trainer")
    args = parser.parse_args()

    import rustbpe

    train, val = load_corpus(args.max_chars)
    n_special = len(SPECIAL_TOKENS)
    val_bytes = sum(len(t.encode("utf-8")) for t in val)
    print(f"corpus_train_chars: {sum(len(t) for t in train)}")
    print(f"corpus_val_bytes: {val_bytes}")
    print(f"vocab_size: {args.vocab_size}")

    # --- training time ---------------------------------------------------------------------------------------
    def train_rust():
        t = rustbpe.Tokenizer()
        t.train_from_iterator(iter(train), args.vocab_size - n_special, pattern=SPLIT_PATTERN)
        return t

    t_rust, rust = best_time(train_rust, args.repeats)
    t_hf, _hf = best_time(
        lambda: HuggingFaceTokenizer.train_from_iterator(iter(train), args.vocab_size), args.repeats
    )
    print(f"train_seconds_rustbpe: {t_rust:.4f}")
    print(f"train_seconds_hf_tokenizers: {t_hf:.4f}")
    print(f"train_ratio_rustbpe_over_hf: {t_rust / t_hf:.3f}")
    if not args.skip_python:
        py = bpe_python.Tokenizer()
        t0 = time.perf_counter()
        py.train_from_iterator(iter(train), args.vocab_size - n_special, pattern=SPLIT_PATTERN)
        t_py = time.perf_counter() - t0
        same = [(bytes(b), r) for b, r in rust.get_mergeable_ranks()] == py.get_mergeable_ranks()
        print(f"train_seconds_python: {t_py:.4f}")
        print(f"train_ratio_python_over_rustbpe: {t_py / t_rust:.1f}")
        print(f"same_merges_python_vs_rustbpe: {int(same)}")

    # --- encoding throughput -------------------------------------------------------------------------------
    ours = RustBPETokenizer.from_mergeable_ranks(rust.get_pattern(), rust.get_mergeable_ranks())
    enc = ours.enc
    mb = val_bytes / 1e6
    t_re, ids_rust = best_time(lambda: [rust.encode(t) for t in val], args.repeats)
    t_te, ids_tik = best_time(lambda: [enc.encode_ordinary(t) for t in val], args.repeats)
    t_rb, _ = best_time(lambda: rust.batch_encode(val), args.repeats)
    t_tb, _ = best_time(lambda: enc.encode_ordinary_batch(val, num_threads=os.cpu_count() or 1), args.repeats)
    print(f"encode_same_ids_rustbpe_vs_tiktoken: {int([list(x) for x in ids_rust] == ids_tik)}")
    print(f"encode_mb_per_s_rustbpe: {mb / t_re:.2f}")
    print(f"encode_mb_per_s_tiktoken_our_ranks: {mb / t_te:.2f}")
    print(f"encode_ratio_tiktoken_over_rustbpe_speed: {t_re / t_te:.2f}")
    print(f"encode_batch_mb_per_s_rustbpe: {mb / t_rb:.2f}")
    print(f"encode_batch_mb_per_s_tiktoken_our_ranks: {mb / t_tb:.2f}")

    # --- compression -----------------------------------------------------------------------------------------
    val_text = "\n".join(val)
    tokenizers = {"ours": ours, **load_reference_tokenizers()}
    for name, tok in tokenizers.items():
        n_tokens = len(tok.encode(val_text))
        print(f"bytes_per_token_{name}: {val_bytes / n_tokens:.3f}")
        if name != "ours":
            print(f"vocab_size_{name}: {tok.get_vocab_size()}")


if __name__ == "__main__":
    main()
