"""Tests for the pure-Python BPE trainer (nanochat_ref.bpe_python) and its agreement with rustbpe."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanochat_ref import bpe_python
from nanochat_ref.tokenizer import SPLIT_PATTERN, get_trainer_backend


def _rustbpe_or_skip():
    try:
        return get_trainer_backend("rust")
    except ImportError:
        pytest.skip(
            "rustbpe extension not importable here (build it with `make rustbpe`); CI builds it first"
        )


def _train(texts, vocab_size, pattern=None):
    t = bpe_python.Tokenizer()
    t.train_from_iterator(iter(texts), vocab_size, pattern=pattern)
    return t


def test_merge_word_is_non_overlapping_left_to_right():
    assert bpe_python.merge_word((1, 1, 1), (1, 1), 9) == (9, 1)
    assert bpe_python.merge_word((1, 1, 1, 1), (1, 1), 9) == (9, 9)
    assert bpe_python.merge_word((2, 1, 3, 1, 3), (1, 3), 9) == (2, 9, 9)


def test_the_most_frequent_pair_is_merged_first():
    t = _train(["abab ab cd"], 257)
    assert t.get_merges() == [((ord("a"), ord("b")), 256)]


def test_ties_go_to_the_smallest_pair_of_ids():
    # "xy" and "ba" each occur twice; (98, 97) < (120, 121), so "ba" wins
    t = _train(["xy xy ba ba"], 257, pattern=r"\S+")
    assert t.get_merges() == [((ord("b"), ord("a")), 256)]


def test_counts_are_weighted_by_chunk_frequency_and_never_cross_chunks():
    # the pattern keeps each word separate: (a, b) never forms across "a" "b" chunks
    t = _train(["a b a b a b cd cd"], 257, pattern=r"\S+")
    assert t.get_merges() == [((ord("c"), ord("d")), 256)]


def test_training_stops_early_when_no_pair_is_left():
    t = _train(["ab"], 300)
    assert t.get_merges() == [((ord("a"), ord("b")), 256)]
    assert len(t.get_mergeable_ranks()) == 257


def test_mergeable_ranks_are_bytes_then_concatenated_merges_in_id_order():
    t = _train(["hello hello hello"], 262)
    ranks = t.get_mergeable_ranks()
    assert [r for _, r in ranks] == list(range(len(ranks)))
    assert ranks[:256] == [(bytes([i]), i) for i in range(256)]
    by_id = dict((r, b) for b, r in ranks)
    for (a, b), new_id in t.get_merges():
        assert by_id[new_id] == by_id[a] + by_id[b]


def test_a_vocab_smaller_than_the_byte_alphabet_is_rejected():
    with pytest.raises(AssertionError):
        _train(["abc"], 255)


def test_the_default_pattern_is_gpt4s_with_three_digit_numbers():
    t = _train(["12345"], 256)
    assert t.get_pattern() == bpe_python.GPT4_PATTERN
    assert t.compiled_pattern.findall("12345") == ["123", "45"]


def test_reference_encode_applies_merges_in_rank_order():
    t = _train(["aaaa aaaa aaab"], 260)
    for text in ["aaaa", "aaab b", "zz"]:
        ids = t.encode(text)
        rebuilt = b"".join(dict((r, b) for b, r in t.get_mergeable_ranks())[i] for i in ids)
        assert rebuilt == text.encode()
    assert len(t.encode("aaaa")) < 4


_texts = st.lists(st.text(alphabet="ab c\n1é中!", max_size=24), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(texts=_texts, extra=st.integers(min_value=0, max_value=40))
def test_python_trainer_learns_the_same_merges_as_rustbpe(texts, extra):
    rust_cls = _rustbpe_or_skip()
    vocab_size = 256 + extra
    rust = rust_cls()
    rust.train_from_iterator(iter(texts), vocab_size, pattern=SPLIT_PATTERN)
    py = _train(texts, vocab_size, pattern=SPLIT_PATTERN)
    assert [(bytes(b), r) for b, r in rust.get_mergeable_ranks()] == py.get_mergeable_ranks()
    for text in texts:
        assert list(rust.encode(text)) == py.encode(text)


def test_python_trainer_matches_rustbpe_on_real_text(tiny_artifacts):
    rust_cls = _rustbpe_or_skip()
    import pyarrow.parquet as pq

    from nanochat_ref.dataset import list_parquet_files

    texts = pq.read_table(list_parquet_files(str(tiny_artifacts / "base_data"))[0]).column("text").to_pylist()
    rust = rust_cls()
    rust.train_from_iterator(iter(texts), 400, pattern=SPLIT_PATTERN)
    py = _train(texts, 400, pattern=SPLIT_PATTERN)
    assert [(bytes(b), r) for b, r in rust.get_mergeable_ranks()] == py.get_mergeable_ranks()


@pytest.fixture(scope="module")
def rust_and_tiktoken(tiny_artifacts):
    """rustbpe trained on the first tiny shard, and tiktoken loaded with its exported ranks."""
    rust_cls = _rustbpe_or_skip()
    import pyarrow.parquet as pq

    from nanochat_ref.dataset import list_parquet_files
    from nanochat_ref.tokenizer import RustBPETokenizer

    texts = pq.read_table(list_parquet_files(str(tiny_artifacts / "base_data"))[0]).column("text").to_pylist()
    rust = rust_cls()
    rust.train_from_iterator(iter(texts), 400, pattern=SPLIT_PATTERN)
    return rust, RustBPETokenizer.from_mergeable_ranks(rust.get_pattern(), rust.get_mergeable_ranks())


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=60))
def test_rustbpe_encode_matches_tiktoken_with_the_exported_ranks(rust_and_tiktoken, text):
    rust, tiktoken_tok = rust_and_tiktoken
    assert list(rust.encode(text)) == tiktoken_tok.encode(text)
