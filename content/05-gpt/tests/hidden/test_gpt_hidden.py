"""Hidden tests for module 5 (GPT model): edge cases of the same behaviours the visible tests cover."""

import pytest
import torch

from grading.testkit import assert_number, assert_tensor, check_tensor
from nanochat_ref import gpt as ref

# --- step 1 ----------------------------------------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_rotary_score_depends_only_on_the_relative_position(gpt):
    D, T = 16, 40
    inv_freq = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    angles = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq).float()[None, :, None, :]
    q = torch.randn(D).expand(1, T, 1, D).contiguous()
    k = torch.randn(D).expand(1, T, 1, D).contiguous()
    rq, rk = (
        check_tensor(gpt.apply_rotary_emb(v, angles.cos(), angles.sin()), shape=v.shape, dtype=v.dtype)[
            0, :, 0
        ]
        for v in (q, k)
    )
    for m, n, shift in [(7, 3, 20), (2, 9, 30)]:
        assert_number(
            float(rq[m] @ rk[n]),
            float(rq[m + shift] @ rk[n + shift]),
            abs=1e-3,
            what=f"score of positions ({m}, {n})",
            msg=f"the same as positions ({m + shift}, {n + shift}): only the relative position counts",
        )


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_apply_rotary_emb_keeps_the_input_dtype(gpt):
    model = ref.GPT(ref.GPTConfig(sequence_len=8, n_head=2, n_kv_head=2, n_embd=32))
    x = torch.randn(1, 8, 2, 16).bfloat16()
    y = gpt.apply_rotary_emb(x, model.cos[:, :8], model.sin[:, :8])
    assert y.dtype == torch.bfloat16, "cast the result back to x.dtype"
    torch.testing.assert_close(y, ref.apply_rotary_emb(x, model.cos[:, :8], model.sin[:, :8]))


# --- step 2 ----------------------------------------------------------------------------------------------------


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_attention_with_a_single_kv_head_matches_nanochat(twin):
    model, reference = twin(n_kv_head=1)
    x = torch.randn(2, 16, 32)
    cos_sin = (reference.cos[:, :16], reference.sin[:, :16])
    got = model.get_submodule("transformer.h.1.attn")(x, cos_sin, None)
    torch.testing.assert_close(got, reference.transformer.h[1].attn(x, cos_sin, None), atol=1e-5, rtol=1e-4)


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_queries_are_rms_normed_per_head_so_their_scale_does_not_matter(twin):
    # QK-norm: scaling the query projection changes nothing, because each rotated head vector is RMS-normed.
    model, reference = twin(n_layer=1)
    sd = reference.state_dict()
    sd["transformer.h.0.attn.c_q.weight"] = sd["transformer.h.0.attn.c_q.weight"] * 7.0
    model.load_state_dict(sd)
    x = torch.randn(1, 16, 32)
    cos_sin = (reference.cos[:, :16], reference.sin[:, :16])
    got = model.get_submodule("transformer.h.0.attn")(x, cos_sin, None)
    torch.testing.assert_close(got, reference.transformer.h[0].attn(x, cos_sin, None), atol=1e-4, rtol=1e-4)


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_attention_with_one_kv_head_through_the_cache_in_uneven_chunks(twin, probe):
    model, reference = twin(n_kv_head=1)
    attn, ref_attn = model.get_submodule("transformer.h.1.attn"), reference.transformer.h[1].attn
    x = torch.randn(1, 16, 32)
    full = ref_attn(x, (reference.cos[:, :16], reference.sin[:, :16]), None)
    got, _ = probe.attention_in_chunks(attn, x, reference.cos, reference.sin, [3, 4, 1, 1, 7])
    assert_tensor(
        got, full, atol=1e-5, rtol=1e-4, what="MQA attention through the cache in chunks 3, 4, 1, 1, 7"
    )


# --- step 3 ----------------------------------------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_loss_reduction_none_gives_one_loss_per_token(twin):
    model, reference = twin()
    idx = torch.randint(0, 100, (2, 16))
    targets = torch.randint(0, 100, (2, 16))
    targets[1, 3] = -1
    got = model(idx, targets, None, "none")
    expected = reference(idx, targets, loss_reduction="none")
    assert tuple(got.shape) == (32,)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_logits_never_leave_the_softcap(twin, gpt):
    model, reference = twin()
    sd = reference.state_dict()
    sd["lm_head.weight"] = sd["lm_head.weight"] * 500
    model.load_state_dict(sd)
    reference.load_state_dict(sd)
    idx = torch.randint(0, 100, (1, 16))
    logits = model(idx)
    assert logits.abs().max() <= 15.0, "logits must be soft-capped: 15 * tanh(logits / 15)"
    torch.testing.assert_close(logits, reference(idx), atol=1e-3, rtol=1e-4)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_decoding_from_an_empty_cache_one_token_at_a_time_equals_the_full_forward(twin, probe):
    model, reference = twin(n_kv_head=1)
    idx = torch.randint(0, 100, (1, 9))
    got, _ = probe.model_in_chunks(model, idx, [1] * 9)
    assert_tensor(got, reference(idx), atol=1e-4, rtol=1e-4, what="logits decoded one token at a time")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_gradients_match_nanochats_with_one_layer_and_mqa(twin, probe, ref_probe):
    model, reference = twin(seed=5, n_layer=1, n_kv_head=1)
    idx = torch.randint(0, 100, (3, 12))
    targets = torch.randint(0, 100, (3, 12))
    targets[:, -4:] = -1
    _, expected = ref_probe.loss_and_grads(reference, idx, targets)
    _, got = probe.loss_and_grads(model, idx, targets)
    for name, grad in expected.items():
        assert_tensor(got[name], grad, atol=1e-5, rtol=1e-3, what=f"gradient of {name}")


# --- step 4 ----------------------------------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_init_weights_recomputes_the_rotary_tables(gpt, learner):
    model = gpt.GPT(gpt.GPTConfig(sequence_len=8, vocab_size=64, n_layer=1, n_head=2, n_kv_head=2, n_embd=32))
    model.to_empty(device="cpu")  # what training does after building on the meta device: garbage buffers
    model.init_weights()
    expected = ref.GPT(
        ref.GPTConfig(sequence_len=8, vocab_size=64, n_layer=1, n_head=2, n_kv_head=2, n_embd=32)
    )
    torch.testing.assert_close(
        learner.value(model.cos), expected.cos, msg="init_weights must rebuild cos/sin"
    )
    torch.testing.assert_close(learner.value(model.sin), expected.sin)


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_estimate_flops_leaves_out_the_embedding_but_counts_the_unembedding(gpt):
    kwargs = dict(sequence_len=32, vocab_size=1000, n_layer=2, n_head=2, n_kv_head=1, n_embd=64)
    got = gpt.GPT(gpt.GPTConfig(**kwargs)).estimate_flops()
    per_layer = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 2 * 64 * 256
    expected = 6 * (2 * per_layer + 1024 * 64) + 12 * 2 * 2 * 32 * 32
    assert_number(got, expected, rel=0, abs=0, what="estimate_flops()")
