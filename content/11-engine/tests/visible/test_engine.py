"""Visible tests for module 11 (engine). Learner code is reached only through the ``learner`` fixture."""

import pytest
import torch

from nanochat_ref import engine as ref

KV = {"batch_size": 2, "num_heads": 1, "seq_len": 8, "head_dim": 3, "num_layers": 2}


def _kv(T, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 1, T, 3, generator=g).to(dtype), torch.randn(2, 1, T, 3, generator=g).to(dtype)


# --- step 1: the KV cache -------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_insert_kv_returns_views_up_to_the_new_position(eng):
    cache = eng.KVCache(**KV)
    k, v = _kv(3)
    key_view, value_view = cache.insert_kv(0, k, v)
    assert tuple(key_view.shape) == (2, 1, 3, 3), (
        f"insert_kv must return views (B, H, pos + T_add, D), got {tuple(key_view.shape)}"
    )
    torch.testing.assert_close(key_view, k, msg="the key view must hold the inserted keys")
    torch.testing.assert_close(value_view, v, msg="the value view must hold the inserted values")


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_only_the_last_layer_advances_the_position(eng):
    cache = eng.KVCache(**KV)
    k, v = _kv(3)
    cache.insert_kv(0, k, v)
    assert cache.get_pos() == 0, f"pos after layer 0 of 2 must still be 0, got {cache.get_pos()}"
    cache.insert_kv(1, k, v)
    assert cache.get_pos() == 3, f"pos after the last layer must be 3, got {cache.get_pos()}"


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_a_second_insert_appends_after_the_first(eng):
    cache, expected = eng.KVCache(**KV), ref.KVCache(**KV)
    for t, seed in ((3, 0), (2, 1)):
        k, v = _kv(t, seed)
        for layer in range(2):
            got = cache.insert_kv(layer, k, v)
            want = expected.insert_kv(layer, k, v)
    torch.testing.assert_close(got[0], want[0], msg="after two inserts the key view must hold positions 0..4")
    torch.testing.assert_close(
        got[1], want[1], msg="after two inserts the value view must hold positions 0..4"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_prefill_copies_a_batch_1_cache_into_every_row(learner, eng):
    small = eng.KVCache(**{**KV, "batch_size": 1})
    ref_small = ref.KVCache(**{**KV, "batch_size": 1})
    k, v = _kv(4)
    for layer in range(2):
        small.insert_kv(layer, k[:1], v[:1])
        ref_small.insert_kv(layer, k[:1], v[:1])
    big, ref_big = eng.KVCache(**{**KV, "batch_size": 3}), ref.KVCache(**{**KV, "batch_size": 3})
    big.prefill(small)
    ref_big.prefill(ref_small)
    assert big.get_pos() == 4, f"prefill must take over the other cache's pos (4), got {big.get_pos()}"
    got = learner.value(big.kv_cache)[:, :, :, :, :4]
    torch.testing.assert_close(
        got, ref_big.kv_cache[:, :, :, :, :4], msg="prefill must copy every row's cache"
    )


# --- step 2: sampling -----------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_temperature_0_is_the_argmax(eng, rng):
    logits = torch.tensor([[0.1, 2.0, -1.0, 0.5], [3.0, 0.0, 0.0, 1.0]])
    got = eng.sample_next_token(logits, rng(0), 0.0)
    assert got.tolist() == [[1], [0]], f"temperature 0 must return the argmax as (B, 1), got {got.tolist()}"


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_sampling_with_a_seed_matches_the_reference_draws(eng, rng):
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(1))
    got = eng.sample_next_token(logits, rng(42), 1.0)
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(42), 1.0)
    assert torch.equal(got, expected), (
        f"seeded draws (temperature 1): got {got.tolist()}, expected {expected.tolist()}"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_top_k_only_ever_draws_the_k_best_tokens(eng, rng):
    logits = torch.tensor([[5.0, 4.9, 0.0, 4.8, -1.0, 1.0]] * 64)
    got = eng.sample_next_token(logits, rng(7), 2.0, 2)
    assert set(got.flatten().tolist()) <= {0, 1}, (
        f"top_k=2 may only draw tokens 0 and 1, drew {sorted(set(got.flatten().tolist()))}"
    )
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(7), 2.0, 2)
    assert torch.equal(got, expected), "seeded top-k draws must match the reference"


# --- step 3: generate ----------------------------------------------------------------------------------------


def _uncached_greedy(model, prompt, n):
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids[len(prompt) :]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_cached_greedy_generation_equals_uncached_generation(
    learner, eng, model, tok, judge_model, judge_tok
):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("The capital of France is")]
    steps = learner.module("builtins").list(
        eng.Engine(model, tok).generate(prompt, max_tokens=12, temperature=0.0)
    )
    got = [column[0] for column, _masks in steps]
    expected = _uncached_greedy(judge_model, prompt, len(got))
    assert len(got) == 12 or got[-1] in (
        judge_tok.encode_special("<|assistant_end|>"),
        judge_tok.get_bos_token_id(),
    )
    assert got == expected, f"greedy tokens with the KV cache {got} must equal those without it {expected}"


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_seeded_samples_match_the_reference(learner, eng, model, tok, judge_model, judge_tok):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("Hello!")]
    kwargs = {"num_samples": 3, "max_tokens": 8, "temperature": 1.0, "top_k": 20, "seed": 5}
    got = learner.module("builtins").list(eng.Engine(model, tok).generate(prompt, **kwargs))
    expected = list(ref.Engine(judge_model, judge_tok).generate(prompt, **kwargs))
    got = [[list(c), list(m)] for c, m in got]
    expected = [[list(c), list(m)] for c, m in expected]
    assert got == expected, f"steps (column, masks) of 3 seeded samples: got {got}, expected {expected}"


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_generate_batch_returns_prompt_plus_reply_per_sample(eng, model, tok, judge_model, judge_tok):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("Hello!")]
    kwargs = {"max_tokens": 6, "temperature": 0.7, "seed": 1}
    got = eng.Engine(model, tok).generate_batch(prompt, 2, **kwargs)
    expected = ref.Engine(judge_model, judge_tok).generate_batch(prompt, 2, **kwargs)
    assert [list(map(list, x)) for x in got] == [list(map(list, x)) for x in expected], (
        f"generate_batch (results, masks): got {got}, expected {expected}"
    )
