"""Tests for nanochat_ref.tokenizer: special tokens, encode/decode, chat rendering masks, save/load, token bytes."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanochat_ref import bpe_python
from nanochat_ref.tokenizer import (
    SPECIAL_TOKENS,
    SPLIT_PATTERN,
    RustBPETokenizer,
    get_token_bytes,
    get_tokenizer,
    load_tiktoken_file,
)


@pytest.fixture(scope="module")
def tok(tiny_artifacts):
    return RustBPETokenizer.from_directory(str(tiny_artifacts / "tokenizer"))


def test_special_tokens_are_the_nine_nanochat_names_in_order():
    assert SPECIAL_TOKENS == [
        "<|bos|>",
        "<|user_start|>",
        "<|user_end|>",
        "<|assistant_start|>",
        "<|assistant_end|>",
        "<|python_start|>",
        "<|python_end|>",
        "<|output_start|>",
        "<|output_end|>",
    ]


def test_split_pattern_splits_numbers_into_runs_of_at_most_two_digits():
    import regex

    assert regex.findall(SPLIT_PATTERN, "12345 abc") == ["12", "34", "5", " abc"]


def test_special_tokens_occupy_the_last_nine_ids(tok, tiny_config):
    vocab = tiny_config["vocab_size"]
    assert tok.get_vocab_size() == vocab
    assert [tok.encode_special(s) for s in SPECIAL_TOKENS] == list(range(vocab - 9, vocab))
    assert tok.get_bos_token_id() == vocab - 9
    assert tok.get_special_tokens() == set(SPECIAL_TOKENS)


def test_encode_prepends_and_appends_ids_or_special_strings(tok):
    plain = tok.encode("hello world")
    bos, end = tok.encode_special("<|bos|>"), tok.encode_special("<|assistant_end|>")
    assert tok.encode("hello world", prepend="<|bos|>", append=end) == [bos, *plain, end]
    assert tok.encode("hello world", prepend=bos) == [bos, *plain]


def test_encode_a_list_encodes_each_text_with_prepend(tok):
    texts = ["first doc", "second, longer document", ""]
    bos = tok.get_bos_token_id()
    assert tok.encode(texts, prepend=bos, num_threads=2) == [[bos, *tok.encode(t)] for t in texts]


def test_encode_rejects_other_input_types(tok):
    with pytest.raises(ValueError):
        tok.encode(123)


def test_encode_treats_special_token_text_as_ordinary_text(tok):
    ids = tok.encode("<|bos|> hi")
    assert tok.get_bos_token_id() not in ids
    assert tok.decode(ids) == "<|bos|> hi"


def test_id_to_token_decodes_a_single_id(tok):
    assert tok.id_to_token(ord("a")) == "a"
    assert tok.id_to_token(tok.get_bos_token_id()) == "<|bos|>"


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=80))
def test_decode_inverts_encode_for_any_text(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_train_from_iterator_rejects_a_vocab_without_room_for_bytes_and_specials():
    with pytest.raises(AssertionError):
        RustBPETokenizer.train_from_iterator(iter(["abc"]), 256 + 8, backend="python")


def test_trained_tiktoken_encoding_matches_the_python_reference_encoder():
    texts = ["the cat sat on the mat. " * 5, "hello hello world 12345 你好你好", "  spaces\n\nand lines\n"]
    trainer = bpe_python.Tokenizer()
    trainer.train_from_iterator(iter(texts), 300, pattern=SPLIT_PATTERN)
    tok = RustBPETokenizer.from_mergeable_ranks(trainer.get_pattern(), trainer.get_mergeable_ranks())
    for text in [*texts, "the mat sat on 9876 cats 你好"]:
        assert tok.encode(text) == trainer.encode(text)


def test_save_then_from_directory_round_trips_through_pickle_and_text_file(tok, tmp_path):
    tok.save(str(tmp_path))
    text = "Round trip: 12345, don't, 你好 🌍\n"
    from_pickle = RustBPETokenizer.from_directory(str(tmp_path))
    os.remove(tmp_path / "tokenizer.pkl")
    from_text = RustBPETokenizer.from_directory(str(tmp_path))
    for loaded in (from_pickle, from_text):
        assert loaded.get_vocab_size() == tok.get_vocab_size()
        assert loaded.encode(text) == tok.encode(text)
        assert loaded.get_bos_token_id() == tok.get_bos_token_id()
    pattern, ranks = load_tiktoken_file(str(tmp_path / "tokenizer.tiktoken"))
    assert pattern == SPLIT_PATTERN
    assert sorted(ranks.values()) == list(range(tok.get_vocab_size() - len(SPECIAL_TOKENS)))


def test_get_tokenizer_and_get_token_bytes_read_the_base_dir(tiny_base_dir):
    import torch

    tok = get_tokenizer()
    token_bytes = get_token_bytes()
    assert token_bytes.dtype == torch.int32
    assert token_bytes.shape == (tok.get_vocab_size(),)
    assert token_bytes[tok.get_bos_token_id()].item() == 0
    assert token_bytes[ord("a")].item() == 1
    for token_id in range(256, tok.get_vocab_size() - len(SPECIAL_TOKENS)):
        assert token_bytes[token_id].item() == len(tok.decode_single_token_bytes(token_id))


# -----------------------------------------------------------------------------
# Chat rendering: the spec's table, piece by piece


def _sp(tok, name):
    return tok.encode_special(name)


def test_render_conversation_masks_match_the_spec_table(tok):
    conversation = {
        "messages": [
            {"role": "user", "content": "What is 2+3?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me compute."},
                    {"type": "python", "text": "2+3"},
                    {"type": "python_output", "text": "5"},
                    {"type": "text", "text": "It is 5."},
                ],
            },
            {"role": "user", "content": "Thanks"},
            {"role": "assistant", "content": "You're welcome."},
        ]
    }
    expected: list[tuple[int, int]] = []

    def add(ids, m):
        expected.extend((i, m) for i in (ids if isinstance(ids, list) else [ids]))

    add(_sp(tok, "<|bos|>"), 0)
    add(_sp(tok, "<|user_start|>"), 0)
    add(tok.encode("What is 2+3?"), 0)
    add(_sp(tok, "<|user_end|>"), 0)
    add(_sp(tok, "<|assistant_start|>"), 0)
    add(tok.encode("Let me compute."), 1)
    add(_sp(tok, "<|python_start|>"), 1)
    add(tok.encode("2+3"), 1)
    add(_sp(tok, "<|python_end|>"), 1)
    add(_sp(tok, "<|output_start|>"), 0)
    add(tok.encode("5"), 0)
    add(_sp(tok, "<|output_end|>"), 0)
    add(tok.encode("It is 5."), 1)
    add(_sp(tok, "<|assistant_end|>"), 1)
    add(_sp(tok, "<|user_start|>"), 0)
    add(tok.encode("Thanks"), 0)
    add(_sp(tok, "<|user_end|>"), 0)
    add(_sp(tok, "<|assistant_start|>"), 0)
    add(tok.encode("You're welcome."), 1)
    add(_sp(tok, "<|assistant_end|>"), 1)

    ids, mask = tok.render_conversation(conversation)
    assert list(zip(ids, mask)) == expected


def test_render_conversation_folds_a_system_message_into_the_first_user_message(tok):
    conversation = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    }
    ids, mask = tok.render_conversation(conversation)
    user_ids = tok.encode("Be brief.\n\nHi")
    assert ids[:2] == [_sp(tok, "<|bos|>"), _sp(tok, "<|user_start|>")]
    assert ids[2 : 2 + len(user_ids)] == user_ids
    assert ids[2 + len(user_ids)] == _sp(tok, "<|user_end|>")
    assert conversation["messages"][1]["content"] == "Hi"  # the input is not mutated
    assert sum(mask) == len(tok.encode("Hello")) + 1


def test_render_conversation_rejects_roles_that_do_not_alternate(tok):
    conversation = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    with pytest.raises(AssertionError):
        tok.render_conversation(conversation)


def test_render_conversation_rejects_unknown_part_types(tok):
    conversation = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "image", "text": "x"}]},
        ]
    }
    with pytest.raises(ValueError):
        tok.render_conversation(conversation)


def test_render_conversation_truncates_ids_and_mask_to_max_tokens(tok):
    conversation = {
        "messages": [{"role": "user", "content": "word " * 50}, {"role": "assistant", "content": "ok " * 50}]
    }
    full_ids, full_mask = tok.render_conversation(conversation)
    ids, mask = tok.render_conversation(conversation, max_tokens=20)
    assert len(full_ids) > 20
    assert ids == full_ids[:20] and mask == full_mask[:20]


def test_render_for_completion_drops_the_last_answer_and_primes_the_assistant(tok):
    conversation = {
        "messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "hi there"}]
    }
    prompt_only = {"messages": [{"role": "user", "content": "Say hi"}]}
    expected = tok.render_conversation(prompt_only)[0] + [_sp(tok, "<|assistant_start|>")]
    assert tok.render_for_completion(conversation) == expected
    assert len(conversation["messages"]) == 2  # the input is not mutated


def test_visualize_tokenization_colours_supervised_tokens_green(tok):
    ids = tok.encode("ab")[:1] + [tok.get_bos_token_id()]
    out = tok.visualize_tokenization(ids, [1, 0], with_token_id=True)
    green, red = "\033[92m", "\033[91m"
    assert out.startswith(green + tok.decode(ids[:1]))
    assert f"{red}<|bos|>" in out
    assert f"({ids[1]})" in out


def test_from_pretrained_loads_gpt2_and_cl100k_offline_with_endoftext_as_bos():
    gpt2 = RustBPETokenizer.from_pretrained("gpt2")
    gpt4 = RustBPETokenizer.from_pretrained("cl100k_base")
    assert gpt2.get_bos_token_id() == 50256
    assert gpt4.get_bos_token_id() == 100257
    assert gpt2.encode("hello world", prepend="<|endoftext|>") == [50256, 31373, 995]


def test_the_huggingface_wrapper_trains_a_byte_level_bpe_that_round_trips(tmp_path):
    from nanochat_ref.tokenizer import HuggingFaceTokenizer

    texts = ["the cat sat on the mat. " * 4, "hello world 12345 你好"]
    hf = HuggingFaceTokenizer.train_from_iterator(iter(texts), 300)
    assert 256 + 9 < hf.get_vocab_size() <= 300  # bytes + specials + merges (stops early on tiny text)
    text = "the mat sat 12 你好 🌍"
    assert hf.decode(hf.encode(text)) == text
    assert len(hf.encode("the cat sat on the mat.")) < len("the cat sat on the mat.")
    hf.save(str(tmp_path))
    assert HuggingFaceTokenizer.from_directory(str(tmp_path)).encode(text) == hf.encode(text)
