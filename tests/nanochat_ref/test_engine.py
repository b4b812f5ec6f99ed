"""Tests for nanochat_ref.engine: KV cache, sampling, the calculator tool state machine and batched generation."""

import torch

from nanochat_ref.engine import Engine, KVCache, sample_next_token, use_calculator
from nanochat_ref.gpt import GPT, GPTConfig

SPECIALS = [
    "<|bos|>", "<|user_start|>", "<|user_end|>", "<|assistant_start|>", "<|assistant_end|>",
    "<|python_start|>", "<|python_end|>", "<|output_start|>", "<|output_end|>",
]  # fmt: skip


class ByteTokenizer:
    """Bytes are ids 0..255, the 9 special tokens follow (a minimal stand-in for RustBPETokenizer)."""

    def encode_special(self, s):
        return 256 + SPECIALS.index(s)

    def get_bos_token_id(self):
        return 256

    def get_vocab_size(self):
        return 256 + len(SPECIALS)

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return b"".join(bytes([i]) if i < 256 else SPECIALS[i - 256].encode() for i in ids).decode(
            "utf-8", "replace"
        )


def random_model(seed=0, n_kv_head=1):
    """A small GPT whose weights are all random (the default init zeroes c_proj, which would hide cache bugs)."""
    torch.manual_seed(seed)
    cfg = GPTConfig(sequence_len=64, vocab_size=265, n_layer=2, n_head=2, n_kv_head=n_kv_head, n_embd=32)
    model = GPT(cfg)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model.eval()


def test_kv_cached_greedy_generation_equals_uncached_generation():
    model, tok = random_model(), ByteTokenizer()
    prompt = [256, *tok.encode("hello world")]
    uncached = list(model.generate(prompt, max_tokens=20, temperature=0.0))
    cached = [col[0] for col, _ in Engine(model, tok).generate(prompt, max_tokens=20, temperature=0.0)]
    # the engine stops a row at <|bos|>/<|assistant_end|>; compare up to that point
    assert cached == uncached[: len(cached)] and len(cached) >= 10
    assert len(set(uncached)) > 1  # a non-degenerate sequence


def test_kv_cached_logits_match_full_forward_at_every_step():
    model = random_model(1, n_kv_head=2)
    ids = torch.randint(0, 256, (2, 24))
    full = model(ids)  # (2, 24, V)
    cache = KVCache(batch_size=2, num_heads=2, seq_len=4, head_dim=16, num_layers=2)  # forces growth
    chunks = [model(ids[:, :10], kv_cache=cache)]  # chunked prefill
    for t in range(10, 24):
        chunks.append(model(ids[:, t : t + 1], kv_cache=cache))  # decode
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, atol=2e-3, rtol=2e-3)
    assert cache.get_pos() == 24


def test_kv_cache_grows_to_a_multiple_of_1024_and_keeps_its_content():
    cache = KVCache(batch_size=1, num_heads=2, seq_len=8, head_dim=4, num_layers=2)
    k1 = torch.randn(1, 2, 8, 4)
    for layer in range(2):
        cache.insert_kv(layer, k1, -k1)
    k2 = torch.randn(1, 2, 3, 4)
    for layer in range(2):
        keys, values = cache.insert_kv(layer, k2, -k2)
    assert cache.kv_cache.size(4) == 2048 and cache.get_pos() == 11
    torch.testing.assert_close(keys, torch.cat([k1, k2], dim=2))
    torch.testing.assert_close(values, -torch.cat([k1, k2], dim=2))


def test_kv_cache_position_advances_only_after_the_last_layer():
    cache = KVCache(batch_size=1, num_heads=1, seq_len=8, head_dim=2, num_layers=3)
    k = torch.zeros(1, 1, 2, 2)
    cache.insert_kv(0, k, k)
    cache.insert_kv(1, k, k)
    assert cache.get_pos() == 0
    cache.insert_kv(2, k, k)
    assert cache.get_pos() == 2


def test_kv_cache_prefill_broadcasts_a_batch_one_cache():
    src = KVCache(batch_size=1, num_heads=1, seq_len=3, head_dim=2, num_layers=1)
    k = torch.randn(1, 1, 3, 2)
    src.insert_kv(0, k, k + 1)
    dst = KVCache(batch_size=4, num_heads=1, seq_len=10, head_dim=2, num_layers=1)
    dst.prefill(src)
    assert dst.get_pos() == 3
    torch.testing.assert_close(dst.kv_cache[0, 0, :, :, :3], k.expand(4, -1, -1, -1))
    torch.testing.assert_close(dst.kv_cache[0, 1, :, :, :3], (k + 1).expand(4, -1, -1, -1))


def test_temperature_zero_is_argmax():
    logits = torch.tensor([[0.1, 3.0, 0.2], [5.0, 0.0, 1.0]])
    assert sample_next_token(logits, None, temperature=0.0).tolist() == [[1], [0]]


def test_top_k_only_draws_the_k_most_likely_tokens():
    rng = torch.Generator().manual_seed(0)
    logits = torch.tensor([[1.0, 5.0, 2.0, 4.0, 0.0, 3.0]]).repeat(500, 1)
    drawn = sample_next_token(logits, rng, temperature=2.0, top_k=2)
    assert set(drawn.flatten().tolist()) == {1, 3}


def test_top_p_only_draws_from_the_nucleus():
    rng = torch.Generator().manual_seed(0)
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    drawn = sample_next_token(probs.log().repeat(1000, 1), rng, temperature=1.0, top_p=0.7)
    assert set(drawn.flatten().tolist()) == {1, 3}


def test_sampling_is_reproducible_with_the_same_seed():
    logits = torch.randn(8, 50)
    a = sample_next_token(logits, torch.Generator().manual_seed(3), temperature=1.0)
    b = sample_next_token(logits, torch.Generator().manual_seed(3), temperature=1.0)
    assert torch.equal(a, b)


def test_calculator_evaluates_arithmetic_and_count_calls_only():
    assert use_calculator("3+5") == 8
    assert use_calculator("1,000 * 2") == 2000
    assert use_calculator("'strawberry'.count('r')") == 3
    assert use_calculator("2**100") is None
    assert use_calculator("__import__('os').system('echo hi')") is None
    assert use_calculator("open('x').read()") is None
    assert use_calculator("1/0") is None
    assert use_calculator("'abc'.upper()") is None


class ScriptedModel:
    """A fake model that always predicts the next token of a script (one step per forward call)."""

    def __init__(self, script):
        self.script = script
        self.calls = 0
        self.config = GPTConfig(sequence_len=64, vocab_size=265, n_layer=1, n_head=1, n_kv_head=1, n_embd=4)

    def get_device(self):
        return torch.device("cpu")

    def forward(self, ids, kv_cache=None):
        B, T = ids.shape
        kv_cache.insert_kv(0, torch.zeros(B, 1, T, 4), torch.zeros(B, 1, T, 4))
        logits = torch.full((B, T, 265), -10.0)
        logits[:, -1, self.script[min(self.calls, len(self.script) - 1)]] = 10.0
        self.calls += 1
        return logits


def test_tool_state_machine_injects_calculator_output_with_mask_zero():
    tok = ByteTokenizer()
    ps, pe = tok.encode_special("<|python_start|>"), tok.encode_special("<|python_end|>")
    os_, oe = tok.encode_special("<|output_start|>"), tok.encode_special("<|output_end|>")
    end = tok.encode_special("<|assistant_end|>")
    junk = tok.encode("???")  # sampled during the forced steps, then discarded
    script = [ps, *tok.encode("3+5"), pe, *junk, *tok.encode("!"), end]
    engine = Engine(ScriptedModel(script), tok)
    results, masks = engine.generate_batch([256, 259], num_samples=1, max_tokens=30, temperature=0.0)
    generated, gen_masks = results[0][2:], masks[0][2:]
    assert generated == [ps, *tok.encode("3+5"), pe, os_, *tok.encode("8"), oe, *tok.encode("!")]
    assert gen_masks == [1, 1, 1, 1, 1, 0, 0, 0, 1]


def test_tool_state_machine_injects_nothing_for_a_rejected_expression():
    tok = ByteTokenizer()
    ps, pe = tok.encode_special("<|python_start|>"), tok.encode_special("<|python_end|>")
    end = tok.encode_special("<|assistant_end|>")
    script = [ps, *tok.encode("2**9"), pe, end]
    results, masks = Engine(ScriptedModel(script), tok).generate_batch([256], max_tokens=30, temperature=0.0)
    assert results[0][1:] == script[:-1] and all(m == 1 for m in masks[0][1:])


def test_generate_batch_excludes_terminal_tokens_and_stops_each_row():
    tok = ByteTokenizer()
    end = tok.encode_special("<|assistant_end|>")
    script = [*tok.encode("ok"), end, *tok.encode("more")]
    results, masks = Engine(ScriptedModel(script), tok).generate_batch([256], num_samples=3, max_tokens=10)
    for r, m in zip(results, masks):
        assert r == [256, *tok.encode("ok")] and m == [0, 1, 1]


def test_engine_samples_differ_across_rows_and_repeat_with_the_same_seed():
    model, tok = random_model(2), ByteTokenizer()
    engine = Engine(model, tok)
    prompt = [256, *tok.encode("abc")]
    r1, _ = engine.generate_batch(prompt, num_samples=4, max_tokens=12, temperature=1.5, seed=7)
    r2, _ = engine.generate_batch(prompt, num_samples=4, max_tokens=12, temperature=1.5, seed=7)
    assert r1 == r2
    assert len({tuple(r) for r in r1}) > 1
