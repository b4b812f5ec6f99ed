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
    counts: Counter[Pair] = Counter()
    for ids, freq in words.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] += freq
    return counts


def merge_word(ids: tuple[int, ...], pair: Pair, new_id: int) -> tuple[int, ...]:
    """Replace every non-overlapping occurrence of ``pair`` in ``ids`` (left to right) with ``new_id``."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


def best_pair(counts: Counter[Pair]) -> Pair | None:
    """The pair to merge next: highest count, ties to the smallest ``(a, b)``; ``None`` when nothing is left."""
    live = [pair for pair, count in counts.items() if count > 0]
    if not live:
        return None
    return min(live, key=lambda pair: (-counts[pair], pair))


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
        assert vocab_size >= 256, f"vocab_size must be at least 256, got {vocab_size}"
        del buffer_size
        self.pattern = GPT4_PATTERN if pattern is None else pattern
        self.compiled_pattern = regex.compile(self.pattern)
        self.merges = {}

        # 1. Split every text into chunks and count the unique chunks.
        chunk_counts: Counter[str] = Counter()
        for text in iterator:
            chunk_counts.update(self.compiled_pattern.findall(text))

        # 2. Each unique chunk becomes a word of byte ids, weighted by its count.
        words: dict[tuple[int, ...], int] = {}
        for chunk, freq in chunk_counts.items():
            ids = tuple(chunk.encode("utf-8"))
            words[ids] = words.get(ids, 0) + freq

        # 3. Repeatedly merge the most frequent pair.
        for i in range(vocab_size - 256):
            pair = best_pair(get_pair_counts(words))
            if pair is None:
                break  # no pair left anywhere: fewer merges than asked, like rustbpe
            new_id = 256 + i
            self.merges[pair] = new_id
            merged: dict[tuple[int, ...], int] = {}
            for ids, freq in words.items():
                new_ids = merge_word(ids, pair, new_id) if len(ids) > 1 else ids
                merged[new_ids] = merged.get(new_ids, 0) + freq
            words = merged

    def get_pattern(self) -> str:
        """The regex used to split text into chunks."""
        return self.pattern

    def get_merges(self) -> list[tuple[Pair, int]]:
        """The merges in the order they were learned: ``[((a, b), new_id), ...]``."""
        return sorted(self.merges.items(), key=lambda kv: kv[1])

    def get_mergeable_ranks(self) -> list[tuple[bytes, int]]:
        """Every token's bytes with its id, in id order (tiktoken's ``mergeable_ranks`` format)."""
        token_bytes = [bytes([i]) for i in range(256)]
        for (a, b), new_id in self.get_merges():
            assert new_id == len(token_bytes)
            token_bytes.append(token_bytes[a] + token_bytes[b])
        return [(tb, rank) for rank, tb in enumerate(token_bytes)]

    def encode(self, text: str) -> list[int]:
        """Reference encoder: per chunk, repeatedly apply the learned merge with the lowest id."""
        assert self.compiled_pattern is not None, "train the tokenizer first"
        out: list[int] = []
        for chunk in self.compiled_pattern.findall(text):
            ids = list(chunk.encode("utf-8"))
            while len(ids) >= 2:
                ranked = [(self.merges[p], p) for p in zip(ids, ids[1:]) if p in self.merges]
                if not ranked:
                    break
                new_id, pair = min(ranked)
                ids = list(merge_word(tuple(ids), pair, new_id))
            out.extend(ids)
        return out

    def batch_encode(self, texts: list[str]) -> list[list[int]]:
        """``encode`` for each text (sequential here; rustbpe runs these in parallel)."""
        return [self.encode(t) for t in texts]
