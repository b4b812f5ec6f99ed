"""Visible tests for module 5 (GPT model). Learner code is reached only through the ``learner`` fixture."""

import math

import pytest
import torch
import torch.nn.functional as F

from grading.testkit import assert_number, assert_tensor, check_tensor, finite_max
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


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_norm_passes_gradients_like_rms_norm(gpt, probe, ref_probe):
    # training backpropagates through every norm: the rms statistic is part of the graph, not a constant
    x, weight = torch.randn(3, 5, 32), torch.randn(3, 5, 32)
    expected = ref_probe.norm_grad(ref.norm, x, weight)
    got = check_tensor(
        probe.norm_grad(gpt.norm, x, weight), shape=x.shape, dtype=x.dtype, what="grad of norm(x)"
    )
    assert_tensor(
        got,
        expected,
        atol=1e-5,
        rtol=1e-4,
        what="the gradient of sum(norm(x) * w) with respect to x (step 1)",
        msg="Likely cause: part of the RMS statistic is detached (.detach(), .data, torch.no_grad()) or computed "
        "outside autograd, so backward treats it as a constant; F.rms_norm(x, (x.size(-1),)) gets this right.",
    )


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


def _cached_attention(probe, ref_probe, twin, chunks, **overrides):
    """The learner's layer-1 attention run chunk by chunk through a KV cache, and the reference's full forward."""
    model, reference = twin(**overrides)
    attn, ref_attn = model.get_submodule("transformer.h.1.attn"), reference.transformer.h[1].attn
    x = torch.randn(2, sum(chunks), 32)
    full = ref_attn(x, (reference.cos[:, : x.size(1)], reference.sin[:, : x.size(1)]), None)
    got, inserts = probe.attention_in_chunks(attn, x, reference.cos, reference.sin, chunks)
    return (
        check_tensor(got, shape=full.shape, dtype=full.dtype, what="attention through the KV cache"),
        full,
        inserts,
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_attention_prefill_then_decode_equals_the_full_forward(probe, ref_probe, twin, metrics):
    # prefill 10 positions into an empty cache (Tq == Tk), then decode 6 tokens one at a time (Tq == 1)
    chunks = [10, 1, 1, 1, 1, 1, 1]
    got, full, inserts = _cached_attention(probe, ref_probe, twin, chunks)
    errors = [float((got[:, t] - full[:, t]).abs().max()) for t in range(10, 16)]
    metrics.series("kv_cache/decode_abs_err", errors)
    assert list(inserts) == [(1, n) for n in chunks], (
        f"insert_kv calls (layer_idx, new positions): expected {[(1, n) for n in chunks]}, got {list(inserts)}. "
        "Likely cause: the cache is not called exactly once per forward with the transposed (B, Hkv, T, D) "
        "keys and values (step 2)."
    )
    assert_tensor(
        got[:, :10],
        full[:, :10],
        atol=1e-5,
        rtol=1e-4,
        what="prefill output (10 positions into an empty cache, step 2)",
        msg="Likely cause: with a cache and Tq == Tk the attention must still be plain causal (is_causal=True).",
    )
    assert_tensor(
        got[:, 10:],
        full[:, 10:],
        atol=1e-5,
        rtol=1e-4,
        what="decode outputs (one token at a time after the prefill, step 2)",
        msg="Likely cause: the Tq == 1 branch must attend to every cached key (is_causal=False); with "
        "is_causal=True SDPA aligns the mask top-left and the new token sees only position 0.",
    )


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_attention_chunked_prefill_equals_the_full_forward(probe, ref_probe, twin, metrics):
    # a first chunk of 6, then chunks of 5 and 4 that must see the whole cached prefix plus a causal triangle
    chunks = [6, 5, 4, 1]
    got, full, inserts = _cached_attention(probe, ref_probe, twin, chunks, n_kv_head=2)
    metrics.record("kv_cache/chunked_prefill_abs_err", float((got - full).abs().max()))
    assert_tensor(
        got[:, :6],
        full[:, :6],
        atol=1e-5,
        rtol=1e-4,
        what="first chunk (into an empty cache, step 2)",
        msg="Likely cause: with a cache and Tq == Tk the attention must still be plain causal.",
    )
    assert_tensor(
        got[:, 6:15],
        full[:, 6:15],
        atol=1e-5,
        rtol=1e-4,
        what="later chunks (5 and 4 new positions after a cached prefix, step 2)",
        msg="Likely cause: when 1 < Tq < Tk the boolean mask (True = may attend) must let every query see the "
        "whole prefix (columns :Tk-Tq) and the chunk causally (a lower triangle); is_causal=True aligns the "
        "triangle top-left and hides most of the prefix.",
    )
    assert_tensor(
        got[:, 15:], full[:, 15:], atol=1e-5, rtol=1e-4, what="decode after a chunked prefill (step 2)"
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


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_logits_are_float32_under_bf16_autocast(twin, probe):
    # on GPU nanochat trains under bf16 autocast: lm_head's output is bf16 until forward casts it
    model, _ = twin()
    logits = probe.logits_under_bf16_autocast(model, torch.randint(0, 100, (1, 16)))
    check_tensor(logits, shape=(1, 16, 100), finite=False, what="logits under torch.autocast(bfloat16)")
    assert logits.dtype == torch.float32, (
        f"logits under bf16 autocast: expected dtype torch.float32, got {logits.dtype}. Likely cause: the "
        "logits are soft-capped (and returned) in the autocast dtype; cast them with .float() right after "
        "slicing, before the tanh (step 3)."
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_gradients_match_nanochats_on_the_same_weights_and_batch(twin, probe, ref_probe, metrics):
    model, reference = twin()
    idx = torch.randint(0, 100, (2, 16))
    targets = torch.randint(0, 100, (2, 16))
    targets[1, :5] = -1  # masked positions contribute no gradient
    ref_loss, expected = ref_probe.loss_and_grads(reference, idx, targets)
    loss, got = probe.loss_and_grads(model, idx, targets)
    assert_tensor(loss, ref_loss, atol=1e-5, rtol=1e-5, what="loss before the backward pass (step 3)")
    errors = []
    for name, grad in expected.items():
        came = got.get(name)
        assert came is not None, (
            f"{name}: expected a gradient, got none. Likely cause: the parameter is not used by forward, or its "
            "output is detached on the way to the loss (step 3)."
        )
        check_tensor(came, shape=grad.shape, dtype=grad.dtype, what=f"gradient of {name}")
        errors.append(float((came - grad).abs().max() / grad.abs().max().clamp_min(1e-12)))
    metrics.series("grad/rel_err_per_parameter", errors)
    metrics.record("grad/max_rel_err", finite_max(errors, what="relative gradient errors"))
    for name, grad in expected.items():
        assert_tensor(
            got[name],
            grad,
            atol=1e-5,
            rtol=1e-3,
            what=f"gradient of {name} (step 3)",
            msg="Same weights, same batch, same loss: every parameter's gradient must be nanochat's. Likely "
            "cause: a forward that matches only numerically (a detached statistic, a clamp instead of the tanh "
            "softcap) or a loss that counts targets equal to -1.",
        )


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
def test_model_with_a_kv_cache_equals_the_full_forward(twin, probe, metrics):
    # prefill 6, a chunk of 5, then 5 single tokens: GPT.forward must slice the rotary tables at get_pos()
    model, reference = twin()
    idx = torch.randint(0, 100, (2, 16))
    chunks = [6, 5, 1, 1, 1, 1, 1]
    full = reference(idx)
    got, positions = probe.model_in_chunks(model, idx, chunks)
    check_tensor(got, shape=full.shape, dtype=full.dtype, what="logits through the KV cache")
    metrics.series(
        "kv_cache/logits_abs_err", [float((got[:, t] - full[:, t]).abs().max()) for t in range(16)]
    )
    assert list(positions) == [0, 6, 11, 12, 13, 14, 15], f"cache positions: got {list(positions)}"
    assert_tensor(
        got,
        full,
        atol=1e-4,
        rtol=1e-4,
        what="logits computed chunk by chunk through a KV cache (step 3)",
        msg="Likely cause: forward slices the rotary tables from 0 instead of from kv_cache.get_pos(), so "
        "every chunk after the first is rotated as if it started the sequence.",
    )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_fx_graph_of_the_model_follows_nanochats(twin, probe, ref_probe, metrics):
    # torch.fx traces forward symbolically; norm, apply_rotary_emb and attention stay single nodes and layout
    # ops (view, transpose, slicing) are left out, so what remains is the model's order of computation
    model, reference = twin()
    expected, _ = ref_probe.fx_ops(reference)
    got, nodes = probe.fx_ops(model)
    got = list(got)
    same = 0
    while same < min(len(got), len(expected)) and got[same] == expected[same]:
        same += 1
    metrics.record("fx/graph_nodes", nodes)
    metrics.record("fx/ops_reference", len(expected))
    metrics.record("fx/ops_matching_in_order", same)
    if got != expected:
        window = slice(same - 3 if same >= 3 else 0, same + 3)
        raise AssertionError(
            f"torch.fx graph review (step 3): the first {same} compute ops match nanochat's; op #{same} differs. "
            f"Expected ... {expected[window]} ..., got ... {got[window]} ... "
            f"({len(expected)} ops expected, {len(got)} traced). Likely cause: a missing or extra operation at "
            "that point (a norm, the ReLU², the fp32 cast, the softcap) or pre-norm/post-norm order; a model "
            "that computes the same thing in another order of operations also differs here."
        )


@pytest.mark.step("step3")
@pytest.mark.hint("h8")
def test_generate_runs_on_your_forward_like_nanochats(twin, learner):
    # generate (provided) re-runs your forward on the growing sequence; greedy and sampled decoding both
    model, reference = twin()
    to_list = learner.module("builtins").list
    for kwargs in (dict(temperature=0.0), dict(temperature=1.0, top_k=5, seed=3)):
        expected = list(reference.generate([1, 2, 3], 8, **kwargs))
        got = learner.value(to_list(model.generate([1, 2, 3], 8, **kwargs)))
        assert got == expected, (
            f"generate([1, 2, 3], 8, {kwargs}): expected {expected}, got {got}. Likely cause: forward's logits "
            "differ from nanochat's on a growing sequence (step 3)."
        )


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


@pytest.mark.step("step4")
@pytest.mark.hint("h10")
def test_init_weights_rebuilds_the_rotary_tables_after_to_empty(gpt, learner):
    # training builds the model on the meta device, then to_empty() leaves the non-persistent buffers garbage
    cfg = dict(sequence_len=8, vocab_size=64, n_layer=1, n_head=2, n_kv_head=2, n_embd=32)
    model = gpt.GPT(gpt.GPTConfig(**cfg))
    model.to_empty(device="cpu")
    model.init_weights()
    expected = ref.GPT(ref.GPTConfig(**cfg))
    for name in ("cos", "sin"):
        assert_tensor(
            learner.value(getattr(model, name)),
            getattr(expected, name),
            what=f"model.{name} after to_empty() and init_weights() (step 4)",
            msg="Likely cause: init_weights does not recompute the rotary tables with "
            "_precompute_rotary_embeddings; to_empty() leaves buffers uninitialised.",
        )


@pytest.mark.step("step4")
@pytest.mark.hint("h11")
def test_the_provided_setup_optimizers_splits_your_parameters_and_scales_adamw_by_width(gpt, learner):
    """Provided code that training calls on your model: AdamW gets ``lm_head`` then ``wte`` with learning rates
    scaled by (n_embd/768)^-0.5, Muon every matrix of the blocks; each group remembers its ``initial_lr``."""
    cfg = dict(sequence_len=16, vocab_size=64, n_layer=2, n_head=2, n_kv_head=1, n_embd=192)
    model = gpt.GPT(gpt.GPTConfig(**cfg))
    model.init_weights()
    optimizers = model.setup_optimizers(
        unembedding_lr=0.004, embedding_lr=0.2, matrix_lr=0.02, weight_decay=0.1
    )
    adamw, muon = optimizers[0], optimizers[1]
    assert learner.repr(adamw).startswith("AdamW") and learner.repr(muon).startswith("Muon"), (
        "setup_optimizers returns [AdamW, Muon]"
    )
    scale = (192 / 768) ** -0.5
    for i, (lr, what) in enumerate(((0.004, "lm_head"), (0.2, "wte"))):
        group = adamw.param_groups[i]
        assert_number(learner.value(group["lr"]), lr * scale, rel=1e-12, what=f"AdamW group {i} ({what}) lr")
        assert_number(learner.value(group["initial_lr"]), lr * scale, rel=1e-12, what=f"{what} initial_lr")
        assert learner.value(group["weight_decay"]) == 0.1
        assert len(group["params"]) == 1, f"AdamW group {i} holds the {what} weight only"
    n_matrices = sum(len(g["params"]) for g in muon.param_groups)
    expected = len(list(ref.GPT(ref.GPTConfig(**cfg)).transformer.h.parameters()))
    assert n_matrices == expected == 2 * 6, (
        f"Muon must hold every matrix of the blocks ({expected}: c_q, c_k, c_v, c_proj, c_fc, mlp c_proj per "
        f"layer), got {n_matrices}: check that your blocks register their Linear layers as submodules"
    )
