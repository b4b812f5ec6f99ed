"""Hidden tests for module 11: cache growth, dtype, prefill checks, top-p and edge sampling, longer generation."""

import pytest
import torch

from grading.engine.errors import LearnerError
from nanochat_ref import engine as ref

KV = {"batch_size": 2, "num_heads": 1, "seq_len": 8, "head_dim": 3, "num_layers": 2}


def _kv(T, seed=0, dtype=torch.float32, batch=2):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, 1, T, 3, generator=g).to(dtype),
        torch.randn(batch, 1, T, 3, generator=g).to(dtype),
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_the_cache_grows_past_its_length_and_keeps_its_contents(learner, eng):
    cache, expected = eng.KVCache(**KV), ref.KVCache(**KV)
    for t, seed in ((6, 0), (5, 1), (1030, 2)):
        k, v = _kv(t, seed)
        for layer in range(2):
            got = cache.insert_kv(layer, k, v)
            want = expected.insert_kv(layer, k, v)
        assert tuple(learner.value(cache.kv_shape)) == expected.kv_shape
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_cache_is_allocated_lazily_with_the_inserted_dtype(learner, eng):
    cache = eng.KVCache(**KV)
    assert learner.value(cache.kv_cache) is None
    k, v = _kv(2, dtype=torch.bfloat16)
    cache.insert_kv(0, k, v)
    assert learner.value(cache.kv_cache).dtype == torch.bfloat16


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_prefill_refuses_an_empty_source_and_a_full_target(eng):
    empty, target = eng.KVCache(**KV), eng.KVCache(**KV)
    with pytest.raises(LearnerError) as exc:
        target.prefill(empty)
    assert exc.value.type_name == "AssertionError"
    k, v = _kv(2)
    for layer in range(2):
        target.insert_kv(layer, k, v)
    source = eng.KVCache(**KV)
    for layer in range(2):
        source.insert_kv(layer, k, v)
    with pytest.raises(LearnerError) as exc:
        target.prefill(source)
    assert exc.value.type_name == "AssertionError"


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_the_reset_cache_overwrites_from_position_0(eng):
    cache, expected = eng.KVCache(**KV), ref.KVCache(**KV)
    for c in (cache, expected):
        k, v = _kv(4, 0)
        for layer in range(2):
            c.insert_kv(layer, k, v)
        c.reset()
    k, v = _kv(2, 3)
    got, want = cache.insert_kv(0, k, v), expected.insert_kv(0, k, v)
    torch.testing.assert_close(got[0], want[0])


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.parametrize(
    ("temperature", "top_k"),
    [(0.5, None), (1.0, 1), (1.0, 1000), (1.7, 7)],
    ids=["cold", "top-1", "top-k-larger-than-vocab", "hot-top-7"],
)
def test_sampling_matches_the_reference(eng, rng, temperature, top_k):
    logits = torch.randn(8, 40, generator=torch.Generator().manual_seed(3))
    got = eng.sample_next_token(logits, rng(11), temperature, top_k)
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(11), temperature, top_k)
    assert tuple(got.shape) == (8, 1) and torch.equal(got, expected)


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.lab_addition("top-k-zero")
def test_top_k_0_samples_like_no_top_k(eng, rng):
    logits = torch.randn(8, 40, generator=torch.Generator().manual_seed(8))
    got = eng.sample_next_token(logits, rng(2), 0.9, 0)
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(2), 0.9, None)
    assert torch.equal(got, expected)


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.lab_addition("top-p")
@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(0.8, None, 0.5), (1.2, 10, 0.9), (1.0, None, 0.999), (1.0, None, 1.0)],
    ids=["top-p", "top-k-and-top-p", "top-p-almost-1", "top-p-1-off"],
)
def test_top_p_sampling_matches_the_reference(eng, rng, temperature, top_k, top_p):
    logits = torch.randn(8, 40, generator=torch.Generator().manual_seed(3))
    got = eng.sample_next_token(logits, rng(11), temperature, top_k, top_p=top_p)
    expected = ref.sample_next_token(
        logits, torch.Generator().manual_seed(11), temperature, top_k, top_p=top_p
    )
    assert tuple(got.shape) == (8, 1) and torch.equal(got, expected)


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_a_negative_temperature_is_refused(eng, rng):
    with pytest.raises(LearnerError) as exc:
        eng.sample_next_token(torch.zeros(1, 4), rng(0), -0.5)
    assert exc.value.type_name == "AssertionError"


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_samples": 1, "max_tokens": 20, "temperature": 0.0},
        {"num_samples": 4, "max_tokens": 10, "temperature": 1.0, "seed": 9},
        {"num_samples": 2, "max_tokens": 10, "temperature": 0.9, "top_k": 5, "seed": 3},
        {"num_samples": 2, "max_tokens": 1, "temperature": 1.0},
    ],
    ids=["greedy-long", "four-samples", "top-k", "one-token"],
)
def test_generate_matches_the_reference(learner, eng, model, tok, judge_model, judge_tok, kwargs):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("The sky is blue and")]
    got = learner.module("builtins").list(eng.Engine(model, tok).generate(prompt, **kwargs))
    expected = list(ref.Engine(judge_model, judge_tok).generate(prompt, **kwargs))
    assert [[list(c), list(m)] for c, m in got] == [[list(c), list(m)] for c, m in expected]


@pytest.mark.step("step3")
@pytest.mark.hint("h5")
@pytest.mark.lab_addition("top-p")
def test_generate_passes_top_p_through(learner, eng, model, tok, judge_model, judge_tok):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("The sky is blue and")]
    kwargs = {"num_samples": 2, "max_tokens": 10, "temperature": 0.9, "top_k": 5, "top_p": 0.8, "seed": 3}
    got = learner.module("builtins").list(eng.Engine(model, tok).generate(prompt, **kwargs))
    expected = list(ref.Engine(judge_model, judge_tok).generate(prompt, **kwargs))
    assert [[list(c), list(m)] for c, m in got] == [[list(c), list(m)] for c, m in expected]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
@pytest.mark.parametrize(("text", "samples", "n"), [("Thank you.", 3, 5), ("The grass is", 2, 9)])
def test_generate_prefills_once_and_decodes_one_column_per_step(
    eng, model, tok, judge_tok, probe, text, samples, n
):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode(text)]
    run = probe.run_generate(
        eng.Engine, model, tok, prompt, num_samples=samples, max_tokens=n, temperature=1.0
    )
    steps = len(run["steps"])
    assert [list(s) for s in run["shapes"]] == [[1, len(prompt)]] + [[samples, 1]] * steps


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_scripted_rows_end_like_the_reference(eng, tok, judge_tok, probe, judge_probe):
    prompt = [judge_tok.get_bos_token_id(), *judge_tok.encode("Thank you.")]
    end, bos = judge_tok.encode_special("<|assistant_end|>"), judge_tok.get_bos_token_id()
    script = [[70, bos, 71], [70, 71, 72, 73, end], [70, 72, 72, 72, 72, 72, 72, 72, bos]]
    vocab = judge_tok.get_vocab_size()
    for kwargs in ({"num_samples": 3, "max_tokens": 30}, {"num_samples": 2, "max_tokens": 3}):
        got = probe.run_generate(
            eng.Engine,
            probe.scripted_model(vocab, len(prompt), script),
            tok,
            prompt,
            temperature=0.0,
            **kwargs,
        )["steps"]
        expected = judge_probe.run_generate(
            ref.Engine,
            judge_probe.scripted_model(vocab, len(prompt), script),
            judge_tok,
            prompt,
            temperature=0.0,
            **kwargs,
        )["steps"]
        assert got == expected
