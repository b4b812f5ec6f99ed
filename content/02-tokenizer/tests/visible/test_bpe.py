"""Visible tests for module 2 (tokenizer). Learner code is reached only through the ``learner`` fixture."""

import pytest

from nanochat_ref.bpe_python import Tokenizer as RefTrainer
from nanochat_ref.tokenizer import SPECIAL_TOKENS, SPLIT_PATTERN
from nanochat_ref.tokenizer import RustBPETokenizer as RefTokenizer

TEXTS = [
    "the cat sat on the mat. the cat ate the rat.",
    "hello hello world, 12345 and 678!",
    "  indented\n\nlines\tand tabs",
]


@pytest.fixture
def bpe(learner):
    return learner.module("nanochat.bpe_python")


@pytest.fixture
def tok_mod(learner):
    return learner.module("nanochat.tokenizer")


def _ref_trainer(texts, vocab_size):
    ref = RefTrainer()
    ref.train_from_iterator(iter(texts), vocab_size, pattern=SPLIT_PATTERN)
    return ref


def _learner_tokenizer(learner, tok_mod, ranks):
    """A learner RustBPETokenizer around a tiktoken Encoding built in the learner process from ``ranks``."""
    mergeable = {bytes(b): r for b, r in ranks}
    specials = {name: len(mergeable) + i for i, name in enumerate(SPECIAL_TOKENS)}
    enc = learner.module("tiktoken").Encoding(
        name="test", pat_str=SPLIT_PATTERN, mergeable_ranks=mergeable, special_tokens=specials
    )
    return tok_mod.RustBPETokenizer(enc, "<|bos|>")


# --- step 1 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_get_pair_counts_weights_each_pair_by_its_word_count(bpe):
    counts = bpe.get_pair_counts({(1, 2, 3): 2, (2, 3): 5})
    assert dict(counts) == {(1, 2): 2, (2, 3): 7}


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_get_pair_counts_counts_a_pair_repeated_inside_one_word(bpe):
    assert dict(bpe.get_pair_counts({(7, 7, 7): 3})) == {(7, 7): 6}


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_merge_word_replaces_every_occurrence_of_the_pair(bpe):
    assert tuple(bpe.merge_word((1, 2, 3, 1, 2), (1, 2), 9)) == (9, 3, 9)


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_merge_word_is_non_overlapping_left_to_right(bpe):
    assert tuple(bpe.merge_word((1, 1, 1), (1, 1), 9)) == (9, 1)
    assert tuple(bpe.merge_word((1, 1, 1, 1), (1, 1), 9)) == (9, 9)


# --- step 2 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_best_pair_picks_the_highest_count(bpe):
    assert tuple(bpe.best_pair({(5, 6): 3, (1, 2): 2, (9, 9): 1})) == (5, 6)


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_best_pair_breaks_ties_toward_the_smallest_pair(bpe):
    assert tuple(bpe.best_pair({(5, 6): 3, (5, 2): 3, (7, 1): 3})) == (5, 2)


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_best_pair_returns_none_when_no_pair_is_left(bpe):
    assert bpe.best_pair({}) is None
    assert bpe.best_pair({(1, 2): 0}) is None


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_training_learns_the_reference_merges(bpe):
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(TEXTS, 300, pattern=SPLIT_PATTERN)
    ref = _ref_trainer(TEXTS, 300)
    got = [(tuple(p), i) for p, i in trainer.get_merges()]
    assert got == ref.get_merges(), "merges differ from the reference (check the tie rule)"


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_training_never_merges_across_regex_chunks(bpe):
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(["a b a b a b cd cd"], 257, pattern=r"\S+")
    assert [(tuple(p), i) for p, i in trainer.get_merges()] == [((ord("c"), ord("d")), 256)]


# --- step 3 ---------------------------------------------------------------------------------------------------


def _trained_like_reference(learner, bpe, texts, vocab_size):
    """A learner Tokenizer holding the REFERENCE merges (so step 3 is tested apart from your step 2)."""
    ref = _ref_trainer(texts, vocab_size)
    trainer = bpe.Tokenizer()
    set_attr = learner.module("builtins").setattr
    set_attr(trainer, "merges", dict(ref.merges))
    set_attr(trainer, "pattern", SPLIT_PATTERN)
    set_attr(trainer, "compiled_pattern", learner.module("regex").compile(SPLIT_PATTERN))
    return trainer, ref


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_mergeable_ranks_are_the_bytes_then_each_merge_concatenated(learner, bpe):
    trainer, ref = _trained_like_reference(learner, bpe, TEXTS, 280)
    ranks = [(bytes(b), r) for b, r in trainer.get_mergeable_ranks()]
    assert ranks == ref.get_mergeable_ranks()


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_encode_applies_the_merges_like_the_reference(learner, bpe):
    trainer, ref = _trained_like_reference(learner, bpe, TEXTS, 300)
    for text in [*TEXTS, "the rat sat on 9876 hats"]:
        assert list(trainer.encode(text)) == ref.encode(text)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_from_mergeable_ranks_puts_the_specials_after_the_ranks(tok_mod):
    ranks = _ref_trainer(TEXTS, 300).get_mergeable_ranks()
    tok = tok_mod.RustBPETokenizer.from_mergeable_ranks(SPLIT_PATTERN, ranks)
    assert tok.get_vocab_size() == len(ranks) + len(SPECIAL_TOKENS)
    assert tok.get_bos_token_id() == len(ranks)
    ref = RefTokenizer.from_mergeable_ranks(SPLIT_PATTERN, ranks)
    assert list(tok.encode("the cat sat, 12345")) == ref.encode("the cat sat, 12345")


# --- step 4 ---------------------------------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_training_reserves_the_last_nine_ids_for_the_specials(tok_mod):
    tok = tok_mod.RustBPETokenizer.train_from_iterator(TEXTS, 300, backend="python")
    assert tok.get_vocab_size() == 300
    assert [tok.encode_special(s) for s in SPECIAL_TOKENS] == list(range(291, 300))


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_render_conversation_supervises_only_the_assistant_text_and_end(learner, tok_mod):
    ranks = _ref_trainer(TEXTS, 300).get_mergeable_ranks()
    tok = _learner_tokenizer(learner, tok_mod, ranks)
    ref = RefTokenizer.from_mergeable_ranks(SPLIT_PATTERN, ranks)
    conversation = {
        "messages": [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello"}]
    }
    ids, mask = tok.render_conversation(conversation)
    assert list(ids) == ref.render_conversation(conversation)[0]
    assert list(mask) == ref.render_conversation(conversation)[1], "mask differs from the table"


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_render_conversation_masks_python_calls_in_and_outputs_out(learner, tok_mod):
    ranks = _ref_trainer(TEXTS, 300).get_mergeable_ranks()
    tok = _learner_tokenizer(learner, tok_mod, ranks)
    ref = RefTokenizer.from_mergeable_ranks(SPLIT_PATTERN, ranks)
    conversation = {
        "messages": [
            {"role": "user", "content": "2+3?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "python", "text": "2+3"},
                    {"type": "python_output", "text": "5"},
                    {"type": "text", "text": "It is 5."},
                ],
            },
        ]
    }
    ids, mask = tok.render_conversation(conversation)
    ref_ids, ref_mask = ref.render_conversation(conversation)
    assert list(ids) == ref_ids
    assert list(mask) == ref_mask, "mask differs from the table"


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_render_for_completion_ends_with_assistant_start(learner, tok_mod):
    ranks = _ref_trainer(TEXTS, 300).get_mergeable_ranks()
    tok = _learner_tokenizer(learner, tok_mod, ranks)
    ref = RefTokenizer.from_mergeable_ranks(SPLIT_PATTERN, ranks)
    conversation = {
        "messages": [{"role": "user", "content": "say hi"}, {"role": "assistant", "content": "hi"}]
    }
    assert list(tok.render_for_completion(conversation)) == ref.render_for_completion(conversation)
