"""Tests for the tokenizer scripts: tok_train (train + save + token_bytes) and tok_eval (offline GPT-2/GPT-4)."""

import torch

from nanochat_ref.scripts import tok_eval, tok_train
from nanochat_ref.tokenizer import SPECIAL_TOKENS, RustBPETokenizer


def test_tok_train_saves_a_tokenizer_and_token_bytes_under_the_base_dir(tiny_base_dir):
    stats = tok_train.main(["--vocab_size", "300", "--max_chars", "20000", "--backend", "python"])
    tok = RustBPETokenizer.from_directory(str(tiny_base_dir / "tokenizer"))
    assert tok.get_vocab_size() == stats["vocab_size"] == 300
    assert stats["num_special_tokens"] == len(SPECIAL_TOKENS)
    token_bytes = torch.load(tiny_base_dir / "tokenizer" / "token_bytes.pt")
    assert token_bytes.dtype == torch.int32 and token_bytes.shape == (300,)
    assert token_bytes[-len(SPECIAL_TOKENS) :].tolist() == [0] * len(SPECIAL_TOKENS)
    assert token_bytes[:256].tolist() == [1] * 256
    assert stats["token_bytes_max"] == token_bytes.max().item()
    section = (tiny_base_dir / "report" / "tokenizer-training.md").read_text()
    assert "- vocab_size: 300" in section and "train_time" in section


def test_tok_train_text_iterator_crops_documents_and_stops_after_max_chars(tiny_base_dir):
    docs = list(tok_train.text_iterator(max_chars=1000, doc_cap=50))
    assert all(len(d) <= 50 for d in docs)
    assert sum(len(d) for d in docs) > 1000
    assert sum(len(d) for d in docs[:-1]) <= 1000


def test_reference_tokenizers_load_offline_with_their_known_ids():
    refs = tok_eval.load_reference_tokenizers()
    assert refs["gpt2"].encode("hello world") == [31373, 995]
    assert refs["gpt2"].get_vocab_size() == 50257
    assert refs["gpt4"].encode("hello world") == [15339, 1917]


def test_evaluate_reports_bytes_per_token():
    class Chars:  # one token per character
        def encode(self, text):
            return [ord(c) for c in text]

        def decode(self, ids):
            return "".join(map(chr, ids))

    results = tok_eval.evaluate({"chars": Chars()}, {"t": "aé"})
    assert results["chars"]["t"] == {"bytes": 3, "tokens": 2, "ratio": 1.5}


def test_tok_eval_compares_ours_with_gpt2_and_gpt4_on_samples_and_shards(tiny_base_dir, capsys):
    results = tok_eval.main([])
    assert set(results) == {"gpt2", "gpt4", "ours"}
    assert set(results["ours"]) == {*tok_eval.SAMPLE_TEXTS, "shards-train", "shards-val"}
    assert results["ours"]["shards-train"]["ratio"] > 1.0  # trained merges compress in-distribution text
    out = capsys.readouterr().out
    assert "Comparison with gpt2" in out and "Comparison with gpt4" in out
    section = (tiny_base_dir / "report" / "tokenizer-evaluation.md").read_text()
    assert "### Comparison with gpt2" in section and "| shards-val |" in section
