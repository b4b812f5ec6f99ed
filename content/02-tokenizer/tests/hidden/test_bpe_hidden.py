"""Hidden tests for module 2: differential checks on more text, and the rendering edge cases."""

import random

import pytest

from grading.engine.errors import LearnerError
from nanochat_ref.bpe_python import Tokenizer as RefTrainer
from nanochat_ref.tokenizer import SPECIAL_TOKENS, SPLIT_PATTERN
from nanochat_ref.tokenizer import RustBPETokenizer as RefTokenizer


@pytest.fixture
def bpe(learner):
    return learner.module("nanochat.bpe_python")


@pytest.fixture
def tok_mod(learner):
    return learner.module("nanochat.tokenizer")


def _random_texts(seed):
    rng = random.Random(seed)
    alphabet = "ab c\n1é中!"
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(rng.randint(1, 8))
    ]


def _ref(texts, vocab_size, pattern=SPLIT_PATTERN):
    ref = RefTrainer()
    ref.train_from_iterator(iter(texts), vocab_size, pattern=pattern)
    return ref


def _prose():
    from pydoc_data.topics import topics

    return [topics[k][:3000] for k in sorted(topics)[30:36]]


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.parametrize("seed", range(12))
def test_training_matches_the_reference_on_random_small_texts(bpe, seed):
    texts = _random_texts(seed)
    vocab_size = 256 + random.Random(seed).randint(0, 40)
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(texts, vocab_size, pattern=SPLIT_PATTERN)
    assert [(tuple(p), i) for p, i in trainer.get_merges()] == _ref(texts, vocab_size).get_merges()


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_training_matches_the_reference_on_real_prose(bpe, metrics):
    texts = _prose()
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(texts, 400, pattern=SPLIT_PATTERN)
    got = [(tuple(p), i) for p, i in trainer.get_merges()]
    ref = _ref(texts, 400).get_merges()
    metrics.record("merges_matching", sum(a == b for a, b in zip(got, ref)))
    assert got == ref


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_training_stops_early_when_no_pair_is_left(bpe):
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(["abab"], 300)
    assert [(tuple(p), i) for p, i in trainer.get_merges()] == [((97, 98), 256), ((256, 256), 257)]


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_training_without_a_pattern_uses_gpt4s_split(bpe):
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(["12345"], 256)
    assert trainer.get_pattern() == _ref(["12345"], 256, pattern=None).get_pattern()


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_encode_round_trips_unicode_and_matches_tiktoken(bpe):
    texts = _prose()
    trainer = bpe.Tokenizer()
    trainer.train_from_iterator(texts, 350, pattern=SPLIT_PATTERN)
    ref = RefTokenizer.from_mergeable_ranks(SPLIT_PATTERN, _ref(texts, 350).get_mergeable_ranks())
    for text in ["naïve café — 你好世界 🌍", "def f(x):\n    return x ** 2\n", texts[0][:500]]:
        assert list(trainer.encode(text)) == ref.encode(text)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("from-mergeable-ranks")
def test_the_tiktoken_encoding_never_emits_specials_for_special_looking_text(tok_mod):
    ranks = _ref(["hello world"] * 3, 270).get_mergeable_ranks()
    tok = tok_mod.RustBPETokenizer.from_mergeable_ranks(SPLIT_PATTERN, ranks)
    ids = list(tok.encode("<|bos|> hi"))
    assert len(ranks) not in ids
    assert tok.decode(ids) == "<|bos|> hi"


def _learner_tokenizer(learner, tok_mod, ranks):
    mergeable = {bytes(b): r for b, r in ranks}
    specials = {name: len(mergeable) + i for i, name in enumerate(SPECIAL_TOKENS)}
    enc = learner.module("tiktoken").Encoding(
        name="test", pat_str=SPLIT_PATTERN, mergeable_ranks=mergeable, special_tokens=specials
    )
    return tok_mod.RustBPETokenizer(enc, "<|bos|>")


@pytest.fixture
def pair(learner, tok_mod):
    ranks = _ref(["the cat sat on the mat, hello there"] * 3, 300).get_mergeable_ranks()
    return _learner_tokenizer(learner, tok_mod, ranks), RefTokenizer.from_mergeable_ranks(
        SPLIT_PATTERN, ranks
    )


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_a_system_message_is_folded_into_the_first_user_message(pair):
    tok, ref = pair
    conversation = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
        ]
    }
    ids, mask = tok.render_conversation(conversation)
    assert (list(ids), list(mask)) == ref.render_conversation(conversation)


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_a_multi_turn_conversation_with_tools_renders_like_the_reference(pair):
    tok, ref = pair
    conversation = {
        "messages": [
            {"role": "user", "content": "the cat?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "python", "text": "len('cat')"},
                    {"type": "python_output", "text": "3"},
                    {"type": "text", "text": "Three letters."},
                ],
            },
            {"role": "user", "content": "thanks"},
            {"role": "assistant", "content": "you're welcome"},
        ]
    }
    ids, mask = tok.render_conversation(conversation)
    ref_ids, ref_mask = ref.render_conversation(conversation)
    assert list(ids) == ref_ids
    assert list(mask) == ref_mask, "mask differs from the table"


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_ids_and_mask_are_truncated_to_max_tokens(pair):
    tok, ref = pair
    conversation = {
        "messages": [{"role": "user", "content": "cat " * 40}, {"role": "assistant", "content": "mat " * 40}]
    }
    ids, mask = tok.render_conversation(conversation, max_tokens=25)
    assert (list(ids), list(mask)) == ref.render_conversation(conversation, max_tokens=25)
    assert len(mask) == 25


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_roles_that_do_not_alternate_are_rejected(pair):
    tok, _ = pair
    conversation = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    with pytest.raises(LearnerError) as excinfo:
        tok.render_conversation(conversation)
    assert excinfo.value.type_name == "AssertionError"


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_an_unknown_part_type_is_rejected(pair):
    tok, _ = pair
    conversation = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "img", "text": "x"}]},
        ]
    }
    with pytest.raises(LearnerError) as excinfo:
        tok.render_conversation(conversation)
    assert excinfo.value.type_name == "ValueError"


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_render_for_completion_does_not_mutate_the_conversation(pair):
    tok, ref = pair
    conversation = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    }
    assert list(tok.render_for_completion(conversation)) == ref.render_for_completion(conversation)
    # the dict travelled by value, so check the learner did not rely on mutating it: render twice
    assert list(tok.render_for_completion(conversation)) == ref.render_for_completion(conversation)
