"""Visible tests for module 2's optional Rust step: your ``rustbpe/src/lib.rs``, compiled in your sandbox.

The first test that imports ``rustbpe`` compiles your crate (offline, with Debian's crates; tens of seconds); a
compile error fails these tests with rustc's diagnostics, file and line in your code. Your build is compared with
the Python reference trainer: the same merges in the same order, the same ids when encoding.
"""

import functools
import time

import pytest

from grading.testkit import finite_number
from nanochat_ref.bpe_python import Tokenizer as RefTrainer
from nanochat_ref.tokenizer import SPLIT_PATTERN

pytestmark = [pytest.mark.step("step6"), pytest.mark.lab_addition("rust-step")]

STEP = "step 6, the merge loop in Rust"
#: Chunks where a pair overlaps itself or follows itself: "aaaa" holds (a,a) three times but only two merge.
OVERLAPS = ["aaaa", "aaaaa", "abababab", "aab aab", "xaaay", "aaaa aaaa", "abab abab abab"]


def _fail(what, expected, got, cause):
    __tracebackhide__ = True
    raise AssertionError(f"{what}: expected {expected}, got {got}.\nLikely cause: {cause}.\n(Check {STEP}.)")


def _expect_merges(got, expected, what, cause):
    """Compare two lists of (bytes, id) ranks and name the first merge that differs."""
    __tracebackhide__ = True
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            _fail(f"{what}, rank {i}", repr(b), repr(a), cause)
    if len(got) != len(expected):
        _fail(f"{what}, number of ranks", len(expected), len(got), cause)


@pytest.fixture
def rust(learner):
    """Your ``rustbpe`` module (the first import compiles it; later ones find it built)."""
    return learner.module("rustbpe")


def _ranks(tokenizer):
    return [(bytes(b), r) for b, r in tokenizer.get_mergeable_ranks()]


def _train_rust(rust, texts, vocab_size):
    tok = rust.Tokenizer()
    tok.train_from_iterator(list(texts), vocab_size, pattern=SPLIT_PATTERN)
    return tok


@functools.lru_cache(maxsize=8)
def _reference(texts, vocab_size):
    ref = RefTrainer()
    ref.train_from_iterator(iter(texts), vocab_size, pattern=SPLIT_PATTERN)
    return ref


def _corpus(n_topics, chars):
    from pydoc_data.topics import topics

    keys = sorted(topics)
    return tuple(topics[k][:chars] for k in keys[:n_topics])


@pytest.mark.hint("h16")
def test_your_crate_compiles_and_trains(learner, metrics):
    start = time.perf_counter()
    rust = learner.module("rustbpe")
    metrics.record("rust_compile_seconds", finite_number(time.perf_counter() - start, what="compile seconds"))
    tok = _train_rust(rust, ["hello hello"], 257)
    _expect_merges(
        _ranks(tok)[256:],
        [(b"el", 256)],
        "ranks after one merge on 'hello hello'",
        "the first merge must be the most frequent pair, ties to the smallest: (e, l) = (101, 108)",
    )


@pytest.mark.hint("h17")
def test_merging_is_non_overlapping_left_to_right(rust):
    texts = tuple(OVERLAPS)
    vocab = 256 + 12
    _expect_merges(
        _ranks(_train_rust(rust, texts, vocab)),
        _ranks(_reference(texts, vocab)),
        f"ranks after training on {list(texts)}",
        "merge_pair must scan left to right and skip past a match (a a a -> (aa) a, never a (aa) twice), "
        "and read the left neighbour from the merged output, so back-to-back matches give (new, new)",
    )


@pytest.mark.hint("h18")
def test_pair_counts_stay_exact_across_many_merges(rust):
    texts = _corpus(4, 1500)
    vocab = 256 + 120
    _expect_merges(
        _ranks(_train_rust(rust, texts, vocab)),
        _ranks(_reference(texts, vocab)),
        "ranks after 120 merges on 4 documentation topics",
        "a wrong pair-count delta (each change weighted by the word's count: d * counts[wi]), a pair that "
        "gained occurrences but was not pushed on the heap, or positions not updated for the new pairs",
    )


def test_training_stops_when_no_pair_is_left(rust):
    texts = ("ab", "ab ab")
    tok = _train_rust(rust, texts, 256 + 50)
    _expect_merges(
        _ranks(tok),
        _ranks(_reference(texts, 256 + 50)),
        "ranks when fewer merges exist than asked for",
        "the merged pair must leave pair_counts, so the loop ends when nothing is left to merge",
    )


def test_your_rust_tokenizer_encodes_with_the_reference_ids(rust):
    texts = _corpus(4, 1500)
    vocab = 256 + 120
    tok = _train_rust(rust, texts, vocab)
    ref = _reference(texts, vocab)
    held = "The quick brown fox: a held-out sentence, encoded with the learned merges (2024)."
    got = list(tok.encode(held))
    expected = ref.encode(held)
    if got != expected:
        _fail("ids of a held-out sentence", expected, got, "different merges from the reference (see above)")


def test_rust_and_python_train_the_same_merges_timed(learner, rust, metrics):
    """The chart: your Python trainer (baseline) against your Rust one (optimized), on the same corpus."""
    texts = list(_corpus(8, 2000))
    vocab = 256 + 128
    py = learner.module("nanochat.bpe_python").Tokenizer()
    start = time.perf_counter()
    py.train_from_iterator(texts, vocab, pattern=SPLIT_PATTERN)
    metrics.record("train_seconds_baseline", time.perf_counter() - start)
    start = time.perf_counter()
    tok = _train_rust(rust, texts, vocab)
    metrics.record("train_seconds_optimized", time.perf_counter() - start)
    _expect_merges(
        _ranks(tok),
        _ranks(_reference(tuple(texts), vocab)),
        "your Rust trainer's ranks on the step-5 corpus",
        "different merges from the Python reference (see the tests above)",
    )
