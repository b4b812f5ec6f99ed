"""Visible tests for module 5 (GPT model). Learner code is reached only through the ``learner`` fixture."""

import math

import pytest
import torch
import torch.nn.functional as F

from grading.testkit import assert_number, check_tensor
from nanochat_ref import gpt as ref

# --- step 1: RMSNorm and rotary embeddings -------------------------------------------------------------------


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_norm_is_a_parameter_free_rms_norm(gpt):
    x = torch.randn(2, 5, 32)
    torch.testing.assert_close(
        gpt.norm(x), ref.norm(x), msg="norm(x) must equal F.rms_norm over the last dim"
    )


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_apply_rotary_emb_matches_nanochat(gpt):
    model = ref.GPT(ref.GPTConfig(sequence_len=8, n_head=2, n_kv_head=2, n_embd=32))
    cos, sin = model.cos[:, :8], model.sin[:, :8]
    x = torch.randn(2, 8, 2, 16)
    got = gpt.apply_rotary_emb(x, cos, sin)
    torch.testing.assert_close(got, ref.apply_rotary_emb(x, cos, sin), msg="apply_rotary_emb output differs")


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_rotary_preserves_the_length_of_every_head_vector(gpt):
    angles = torch.rand(1, 6, 1, 8) * 6.28
    x = torch.randn(3, 6, 4, 16)
    y = gpt.apply_rotary_emb(x, angles.cos(), angles.sin())
    assert y.shape == x.shape, f"apply_rotary_emb must keep the shape {tuple(x.shape)}"
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), msg="a rotation must not change vector norms")


@pytest.mark.step("step1")
@pytest.mark.hint("h3")
def test_rotary_tables_are_bf16_and_cover_ten_times_the_context(gpt, learner):
    model = gpt.GPT(
        gpt.GPTConfig(sequence_len=16, vocab_size=64, n_layer=1, n_head=2, n_kv_head=2, n_embd=32)
    )
    expected = ref.GPT(
        ref.GPTConfig(sequence_len=16, vocab_size=64, n_layer=1, n_head=2, n_kv_head=2, n_embd=32)
    )
    cos, sin = learner.value(model.cos), learner.value(model.sin)
    assert cos.dtype == torch.bfloat16, "the rotary tables are stored in bfloat16"
    assert tuple(cos.shape) == (1, 160, 1, 8), (
        "rotary tables must have shape (1, 10*sequence_len, 1, head_dim/2)"
    )
    torch.testing.assert_close(cos, expected.cos, msg="rotary cos table differs")
    torch.testing.assert_close(sin, expected.sin, msg="rotary sin table differs")


# --- step 2: attention -----------------------------------------------------------------------------------------


def _attention_pair(twin, **overrides):
    model, reference = twin(**overrides)
    return model.get_submodule("transformer.h.0.attn"), reference.transformer.h[0].attn, reference


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
def test_attention_matches_nanochat_with_as_many_kv_heads_as_query_heads(twin, metrics):
    attn, ref_attn, reference = _attention_pair(twin, n_kv_head=4)
    x = torch.randn(2, 16, 32)
    cos_sin = (reference.cos[:, :16], reference.sin[:, :16])
    expected = ref_attn(x, cos_sin, None)
    got = check_tensor(
        attn(x, cos_sin, None), shape=expected.shape, dtype=expected.dtype, what="attention output"
    )
    metrics.record("attention_max_abs_err", float((got - expected).abs().max().detach()))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4, msg="attention output differs")


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_attention_with_grouped_query_heads_matches_nanochat(twin):
    attn, ref_attn, reference = _attention_pair(twin, n_kv_head=2)
    x = torch.randn(2, 16, 32)
    cos_sin = (reference.cos[:, :16], reference.sin[:, :16])
    torch.testing.assert_close(
        attn(x, cos_sin, None), ref_attn(x, cos_sin, None), atol=1e-5, rtol=1e-4, msg="GQA attention differs"
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_attention_is_causal(twin):
    attn, _, reference = _attention_pair(twin)
    x = torch.randn(1, 16, 32)
    changed = x.clone()
    changed[:, 9:] = torch.randn(1, 7, 32)
    cos_sin = (reference.cos[:, :16], reference.sin[:, :16])
    a, b = attn(x, cos_sin, None), attn(changed, cos_sin, None)
    torch.testing.assert_close(
        a[:, :9], b[:, :9], msg="position t must not see positions after t (causal mask)"
    )


# --- step 3: MLP, blocks and the forward pass ------------------------------------------------------------------


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_mlp_is_relu_squared(twin):
    model, reference = twin()
    x = torch.randn(2, 5, 32)
    got = model.get_submodule("transformer.h.1.mlp")(x)
    torch.testing.assert_close(got, reference.transformer.h[1].mlp(x), msg="MLP output differs")


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
def test_block_is_two_pre_norm_residual_branches(twin):
    model, reference = twin()
    x = torch.randn(2, 16, 32)
    cos_sin = (reference.cos[:, :16], reference.sin[:, :16])
    got = model.get_submodule("transformer.h.0")(x, cos_sin, None)
    expected = reference.transformer.h[0](x, cos_sin, None)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4, msg="Block output differs")


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_forward_returns_softcapped_fp32_logits_of_the_real_vocab(twin, metrics):
    model, reference = twin()
    idx = torch.randint(0, 100, (2, 16))
    logits = check_tensor(model(idx), finite=False, what="logits")
    assert tuple(logits.shape) == (2, 16, 100), "logits must be sliced back to vocab_size (100, not 128)"
    assert logits.dtype == torch.float32, "logits must be cast to float32"
    expected = reference(idx)
    check_tensor(logits, what="logits")  # finite, before the error is charted
    metrics.record("logits_max_abs_err", float((logits - expected).abs().max().detach()))
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4, msg="logits differ from nanochat's")


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_loss_is_cross_entropy_that_ignores_minus_one_targets(twin):
    model, reference = twin()
    idx = torch.randint(0, 100, (2, 16))
    targets = torch.randint(0, 100, (2, 16))
    targets[0, :6] = -1
    loss = model(idx, targets)
    logits = reference(idx)
    keep = targets.view(-1) >= 0
    expected = F.cross_entropy(logits.view(-1, 100)[keep], targets.view(-1)[keep])
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5, msg="loss must skip targets equal to -1")


# --- step 4: initialisation and FLOPs -------------------------------------------------------------------------


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_init_weights_follows_nanochats_classic_recipe(gpt):
    model = gpt.GPT(
        gpt.GPTConfig(sequence_len=16, vocab_size=4096, n_layer=2, n_head=2, n_kv_head=2, n_embd=128)
    )
    model.init_weights()
    sd = model.state_dict()
    wte, lm_head = sd["transformer.wte.weight"], sd["lm_head.weight"]
    assert_number(
        check_tensor(wte, what="wte").std().item(), 1.0, abs=0.05, what="std of wte", msg="wte ~ N(0, 1)"
    )
    assert_number(
        check_tensor(lm_head, what="lm_head").std().item(),
        0.001,
        rel=0.05,
        what="std of lm_head",
        msg="lm_head ~ N(0, 0.001)",
    )
    for layer in range(2):
        assert torch.count_nonzero(sd[f"transformer.h.{layer}.attn.c_proj.weight"]) == 0, (
            "attn c_proj starts at 0"
        )
        assert torch.count_nonzero(sd[f"transformer.h.{layer}.mlp.c_proj.weight"]) == 0, (
            "mlp c_proj starts at 0"
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_input_projections_are_uniform_with_std_one_over_sqrt_width(gpt):
    model = gpt.GPT(
        gpt.GPTConfig(sequence_len=16, vocab_size=64, n_layer=1, n_head=2, n_kv_head=2, n_embd=128)
    )
    model.init_weights()
    sd = model.state_dict()
    bound = math.sqrt(3) / math.sqrt(128)
    for name in ("attn.c_q", "attn.c_k", "attn.c_v", "mlp.c_fc"):
        w = check_tensor(sd[f"transformer.h.0.{name}.weight"], what=name)
        assert w.abs().max() <= bound + 1e-6, (
            f"{name}: uniform on [-sqrt(3)/sqrt(n_embd), +sqrt(3)/sqrt(n_embd)]"
        )
        assert_number(
            w.std().item(),
            1 / math.sqrt(128),
            rel=0.1,
            what=f"std of {name}",
            msg=f"{name}: std 1/sqrt(n_embd)",
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h12")
def test_estimate_flops_matches_the_palm_count(gpt):
    kwargs = dict(sequence_len=64, vocab_size=100, n_layer=3, n_head=4, n_kv_head=2, n_embd=64)
    got = gpt.GPT(gpt.GPTConfig(**kwargs)).estimate_flops()
    expected = ref.GPT(ref.GPTConfig(**kwargs)).estimate_flops()
    assert_number(
        got, expected, rel=0, abs=0, what="estimate_flops()", msg="6*(N - N_wte) + 12*L*H*head_dim*T"
    )
