"""Tests of the `rustbpe` extension through its Python interface.

Design choices:
- The differential tests compare against `slow_bpe_train`, a deliberately naive trainer written here (full
  recount every step). It follows the documented tie rule: highest pair count, then the lexicographically
  smallest `(left_id, right_id)`. It splits text with the third-party `regex` module (a tiktoken dependency),
  which understands the GPT-4 pattern's `\\p{..}` classes and possessive quantifiers like fancy-regex does.
- The tiktoken tests build an `Encoding` from `get_mergeable_ranks()` (no download) and check that tiktoken
  and rustbpe produce the same ids and that decoding round-trips.
- The corpus is Python's own `pydoc_data.topics` (offline, ~0.5 MB of English prose and code) plus a few
  multilingual lines, so multi-byte UTF-8 is exercised.
"""

from __future__ import annotations

import pydoc_data.topics

import pytest
import regex
import tiktoken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rustbpe

GPT4_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
NANOCHAT_PATTERN = GPT4_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}{1,2}")

EXTRA = [
    "Ünïcödé naïve café — 東京タワー 中文字符 한국어 텍스트 🙂🙂🚀",
    "def f(x):\n    return x ** 2  # squares\n\n\n",
    "Numbers: 1 12 123 1234 12345 3.14159 2025-11-29",
]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    texts = [t for _, t in sorted(pydoc_data.topics.topics.items())][:120]
    return texts + EXTRA


@pytest.fixture(scope="module")
def trained(corpus: list[str]):
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(corpus), 1024)
    return tok


def slow_bpe_train(texts: list[str], vocab_size: int, pattern: str) -> list[tuple[int, int]]:
    """Naive BPE: split, then repeatedly recount all pairs and merge the best one everywhere.

    Tie rule (same as rustbpe): highest count; among equal counts, the smallest (left_id, right_id).
    """
    words: list[list[int]] = []
    for text in texts:
        words.extend(list(chunk.encode("utf-8")) for chunk in regex.findall(pattern, text))
    merges: list[tuple[int, int]] = []
    for new_id in range(256, vocab_size):
        counts: dict[tuple[int, int], int] = {}
        for ids in words:
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        for i, ids in enumerate(words):
            out: list[int] = []
            j = 0
            while j < len(ids):
                if j + 1 < len(ids) and (ids[j], ids[j + 1]) == best:
                    out.append(new_id)
                    j += 2
                else:
                    out.append(ids[j])
                    j += 1
            words[i] = out
    return merges


def token_table(merges: list[tuple[int, int]]) -> list[bytes]:
    table = [bytes([b]) for b in range(256)]
    for left, right in merges:
        table.append(table[left] + table[right])
    return table


def encoding_from(tok) -> tiktoken.Encoding:
    return tiktoken.Encoding(
        name="rustbpe-test",
        pat_str=tok.get_pattern(),
        mergeable_ranks=dict(tok.get_mergeable_ranks()),
        special_tokens={},
    )


def test_training_produces_exactly_vocab_size_ranks(trained):
    ranks = trained.get_mergeable_ranks()
    assert len(ranks) == 1024
    assert trained.vocab_size == 1024
    assert [rank for _, rank in ranks] == list(range(1024))


def test_the_first_256_ranks_are_the_single_bytes(trained):
    ranks = trained.get_mergeable_ranks()
    assert [b for b, _ in ranks[:256]] == [bytes([i]) for i in range(256)]
    assert all(isinstance(b, bytes) for b, _ in ranks)


def test_every_merged_token_is_unique_and_longer_than_one_byte(trained):
    tokens = [b for b, _ in trained.get_mergeable_ranks()]
    assert len(set(tokens)) == len(tokens)
    assert all(len(t) >= 2 for t in tokens[256:])


def test_tiktoken_built_from_the_ranks_encodes_like_rustbpe(trained, corpus):
    enc = encoding_from(trained)
    for text in corpus:
        assert enc.encode_ordinary(text) == trained.encode(text)


def test_encode_round_trips_through_tiktoken_decode(trained, corpus):
    enc = encoding_from(trained)
    for text in corpus + ["never seen: ⚙️ Ωμέγα zzzzqqq"]:
        assert enc.decode(trained.encode(text)) == text


def test_encoding_compresses_the_training_corpus(trained, corpus):
    text = "\n".join(corpus)
    assert len(trained.encode(text)) < 0.5 * len(text.encode("utf-8"))


def test_batch_encode_equals_encode_per_item(trained, corpus):
    assert trained.batch_encode(corpus) == [trained.encode(t) for t in corpus]


def test_batch_encode_of_an_empty_list_is_empty(trained):
    assert trained.batch_encode([]) == []


def test_default_pattern_is_gpt4(trained):
    assert rustbpe.Tokenizer().get_pattern() == GPT4_PATTERN
    assert trained.get_pattern() == GPT4_PATTERN
    assert rustbpe.GPT4_PATTERN == GPT4_PATTERN


def test_a_custom_pattern_is_kept_and_used(corpus):
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(corpus[:20]), 300, pattern=NANOCHAT_PATTERN)
    assert tok.get_pattern() == NANOCHAT_PATTERN
    # {1,2} digit groups: no token may hold three digits
    for token, _ in tok.get_mergeable_ranks():
        assert not regex.search(rb"\d{3}", token)


def test_the_result_does_not_depend_on_buffer_size(corpus):
    small, large = rustbpe.Tokenizer(), rustbpe.Tokenizer()
    small.train_from_iterator(iter(corpus[:40]), 400, buffer_size=3)
    large.train_from_iterator(iter(corpus[:40]), 400, buffer_size=8192)
    assert small.get_mergeable_ranks() == large.get_mergeable_ranks()


def test_it_accepts_any_iterable_including_generators(corpus):
    from_list, from_gen = rustbpe.Tokenizer(), rustbpe.Tokenizer()
    from_list.train_from_iterator(corpus[:10], 300)
    from_gen.train_from_iterator((t for t in corpus[:10]), 300)
    assert from_list.get_mergeable_ranks() == from_gen.get_mergeable_ranks()


def test_training_matches_the_slow_python_bpe_on_the_corpus(corpus):
    texts = corpus[:6] + EXTRA
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(texts), 360)
    expected = token_table(slow_bpe_train(texts, 360, GPT4_PATTERN))
    assert [b for b, _ in tok.get_mergeable_ranks()] == expected


def test_ties_go_to_the_smallest_pair():
    tok = rustbpe.Tokenizer()
    # "zy", "ba" and "bc" each occur 3 times: the order must be (b,a), (b,c), (z,y), whatever the input order.
    tok.train_from_iterator(["zy", "bc", "ba"] * 3, 256 + 3)
    assert [b for b, _ in tok.get_mergeable_ranks()[256:]] == [b"ba", b"bc", b"zy"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.text(alphabet=st.sampled_from(list("aabbbc  xyz,.!\n12é中🙂")), min_size=0, max_size=40),
        min_size=1,
        max_size=6,
    ),
    extra=st.integers(min_value=0, max_value=40),
)
def test_training_matches_the_slow_python_bpe_on_random_texts(texts, extra):
    vocab = 256 + extra
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(iter(texts), vocab, buffer_size=2)
    expected = token_table(slow_bpe_train(texts, vocab, GPT4_PATTERN))
    assert [b for b, _ in tok.get_mergeable_ranks()] == expected


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
def test_encode_round_trips_any_unicode_text(trained, text):
    ids = trained.encode(text)
    assert trained.decode(ids) == text.encode("utf-8")
    assert encoding_from(trained).decode_bytes(ids) == text.encode("utf-8")


def test_training_stops_early_when_no_pair_is_left():
    tok = rustbpe.Tokenizer()
    tok.train_from_iterator(["abc"], 10_000)
    assert tok.vocab_size == 258


def test_an_untrained_tokenizer_encodes_raw_bytes():
    assert rustbpe.Tokenizer().encode("hé") == list("hé".encode())


def test_vocab_size_below_256_is_rejected():
    with pytest.raises(ValueError, match="at least 256"):
        rustbpe.Tokenizer().train_from_iterator(["abc"], 255)


def test_an_invalid_pattern_is_rejected():
    with pytest.raises(ValueError, match="invalid split pattern"):
        rustbpe.Tokenizer().train_from_iterator(["abc"], 300, pattern="(unclosed")


def test_non_string_items_raise_type_error():
    with pytest.raises(TypeError):
        rustbpe.Tokenizer().train_from_iterator(["ok", 42], 300)


def test_decode_rejects_unknown_ids(trained):
    with pytest.raises(ValueError, match="out of range"):
        trained.decode([10_000])


def test_it_agrees_with_the_pure_python_trainer_in_nanochat_ref(corpus):
    from nanochat_ref.bpe_python import Tokenizer as PyTokenizer

    texts = corpus[:10] + EXTRA
    fast, slow = rustbpe.Tokenizer(), PyTokenizer()
    fast.train_from_iterator(iter(texts), 350)
    slow.train_from_iterator(iter(texts), 350)
    assert fast.get_mergeable_ranks() == slow.get_mergeable_ranks()
    assert fast.batch_encode(EXTRA) == slow.batch_encode(EXTRA)


def test_training_releases_the_gil_so_other_python_threads_keep_running(corpus):
    import threading
    import time

    texts = corpus * 4
    ticks: list[float] = []
    stop = threading.Event()

    def spin():
        n = 0
        while not stop.is_set():
            n += 1
            if n % 1000 == 0:
                ticks.append(time.perf_counter())

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        start = time.perf_counter()
        rustbpe.Tokenizer().train_from_iterator(texts, 4096)  # seconds of Rust work, GIL released inside
        end = time.perf_counter()
    finally:
        stop.set()
        thread.join()
    # Holding the GIL, the spinner could run only around the edges of the call (one switch interval at the
    # start); releasing it, the spinner keeps ticking through the middle of the call.
    margin = 0.25 * (end - start)
    middle = [t for t in ticks if start + margin < t < end - margin]
    assert len(middle) >= 10
