"""Visible tests for module 11 (engine). Learner code is reached only through the ``learner`` fixture.

Every failure message says what was expected, what came, the likely cause and the step. Work is counted (forward
calls and their ``(B, T)``), never timed; timings are only charted.
"""

import math

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


def _insert_all_layers(cache, k, v, layers=2):
    for layer in range(layers):
        out = cache.insert_kv(layer, k, v)
    return out


# --- step 1: the KV cache -------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_insert_kv_returns_views_up_to_the_new_position(eng):
    cache = eng.KVCache(**KV)
    k, v = _kv(3)
    key_view, value_view = cache.insert_kv(0, k, v)
    assert tuple(key_view.shape) == (2, 1, 3, 3), (
        f"insert_kv(0, k, v) with k of shape (B=2, H=1, T_add=3, D=3) into an empty cache: expected views of shape "
        f"(B, H, pos + T_add, D) = (2, 1, 3, 3), got {tuple(key_view.shape)}. Likely cause: T_add read from the "
        "wrong axis of k (it is k.size(2)), or views cut at the cache's full length instead of pos + T_add (step 1)."
    )
    torch.testing.assert_close(
        key_view, k, msg="step 1: the key view must hold the inserted keys (index 0 = K)"
    )
    torch.testing.assert_close(
        value_view, v, msg="step 1: the value view must hold the inserted values (index 1 = V)"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_only_the_last_layer_advances_the_position(eng):
    cache = eng.KVCache(**KV)
    k, v = _kv(3)
    cache.insert_kv(0, k, v)
    assert cache.get_pos() == 0, (
        f"after layer 0 of 2 inserted 3 positions, expected pos 0, got {cache.get_pos()}. Likely cause: pos advances "
        "on every layer's insert; only the last layer (layer_idx == num_layers - 1) may advance it (step 1)."
    )
    cache.insert_kv(1, k, v)
    assert cache.get_pos() == 3, (
        f"after the last layer inserted 3 positions, expected pos 3, got {cache.get_pos()}. Likely cause: the last "
        "layer does not set pos = pos + T_add (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_a_second_insert_appends_after_the_first(eng):
    cache, expected = eng.KVCache(**KV), ref.KVCache(**KV)
    for t, seed in ((3, 0), (2, 1)):
        k, v = _kv(t, seed)
        got = _insert_all_layers(cache, k, v)
        want = _insert_all_layers(expected, k, v)
    msg = (
        "step 1: after inserting 3 then 2 positions, the views must hold positions 0..4, old ones first. Likely "
        "cause: the second insert overwrote position 0 (writes must start at pos), or the views hold only the new "
        "positions (return [:pos + T_add], not [pos:pos + T_add])."
    )
    torch.testing.assert_close(got[0], want[0], msg=msg)
    torch.testing.assert_close(got[1], want[1], msg=msg)


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_many_one_token_steps_after_a_prefill_keep_every_position(eng):
    cache, expected = eng.KVCache(**{**KV, "seq_len": 30}), ref.KVCache(**{**KV, "seq_len": 30})
    steps = [(5, 0)] + [(1, seed) for seed in range(1, 21)]
    for n, (t, seed) in enumerate(steps):
        k, v = _kv(t, seed)
        got = _insert_all_layers(cache, k, v)
        want = _insert_all_layers(expected, k, v)
        assert cache.get_pos() == expected.get_pos(), (
            f"after a 5-position prefill and {n} one-token decode steps, expected pos {expected.get_pos()}, got "
            f"{cache.get_pos()}. Likely cause: pos advanced by the wrong amount (it moves by T_add once per forward "
            "pass, after the last layer) (step 1)."
        )
    torch.testing.assert_close(
        got[0],
        want[0],
        msg="step 1: after a prefill and 20 one-token steps the key view must hold all 25 positions in order",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_the_cache_is_allocated_lazily_with_the_inserted_dtype(learner, eng):
    cache = eng.KVCache(**KV)
    assert learner.value(cache.kv_cache) is None, (
        "step 1: a new KVCache must hold kv_cache = None until the first insert_kv, which knows the dtype and device"
    )
    k, v = _kv(2, dtype=torch.bfloat16)
    cache.insert_kv(0, k, v)
    got = learner.value(cache.kv_cache)
    assert got.dtype == torch.bfloat16 and tuple(got.shape) == (2, 2, 2, 1, 8, 3), (
        f"after a first insert of bfloat16 keys, expected a bfloat16 cache of kv_shape (2, 2, 2, 1, 8, 3), got "
        f"{got.dtype} of shape {tuple(got.shape)}. Likely cause: torch.empty(kv_shape) without dtype=k.dtype "
        "(under autocast the model's keys are bf16, and a float32 cache doubles the memory) (step 1)."
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_the_cache_grows_in_1024_chunks_and_keeps_its_contents(learner, eng):
    cache, expected = eng.KVCache(**KV), ref.KVCache(**KV)
    for t, seed in ((5, 0), (4, 1), (3, 2)):
        k, v = _kv(t, seed)
        got = _insert_all_layers(cache, k, v)
        want = _insert_all_layers(expected, k, v)
        got_shape = tuple(learner.value(cache.kv_shape))
        assert got_shape == tuple(expected.kv_shape), (
            f"a cache of seq_len 8 after inserts of 5, 4, 3 positions (now {expected.get_pos()}): expected kv_shape "
            f"{tuple(expected.kv_shape)}, got {got_shape}. Likely cause: growth must reach pos + T_add + 1024 "
            "rounded up to a multiple of 1024 (here 2048), and kv_shape must follow the grown tensor (step 1)."
        )
    msg = (
        "step 1: after the cache grew, the views must still hold every earlier position. Likely cause: the old "
        "tensor was resized or reshaped in place (which scrambles the (L, 2, B, H, T, D) layout) instead of "
        "concatenated with a new block along T (dim 4)."
    )
    torch.testing.assert_close(got[0], want[0], msg=msg)
    torch.testing.assert_close(got[1], want[1], msg=msg)


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_a_reset_cache_writes_again_from_position_0(eng):
    cache, expected = eng.KVCache(**KV), ref.KVCache(**KV)
    for c in (cache, expected):
        _insert_all_layers(c, *_kv(4, 0))
        c.reset()
    assert cache.get_pos() == 0, f"step 1: reset() must set pos back to 0, got {cache.get_pos()}"
    k, v = _kv(2, 3)
    got, want = cache.insert_kv(0, k, v), expected.insert_kv(0, k, v)
    torch.testing.assert_close(
        got[0], want[0], msg="step 1: after reset() the next insert must write positions 0..1 and return them"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_prefill_copies_a_batch_1_cache_into_every_row(learner, eng):
    # As in Engine.generate: the batch-1 cache is exactly as long as the prompt it holds.
    small = eng.KVCache(**{**KV, "batch_size": 1, "seq_len": 4})
    ref_small = ref.KVCache(**{**KV, "batch_size": 1, "seq_len": 4})
    k, v = _kv(4, batch=1)
    _insert_all_layers(small, k, v)
    _insert_all_layers(ref_small, k, v)
    big, ref_big = eng.KVCache(**{**KV, "batch_size": 3}), ref.KVCache(**{**KV, "batch_size": 3})
    big.prefill(small)
    ref_big.prefill(ref_small)
    assert big.get_pos() == 4, (
        f"after prefill from a cache at pos 4, expected pos 4, got {big.get_pos()}. Likely cause: prefill must take "
        "over the other cache's pos, or the next insert overwrites the prompt (step 1)."
    )
    got = learner.value(big.kv_cache)
    assert tuple(got.shape) == (2, 2, 3, 1, 8, 3), (
        f"prefill into a cache of batch 3 and seq_len 8: expected a tensor of this cache's kv_shape (2, 2, 3, 1, 8, 3), "
        f"got {tuple(got.shape)}. Likely cause: allocated with the other cache's shape, or not broadcast over the "
        "batch (step 1)."
    )
    torch.testing.assert_close(
        got[:, :, :, :, :4],
        ref_big.kv_cache[:, :, :, :, :4],
        msg="step 1: prefill must copy the batch-1 cache's 4 positions into every one of the 3 rows",
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_prefill_refuses_an_empty_source_a_filled_target_and_a_batch_mismatch(eng):
    cases = {}
    empty, target = eng.KVCache(**KV), eng.KVCache(**KV)
    cases["prefill from an empty cache"] = (target, empty)
    filled_target, source = eng.KVCache(**KV), eng.KVCache(**KV)
    _insert_all_layers(filled_target, *_kv(2))
    _insert_all_layers(source, *_kv(2))
    cases["prefill into a cache that already holds positions"] = (filled_target, source)
    wide = eng.KVCache(**{**KV, "batch_size": 3})
    cases["prefill of a batch-3 cache from a batch-2 one"] = (wide, source)
    for what, (into, other) in cases.items():
        with pytest.raises(LearnerError) as exc:
            into.prefill(other)
        assert exc.value.type_name == "AssertionError", (
            f"{what}: expected an AssertionError, got {exc.value.type_name}: {exc.value.message}. Likely cause: "
            "prefill must assert its preconditions (this cache empty, the other filled, batch equal or 1) (step 1)."
        )


# --- step 2: sampling -----------------------------------------------------------------------------------------

# Token 4 has probability 0.40, token 1 0.35, token 2 0.25 (at temperature 1); the others ~0. The best tokens
# are not at indices 0..k-1, so an index into the sorted values is not a token id.
NUCLEUS = torch.log(torch.tensor([1e-13, 0.35, 0.25, 1e-13, 0.40, 1e-13]))


def _draws(got):
    return sorted(set(got.flatten().tolist()))


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_temperature_0_is_the_argmax(eng, rng):
    logits = torch.tensor([[0.1, 2.0, -1.0, 0.5], [3.0, 0.0, 0.0, 1.0]])
    got = eng.sample_next_token(logits, rng(0), 0.0)
    assert got.tolist() == [[1], [0]], (
        f"temperature 0 on two rows whose largest logits are at 1 and 0: expected [[1], [0]] (B, 1), got "
        f"{got.tolist()}. Likely cause: no greedy branch, or argmax without keepdim=True (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_sampling_with_a_seed_matches_the_reference_draws(eng, rng, temperature):
    logits = torch.randn(16, 50, generator=torch.Generator().manual_seed(1)) * 2
    got = eng.sample_next_token(logits, rng(42), temperature)
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(42), temperature)
    assert tuple(got.shape) == (16, 1) and torch.equal(got, expected), (
        f"16 rows, temperature {temperature}, generator seeded 42: expected draws {expected.flatten().tolist()}, got "
        f"{got.flatten().tolist()}. Likely cause: the draw must be torch.multinomial(softmax(logits / temperature), "
        "1, generator=rng): the global RNG, logits * temperature, or the temperature applied after the softmax "
        "all draw other tokens (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_top_k_only_ever_draws_the_k_best_tokens(eng, rng):
    logits = torch.tensor([[0.0, 4.8, -1.0, 5.0, 1.0, 4.9]] * 64)
    got = eng.sample_next_token(logits, rng(7), 2.0, 2)
    assert _draws(got) == [3, 5], (
        f"top_k=2 over 64 rows whose two largest logits are tokens 3 and 5: expected draws of exactly tokens [3, 5], "
        f"got {_draws(got)}. Likely cause: the index into the top-k values returned instead of the token id "
        "(map back with idx.gather(1, choice)), or the filter not applied (step 2)."
    )
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(7), 2.0, 2)
    assert torch.equal(got, expected), (
        f"seeded top-k draws at temperature 2: expected {expected.flatten().tolist()}, got {got.flatten().tolist()}. "
        "Likely cause: softmax(vals / temperature) over the k kept values, then one multinomial draw with the "
        "generator (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_a_top_k_larger_than_the_vocabulary_keeps_every_token(eng, rng):
    logits = torch.randn(8, 6, generator=torch.Generator().manual_seed(2))
    got = eng.sample_next_token(logits, rng(5), 1.0, 50)
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(5), 1.0, 50)
    assert torch.equal(got, expected), (
        f"top_k=50 over a 6-token vocabulary: expected draws {expected.flatten().tolist()}, got "
        f"{got.flatten().tolist()}. Likely cause: k must be min(top_k, V) (torch.topk refuses k > V) (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_a_negative_temperature_is_refused(eng, rng):
    with pytest.raises(LearnerError) as exc:
        eng.sample_next_token(torch.zeros(1, 4), rng(0), -0.5)
    assert exc.value.type_name == "AssertionError", (
        f"temperature -0.5: expected an AssertionError, got {exc.value.type_name}. Likely cause: no "
        "`assert temperature >= 0.0` at the top of sample_next_token (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.lab_addition("top-k-zero")
def test_top_k_0_switches_top_k_off(eng, rng):
    logits = torch.randn(8, 30, generator=torch.Generator().manual_seed(4))
    got = eng.sample_next_token(logits, rng(9), 1.0, 0)
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(9), 1.0, None)
    assert torch.equal(got, expected), (
        f"top_k=0 must sample from the whole distribution, like top_k=None: expected {expected.flatten().tolist()}, "
        f"got {got.flatten().tolist()}. Likely cause: `if top_k is not None` lets 0 through to torch.topk(k=0); "
        "test `top_k is not None and top_k > 0` (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.lab_addition("top-p")
@pytest.mark.parametrize(
    ("temperature", "top_p", "allowed"),
    [(1.0, 0.6, [1, 4]), (2.0, 0.72, [1, 2, 4])],
    ids=["t1-top-p-0.6", "t2-top-p-0.72"],
)
def test_top_p_keeps_the_smallest_prefix_that_reaches_p(eng, rng, temperature, top_p, allowed):
    logits = NUCLEUS.expand(256, -1).clone()
    got = eng.sample_next_token(logits, rng(13), temperature, None, top_p)
    probs = torch.softmax(NUCLEUS / temperature, dim=-1)[[4, 1, 2]].tolist()
    assert _draws(got) == allowed, (
        f"top_p={top_p} at temperature {temperature}: tokens 4, 1, 2 have probabilities "
        f"{[round(p, 3) for p in probs]}, so the nucleus (sorted, keep each token while the mass BEFORE it is "
        f"< top_p) is {allowed}; 256 draws gave {_draws(got)}. Likely cause: `cumsum < top_p` drops the token "
        "that crosses p (keep `cumsum - probs < top_p`), the logits not sorted first, or the nucleus taken before "
        "dividing by the temperature (step 2)."
    )
    expected = ref.sample_next_token(logits, torch.Generator().manual_seed(13), temperature, None, top_p)
    assert torch.equal(got, expected), (
        f"seeded top-p draws: expected {expected.flatten().tolist()[:24]}..., got {got.flatten().tolist()[:24]}... "
        "Likely cause: zero the dropped probabilities, renormalise, draw once with the generator, then map the "
        "choice back through the sort indices (step 2)."
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
@pytest.mark.lab_addition("top-p")
def test_top_p_also_filters_the_top_k_survivors(eng, rng):
    logits = NUCLEUS.expand(64, -1).clone()
    got = eng.sample_next_token(logits, rng(3), 1.0, 3, 0.3)
    assert _draws(got) == [4], (
        f"top_k=3 then top_p=0.3: token 4 alone (p = 0.40) reaches 0.3, so every draw must be 4; got {_draws(got)}. "
        "Likely cause: top_p applied only when top_k is not given; both filters apply, top-k first (step 2)."
    )


# --- step 3: generate ----------------------------------------------------------------------------------------


def _special(judge_tok):
    return {
        "assistant_end": judge_tok.encode_special("<|assistant_end|>"),
        "bos": judge_tok.get_bos_token_id(),
    }


def _prompt(judge_tok, text):
    return [judge_tok.get_bos_token_id(), *judge_tok.encode(text)]


def _run(probe, eng, model, tok, prompt, **kwargs):
    """The learner's Engine.generate run to the end in the learner's process: steps and the model's forward calls."""
    return probe.run_generate(eng.Engine, model, tok, prompt, **kwargs)


def _tokens(steps, row=0):
    return [column[row] for column, _masks in steps]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_cached_greedy_generation_equals_uncached_generation(eng, model, tok, judge_tok, probe):
    prompt = _prompt(judge_tok, "The capital of France is")
    got = _tokens(_run(probe, eng, model, tok, prompt, max_tokens=12, temperature=0.0)["steps"])
    expected = probe.run_uncached_greedy(model, prompt, 12)["tokens"]
    ends = set(_special(judge_tok).values())
    assert got and (len(got) == 12 or got[-1] in ends), (
        f"greedy generate(max_tokens=12): expected 12 tokens, or fewer ending on <|assistant_end|>/<|bos|>, got "
        f"{len(got)}: {got} (step 3)."
    )
    assert got == expected[: len(got)], (
        f"greedy tokens with the KV cache must equal those of the same model run on the whole sequence each step: "
        f"expected {expected[: len(got)]}, got {got}. Likely cause: the decode step feeds something other than the "
        "last column (B, 1) with the decode cache, or the decode cache was not filled by prefill (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_seeded_samples_match_the_reference(learner, eng, model, tok, judge_model, judge_tok):
    prompt = _prompt(judge_tok, "Hello!")
    kwargs = {"num_samples": 3, "max_tokens": 8, "temperature": 1.0, "top_k": 20, "seed": 5}
    got = learner.module("builtins").list(eng.Engine(model, tok).generate(prompt, **kwargs))
    expected = list(ref.Engine(judge_model, judge_tok).generate(prompt, **kwargs))
    got = [[list(c), list(m)] for c, m in got]
    expected = [[list(c), list(m)] for c, m in expected]
    assert got == expected, (
        f"steps (column, masks) of generate(3 samples, top_k 20, seed 5): expected {expected}, got {got}. Likely "
        "cause: one torch.Generator seeded with `seed` on the model's device, one sample_next_token call per step "
        "for all rows (row i takes draw i), temperature and top_k passed through, mask 1 for sampled tokens "
        "(step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_generate_batch_returns_prompt_plus_reply_per_sample(eng, model, tok, judge_model, judge_tok):
    prompt = _prompt(judge_tok, "Hello!")
    kwargs = {"max_tokens": 6, "temperature": 0.7, "seed": 1}
    got = eng.Engine(model, tok).generate_batch(prompt, 2, **kwargs)
    expected = ref.Engine(judge_model, judge_tok).generate_batch(prompt, 2, **kwargs)
    assert [list(map(list, x)) for x in got] == [list(map(list, x)) for x in expected], (
        f"generate_batch(prompt, 2, max_tokens=6, temperature=0.7, seed=1) (results, masks): expected {expected}, "
        f"got {got}. Likely cause: generate's columns differ (see the other step-3 tests) (step 3)."
    )


# Rows of scripted replies (FILLER tokens, then an end). The scripted model predicts them regardless of the input.
FILLER = (65, 66, 67)


def _script(judge_tok):
    sp, (a, b, c) = _special(judge_tok), FILLER
    return [
        [a, b, sp["assistant_end"], c, c, c],
        [a, c, c, c, sp["bos"], b],
        [a, b, b, c, c, sp["assistant_end"]],
    ]


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_rows_end_on_assistant_end_or_bos_and_the_loop_stops_when_all_have(
    eng, tok, judge_tok, probe, judge_probe
):
    prompt = _prompt(judge_tok, "Hello!")
    script = _script(judge_tok)
    learner_model = probe.scripted_model(judge_tok.get_vocab_size(), len(prompt), script)
    judge_model = judge_probe.scripted_model(judge_tok.get_vocab_size(), len(prompt), script)
    kwargs = {"num_samples": 3, "max_tokens": 20, "temperature": 0.0}
    got = _run(probe, eng, learner_model, tok, prompt, **kwargs)["steps"]
    expected = judge_probe.run_generate(ref.Engine, judge_model, judge_tok, prompt, **kwargs)["steps"]
    assert got == expected, (
        f"3 scripted rows end on <|assistant_end|> at step 3, <|bos|> at step 5 and <|assistant_end|> at step 6: "
        f"expected {len(expected)} steps {expected}, got {len(got)} steps {got}. Likely cause: a row must complete on "
        "<|assistant_end|> OR <|bos|>, a completed row keeps receiving sampled tokens, and the loop stops only "
        "when EVERY row has completed (or after max_tokens) (step 3)."
    )
    results, masks = eng.Engine(learner_model, tok).generate_batch(prompt, **kwargs)
    want_results, want_masks = ref.Engine(judge_model, judge_tok).generate_batch(prompt, **kwargs)
    assert [list(r) for r in results] == want_results and [list(m) for m in masks] == want_masks, (
        f"generate_batch on the same rows: expected results {want_results}, got {results}. It must stop each row at "
        "its terminal token and leave that token out (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_generation_stops_after_exactly_max_tokens(eng, tok, judge_tok, probe):
    prompt = _prompt(judge_tok, "Hello!")
    never_ends = [list(FILLER) * 4]
    model = probe.scripted_model(judge_tok.get_vocab_size(), len(prompt), never_ends)
    run = _run(probe, eng, model, tok, prompt, num_samples=2, max_tokens=7, temperature=0.0)
    assert len(run["steps"]) == 7, (
        f"generate(max_tokens=7) on rows that never end: expected 7 steps, got {len(run['steps'])}. Likely cause: an "
        "off-by-one in the stop test (stop when num_generated >= max_tokens, checked before sampling) (step 3)."
    )


def _timings(seconds):
    """Timings are charted only, never graded: chart them when they are real positive durations."""
    return all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in seconds)


def _expected_calls(prompt_len, num_samples, steps):
    return [[1, prompt_len]] + [[num_samples, 1]] * steps


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_the_cache_computes_one_new_position_per_generated_token(eng, model, tok, judge_tok, probe, metrics):
    prompt = _prompt(judge_tok, "The sky is blue and")
    n = 40
    cached = _run(probe, eng, model, tok, prompt, max_tokens=n, temperature=1.0, seed=3)
    steps = len(cached["steps"])
    calls = [list(s) for s in cached["shapes"]]
    expected = _expected_calls(len(prompt), 1, steps)
    assert calls == expected, (
        f"forward calls (batch, positions) of generate on a {len(prompt)}-token prompt, {steps} tokens: expected "
        f"one prefill {expected[0]} then one [1, 1] per token, {expected}; got {calls}. Likely cause: the whole "
        "sequence fed again each step (no cache: the work grows with the length), or the prompt prefilled more "
        "than once (step 3)."
    )
    uncached = probe.run_uncached_greedy(model, prompt, n)
    # Positions the model computes to produce token i: prefill then 1 per token with the cache; all of them without.
    metrics.series("positions_per_token_without_cache", [float(t) for _b, t in uncached["shapes"]])
    metrics.series("positions_per_token_with_cache", [float(b * t) for b, t in calls[:steps]])
    metrics.record("positions_computed_baseline", float(sum(t for _b, t in uncached["shapes"])))
    metrics.record("positions_computed_optimized", float(sum(b * t for b, t in calls[:steps])))
    seconds = (uncached["seconds"], cached["seconds"])
    if _timings(seconds):
        metrics.record("tokens_per_s_baseline", n / seconds[0])
        metrics.record("tokens_per_s_optimized", steps / seconds[1])


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_batched_samples_share_one_prefill_and_one_forward_per_step(
    eng, model, tok, judge_tok, probe, metrics
):
    prompt = _prompt(judge_tok, "Hello!")
    n, samples = 8, 4
    kwargs = {"max_tokens": n, "temperature": 1.0, "top_k": 20}
    batched = _run(probe, eng, model, tok, prompt, num_samples=samples, seed=7, **kwargs)
    steps = len(batched["steps"])
    calls = [list(s) for s in batched["shapes"]]
    expected = _expected_calls(len(prompt), samples, steps)
    assert calls == expected, (
        f"forward calls (batch, positions) of generate(num_samples={samples}) on a {len(prompt)}-token prompt: "
        f"expected the prompt once at batch 1, {expected[0]}, then one [{samples}, 1] column per step: {expected}; "
        f"got {calls}. Likely cause: the prompt prefilled for every sample (batch {samples}) instead of once and "
        "copied with KVCache.prefill, or the decode step not batched (step 3)."
    )
    singles = [
        _run(probe, eng, model, tok, prompt, num_samples=1, seed=7 + i, **kwargs) for i in range(samples)
    ]
    single_calls = sum(len(r["shapes"]) for r in singles)
    single_tokens = sum(len(r["steps"]) for r in singles)
    metrics.record("forward_calls_baseline", float(single_calls))
    metrics.record("forward_calls_optimized", float(len(calls)))
    seconds = (sum(r["seconds"] for r in singles), batched["seconds"])
    if _timings(seconds):
        metrics.record("sample_tokens_per_s_baseline", single_tokens / seconds[0])
        metrics.record("sample_tokens_per_s_optimized", samples * steps / seconds[1])
    # The heatmap (charted, never graded): sample tokens per second over batch size x tokens generated.
    sizes, lengths = [1, 2, 4], [4, 8, 16]
    grid = []
    for size in sizes:
        for length in lengths:
            run = _run(
                probe, eng, model, tok, prompt, num_samples=size, seed=11, **{**kwargs, "max_tokens": length}
            )
            grid.append(size * len(run["steps"]) / run["seconds"] if _timings((run["seconds"],)) else 0.0)
    if all(grid):
        metrics.series("heatmap/sample_tokens_per_s", grid)
        metrics.series("heatmap_x/sample_tokens_per_s", [float(n) for n in lengths])
        metrics.series("heatmap_y/sample_tokens_per_s", [float(b) for b in sizes])
