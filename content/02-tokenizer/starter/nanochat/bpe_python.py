"""A slow, clear, pure-Python byte-level BPE trainer with the same interface and the same merges as ``rustbpe``.

Why it exists: it is the readable reference for the tokenizer module (learners can trace every step), the fallback
trainer when the ``rustbpe`` extension is not built, and the oracle for differential tests against ``rustbpe``.

Design choices (each one matches rustbpe, so both produce identical merges on identical input):
- Text is split into chunks with the GPT-4 style regex (``\\p{L}``/``\\p{N}`` classes and possessive quantifiers
  need the PyPI ``regex`` package; the stdlib ``re`` has no Unicode property classes). BPE never merges across
  chunk boundaries, so each unique chunk is trained once, weighted by how often it occurs.
- Every chunk starts as its UTF-8 bytes (ids 0..255); merge ``i`` creates id ``256 + i``.
- Each step merges the pair with the HIGHEST weighted count; ties go to the lexicographically SMALLEST pair of
  token ids ``(a, b)``. Pairs whose count dropped to zero are never merged, so training may stop early.
- Merging is non-overlapping, left to right (``a a a`` with pair ``(a, a)`` becomes ``X a``).
- This version recounts every pair from scratch at each step: O(merges x corpus chunks). rustbpe keeps the counts
  incrementally in a max-heap with lazy refresh, which is why it is orders of magnitude faster; both pick the same
  pair because a live count only ever goes down for existing pairs (new pairs always contain the new id).
- ``get_mergeable_ranks()`` returns ``[(token_bytes, rank), ...]`` in id order: exactly tiktoken's
  ``mergeable_ranks`` format, so tiktoken does the fast inference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import regex

# The real GPT-4 (cl100k) split pattern: rustbpe's default when no pattern is given.
GPT4_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""

Pair = tuple[int, int]


def get_pair_counts(words: dict[tuple[int, ...], int]) -> Counter[Pair]:
    """Count adjacent pairs over all words, each word weighted by how many times its chunk occurred."""
    raise NotImplementedError("TODO(step 1): count adjacent pairs, weighted by each word's count")


def merge_word(ids: tuple[int, ...], pair: Pair, new_id: int) -> tuple[int, ...]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right) with ``new_id``."""
    raise NotImplementedError("TODO(step 1): replace non-overlapping occurrences of pair, left to right")


def best_pair(counts: Counter[Pair]) -> Pair | None:
    """The pair to merge next: highest count, ties to the smallest ``(a, b)``; ``None`` when nothing is left."""
    raise NotImplementedError("TODO(step 2): highest count first, ties to the smallest pair; None if no pair is left")


class Tokenizer:
    """Drop-in, pure-Python stand-in for ``rustbpe.Tokenizer`` (same method names and arguments)."""

    def __init__(self) -> None:
        self.merges: dict[Pair, int] = {}
        self.pattern: str = ""
        self.compiled_pattern: regex.Pattern[str] | None = None

    def train_from_iterator(
        self, iterator: Iterable[str], vocab_size: int, buffer_size: int = 8192, pattern: str | None = None
    ) -> None:
        """Learn ``vocab_size - 256`` merges from the texts in ``iterator``.

        ``buffer_size`` only exists for interface parity with rustbpe (which pulls texts in batches of that size
        before releasing the GIL); the Python version streams one text at a time.
        """
        raise NotImplementedError("TODO(step 2): split with the regex, count chunks, then merge vocab_size - 256 times")

    def get_pattern(self) -> str:
        """The regex used to split text into chunks."""
        return self.pattern

    def get_merges(self) -> list[tuple[Pair, int]]:
        """The merges in the order they were learned: ``[((a, b), new_id), ...]``."""
        return sorted(self.merges.items(), key=lambda kv: kv[1])

    def get_mergeable_ranks(self) -> list[tuple[bytes, int]]:
        """Every token's bytes with its id, in id order (tiktoken's ``mergeable_ranks`` format)."""
        raise NotImplementedError("TODO(step 3): rebuild every token's bytes in id order")

    def encode(self, text: str) -> list[int]:
        """Reference encoder: per chunk, repeatedly apply the learned merge with the lowest id."""
        raise NotImplementedError("TODO(step 3): per chunk, repeatedly apply the learned merge with the lowest id")

    def batch_encode(self, texts: list[str]) -> list[list[int]]:
        """``encode`` for each text (sequential here; rustbpe runs these in parallel)."""
        return [self.encode(t) for t in texts]
