"""Train the BPE tokenizer on the train split and save it (nanochat ``scripts/tok_train.py``, commit C).

    python -m nanochat_ref.scripts.tok_train                         # tiny defaults: seconds on a CPU
    python -m nanochat_ref.scripts.tok_train --vocab_size=65536 --max_chars=2000000000   # the speedrun's setting

Design choices:
- Streams train-split documents (every shard except the last), crops each to ``--doc_cap`` characters (so one
  huge document cannot dominate the statistics) and stops after ``--max_chars`` characters.
- Saves ``<base_dir>/tokenizer/`` (``tokenizer.pkl`` + ``tokenizer.tiktoken``), checks that a mixed test string
  (numbers, contractions, symbols, Chinese, emoji) round-trips, then writes ``token_bytes.pt``: an int32 tensor of
  each id's byte length, 0 for special tokens, which turns a loss in nats/token into bits per byte.
- Logs its flags and stats to the report's "Tokenizer training" section, as nanochat does.
- Defaults are small (vocab 4096, 5M characters) because nanochat Lab trains on a few MB of offline text;
  ``--backend python`` forces the slow pure-Python trainer (same merges as rustbpe).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator

from ..common import get_base_dir, print0
from ..dataset import parquets_iter_batched
from ..report import get_report
from ..tokenizer import RustBPETokenizer, compute_token_bytes

TEST_TEXT = """Hello world! This is a test.
Numbers: 123, 4567, 89
Contractions: I'm, you're, it's
Special chars: @#$%^&*()
Unicode: 你好世界 🌍"""


def text_iterator(max_chars: int, doc_cap: int) -> Iterator[str]:
    """Train-split documents, each cropped to ``doc_cap`` characters, until ``max_chars`` have been yielded."""
    nchars = 0
    for batch in parquets_iter_batched(split="train"):
        for doc in batch:
            doc_text = doc[:doc_cap]
            nchars += len(doc_text)
            yield doc_text
            if nchars > max_chars:
                return


def train_tokenizer(
    vocab_size: int, max_chars: int, doc_cap: int, backend: str = "auto", tokenizer_dir: str | None = None
) -> dict:
    """Train, save, sanity-check and write ``token_bytes.pt``; return stats for logging."""
    import torch

    t0 = time.time()
    tokenizer = RustBPETokenizer.train_from_iterator(
        text_iterator(max_chars, doc_cap), vocab_size, backend=backend
    )
    train_time = time.time() - t0
    tokenizer_dir = tokenizer_dir or os.path.join(get_base_dir(), "tokenizer")
    tokenizer.save(tokenizer_dir)

    decoded = tokenizer.decode(tokenizer.encode(TEST_TEXT))
    assert decoded == TEST_TEXT, f"round trip failed: {decoded!r}"

    token_bytes = torch.tensor(compute_token_bytes(tokenizer), dtype=torch.int32, device="cpu")
    with open(os.path.join(tokenizer_dir, "token_bytes.pt"), "wb") as f:
        torch.save(token_bytes, f)
    nonzero = token_bytes[token_bytes > 0].to(dtype=torch.float32)
    return {
        "train_time": train_time,
        "vocab_size": tokenizer.get_vocab_size(),
        "num_special_tokens": len(tokenizer.get_special_tokens()),
        "token_bytes_min": int(nonzero.min().item()),
        "token_bytes_max": int(nonzero.max().item()),
        "token_bytes_mean": nonzero.mean().item(),
        "token_bytes_std": nonzero.std().item(),
        "tokenizer_dir": tokenizer_dir,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Train a BPE tokenizer on the train split")
    parser.add_argument(
        "--max_chars", type=int, default=5_000_000, help="Maximum characters to train on (nanochat: 10B)"
    )
    parser.add_argument("--doc_cap", type=int, default=10_000, help="Maximum characters per document")
    parser.add_argument(
        "--vocab_size",
        type=int,
        default=4096,
        help="Vocabulary size, special tokens included (nanochat: 65536)",
    )
    parser.add_argument(
        "--backend",
        type=str,
        default="auto",
        choices=["auto", "rust", "python"],
        help="BPE trainer: rustbpe if built (auto), rustbpe only (rust), or the pure-Python one (python)",
    )
    args = parser.parse_args(argv)
    print0(f"max_chars: {args.max_chars:,}")
    print0(f"doc_cap: {args.doc_cap:,}")
    print0(f"vocab_size: {args.vocab_size:,}")
    stats = train_tokenizer(args.vocab_size, args.max_chars, args.doc_cap, backend=args.backend)
    for key, value in stats.items():
        print0(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    get_report().log(
        "Tokenizer training", [vars(args), {k: v for k, v in stats.items() if k != "tokenizer_dir"}]
    )
    return stats


if __name__ == "__main__":
    main()
