"""Tests of nanochat_ref.gpt against independent references (naive attention, complex-number rotation, hand counts)."""

import math

import pytest
import torch
import torch.nn.functional as F

from grading import testkit
from nanochat_ref.gpt import GPT, CausalSelfAttention, GPTConfig, apply_rotary_emb, norm


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: one thread is fastest, and on a busy 2-core machine two threads stall each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**overrides) -> GPTConfig:
    kwargs = dict(sequence_len=16, vocab_size=100, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)
    kwargs.update(overrides)
    return GPTConfig(**kwargs)


def build(config: GPTConfig, seed: int = 0, randomize_projections: bool = True) -> GPT:
    """Build as training does (meta -> to_empty -> init_weights); optionally give c_proj non-zero weights."""
    torch.manual_seed(seed)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    model.init_weights()
    if randomize_projections:  # zero c_proj makes every block the identity, which would hide attention bugs
        testkit.randomize_projections(model)
    return model


def fp32_rotary_tables(T: int, D: int, offset: int = 0):
    """cos/sin of angle (offset + t) / 10000^(2i/D), shape (1, T, 1, D/2), in fp32."""
    inv_freq = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    t = torch.arange(offset, offset + T, dtype=torch.float64)
    angles = torch.outer(t, inv_freq)
    return angles.cos().float()[None, :, None, :], angles.sin().float()[None, :, None, :]


def naive_attention(attn: CausalSelfAttention, x: torch.Tensor, cos_sin) -> torch.Tensor:
    """Per-head loops and an explicit -inf mask; query head h reads key/value head h // (n_head / n_kv_head)."""
    B, T, C = x.shape
    H, Hkv, D = attn.n_head, attn.n_kv_head, attn.head_dim
    q = attn.c_q(x).view(B, T, H, D)
    k = attn.c_k(x).view(B, T, Hkv, D)
    v = attn.c_v(x).view(B, T, Hkv, D)
    cos, sin = cos_sin
    q, k = norm(apply_rotary_emb(q, cos, sin)), norm(apply_rotary_emb(k, cos, sin))
    mask = torch.full((T, T), float("-inf")).triu(1)
    heads = []
    for h in range(H):
        kv = h // (H // Hkv)
        scores = q[:, :, h] @ k[:, :, kv].transpose(1, 2) / math.sqrt(D) + mask  # (B, T, T)
        heads.append(torch.softmax(scores, dim=-1) @ v[:, :, kv])  # (B, T, D)
    y = torch.cat(heads, dim=-1)  # (B, T, C)
    return attn.c_proj(y)


@pytest.mark.parametrize("n_kv_head", [4, 2, 1], ids=["mha", "gqa", "mqa"])
def test_attention_equals_a_naive_masked_implementation(n_kv_head):
    model = build(tiny_config(n_kv_head=n_kv_head))
    attn = model.transformer.h[0].attn
    x = torch.randn(2, 16, 32)
    cos_sin = model.cos[:, :16], model.sin[:, :16]
    torch.testing.assert_close(
        attn(x, cos_sin, None), naive_attention(attn, x, cos_sin), atol=1e-5, rtol=1e-4
    )


def test_attention_is_causal_so_future_tokens_do_not_change_past_logits():
    model = build(tiny_config())
    idx = torch.randint(0, 100, (1, 16))
    changed = idx.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 100
    torch.testing.assert_close(model(idx)[:, :10], model(changed)[:, :10])
    assert not torch.allclose(model(idx)[:, 10:], model(changed)[:, 10:])


def test_rotary_rotates_each_half_pair_like_a_complex_multiplication():
    D = 8
    x = torch.randn(2, 5, 3, D)
    cos, sin = fp32_rotary_tables(5, D)
    y = apply_rotary_emb(x, cos, sin)
    z = torch.complex(x[..., : D // 2], x[..., D // 2 :])  # pair i = (x[i], x[i + D/2])
    theta = torch.atan2(sin, cos)
    rotated = z * torch.exp(-1j * theta)  # rotation by -theta (nanochat's direction)
    torch.testing.assert_close(y, torch.cat([rotated.real, rotated.imag], dim=-1), atol=1e-5, rtol=1e-5)


def test_rotary_preserves_vector_norms():
    x = torch.randn(2, 64, 4, 16)
    cos, sin = fp32_rotary_tables(64, 16)
    y = apply_rotary_emb(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y[:, 1:], x[:, 1:], atol=1e-3)  # it does rotate (position 0 is the identity)


def test_rotary_score_depends_only_on_relative_position():
    D = 16
    q, k = torch.randn(D), torch.randn(D)

    def score(m: int, n: int) -> float:
        cos, sin = fp32_rotary_tables(max(m, n) + 1, D)
        qm = apply_rotary_emb(q.view(1, 1, 1, D).expand(1, max(m, n) + 1, 1, D), cos, sin)[0, m, 0]
        kn = apply_rotary_emb(k.view(1, 1, 1, D).expand(1, max(m, n) + 1, 1, D), cos, sin)[0, n, 0]
        return float(qm @ kn)

    for m, n, shift in [(5, 2, 7), (3, 3, 11), (0, 9, 20)]:
        assert score(m, n) == pytest.approx(score(m + shift, n + shift), abs=1e-4)
    assert score(5, 2) != pytest.approx(score(5, 4), abs=1e-3)  # a different offset gives a different score


def test_rotary_tables_are_bf16_for_ten_times_the_context():
    model = build(tiny_config())
    assert model.cos.dtype == torch.bfloat16 and model.sin.dtype == torch.bfloat16
    assert model.cos.shape == (1, 160, 1, 4)  # head_dim 8 -> 4 frequencies
    cos, sin = fp32_rotary_tables(160, 8)
    torch.testing.assert_close(model.cos.float(), cos, atol=8e-3, rtol=0)
    torch.testing.assert_close(model.sin.float(), sin, atol=8e-3, rtol=0)
    assert "cos" not in model.state_dict()  # non-persistent: never saved in checkpoints


def test_norm_is_parameter_free_rms_norm():
    x = torch.randn(3, 7, 32)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + torch.finfo(torch.float32).eps)
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)


def test_mlp_is_relu_squared_between_two_projections():
    model = build(tiny_config())
    mlp = model.transformer.h[0].mlp
    x = torch.randn(2, 3, 32)
    expected = F.relu(x @ mlp.c_fc.weight.T) ** 2 @ mlp.c_proj.weight.T
    torch.testing.assert_close(mlp(x), expected, atol=1e-5, rtol=1e-5)
    assert mlp.c_fc.weight.shape == (128, 32)


def test_model_has_no_biases_and_untied_embeddings():
    model = build(tiny_config())
    assert all("bias" not in name for name, _ in model.named_parameters())
    assert model.transformer.wte.weight.data_ptr() != model.lm_head.weight.data_ptr()


def test_vocab_is_padded_to_a_multiple_of_64_and_logits_are_sliced_back():
    model = build(tiny_config(vocab_size=100))
    assert model.transformer.wte.weight.shape == (128, 32)
    assert model.lm_head.weight.shape == (128, 32)
    logits = model(torch.randint(0, 100, (2, 8)))
    assert logits.shape == (2, 8, 100) and logits.dtype == torch.float32


def test_logits_are_softcapped_at_15():
    model = build(tiny_config())
    with torch.no_grad():
        model.lm_head.weight.normal_(0, 100.0)
    raw = []
    model.lm_head.register_forward_hook(lambda mod, inp, out: raw.append(out))
    logits = model(torch.randint(0, 100, (2, 8)))
    expected = 15.0 * torch.tanh(raw[0][..., :100].float() / 15.0)
    torch.testing.assert_close(logits, expected)
    assert raw[0].abs().max() > 100.0  # the raw logits really were far outside the cap
    assert logits.abs().max() <= 15.0


def test_init_weights_follows_the_spec():
    model = build(tiny_config(n_embd=64, n_head=4, n_kv_head=4, vocab_size=4096), randomize_projections=False)
    bound = math.sqrt(3) / math.sqrt(64)
    assert model.transformer.wte.weight.std().item() == pytest.approx(1.0, abs=0.05)
    assert model.lm_head.weight.std().item() == pytest.approx(0.001, abs=1e-4)
    for block in model.transformer.h:
        for w in (block.attn.c_q.weight, block.attn.c_k.weight, block.attn.c_v.weight, block.mlp.c_fc.weight):
            assert w.abs().max() <= bound
            assert w.std().item() == pytest.approx(1 / math.sqrt(64), rel=0.1)
        assert torch.count_nonzero(block.attn.c_proj.weight) == 0
        assert torch.count_nonzero(block.mlp.c_proj.weight) == 0


def test_fresh_model_loss_is_close_to_uniform_over_the_vocab():
    model = build(tiny_config(vocab_size=256), randomize_projections=False)
    idx = torch.randint(0, 256, (4, 16))
    loss = model(idx, idx)
    assert loss.item() == pytest.approx(math.log(256), abs=0.05)


def test_loss_ignores_targets_equal_to_minus_one():
    model = build(tiny_config())
    idx = torch.randint(0, 100, (2, 16))
    targets = torch.randint(0, 100, (2, 16))
    targets[0, :5] = -1
    targets[1, 10:] = -1
    logits = model(idx)
    keep = targets.view(-1) >= 0
    expected = F.cross_entropy(logits.view(-1, 100)[keep], targets.view(-1)[keep])
    torch.testing.assert_close(model(idx, targets), expected)
    per_token = model(idx, targets, loss_reduction="none")
    assert per_token.shape == (32,)
    assert torch.all(per_token[~keep] == 0)


def test_loss_reduction_none_gives_per_token_cross_entropy():
    model = build(tiny_config())
    idx = torch.randint(0, 100, (2, 16))
    targets = torch.randint(0, 100, (2, 16))
    logp = torch.log_softmax(model(idx), dim=-1)
    expected = -logp.gather(-1, targets.unsqueeze(-1)).view(-1)
    torch.testing.assert_close(model(idx, targets, loss_reduction="none"), expected, atol=1e-5, rtol=1e-5)


def test_generate_is_deterministic_with_a_seed():
    model = build(tiny_config())
    a = list(model.generate([1, 2, 3], max_tokens=12, temperature=1.0, seed=7))
    b = list(model.generate([1, 2, 3], max_tokens=12, temperature=1.0, seed=7))
    c = list(model.generate([1, 2, 3], max_tokens=12, temperature=1.0, seed=8))
    assert a == b
    assert len(a) == 12 and all(isinstance(t, int) and 0 <= t < 100 for t in a)
    assert a != c


def test_generate_at_temperature_zero_is_greedy():
    model = build(tiny_config())
    out = list(model.generate([5, 6], max_tokens=6, temperature=0.0))
    ids = [5, 6]
    for _ in range(6):
        ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    assert out == ids[2:]


def test_generate_with_top_k_one_is_greedy():
    model = build(tiny_config())
    greedy = list(model.generate([9], max_tokens=5, temperature=0.0))
    assert list(model.generate([9], max_tokens=5, temperature=1.5, top_k=1, seed=3)) == greedy


class ListKVCache:
    """A minimal cache written from gpt.py's documented interface (the engine's KVCache implements the same)."""

    def __init__(self, n_layer: int):
        self.n_layer = n_layer
        self.k: list = [None] * n_layer
        self.v: list = [None] * n_layer
        self.pos = 0

    def get_pos(self) -> int:
        return self.pos

    def insert_kv(self, layer_idx, k, v):
        self.k[layer_idx] = k if self.k[layer_idx] is None else torch.cat([self.k[layer_idx], k], dim=2)
        self.v[layer_idx] = v if self.v[layer_idx] is None else torch.cat([self.v[layer_idx], v], dim=2)
        if layer_idx == self.n_layer - 1:
            self.pos += k.size(2)
        return self.k[layer_idx], self.v[layer_idx]


def test_forward_with_kv_cache_matches_full_forward_for_prefill_chunks_and_decode():
    model = build(tiny_config())
    idx = torch.randint(0, 100, (2, 14))
    full = model(idx)
    cache = ListKVCache(n_layer=2)
    parts = [model(idx[:, :6], kv_cache=cache)]  # prefill into an empty cache: Tq == Tk
    parts.append(model(idx[:, 6:10], kv_cache=cache))  # chunked prefill: prefix + causal triangle
    for t in range(10, 14):
        parts.append(model(idx[:, t : t + 1], kv_cache=cache))  # decode: Tq == 1
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-4, rtol=1e-4)
    assert cache.get_pos() == 14
    assert cache.k[0].shape == (2, 2, 14, 8)  # (B, n_kv_head, T, head_dim)


def test_estimate_flops_matches_a_hand_count_on_a_tiny_config():
    model = build(tiny_config())  # n_embd 32, 4 heads of 8, 2 kv heads, 2 layers, vocab 100 -> 128, T 16
    per_layer = 32 * 32 + 2 * (32 * 16) + 32 * 32 + 2 * (32 * 128)  # c_q, c_k + c_v, c_proj, c_fc + c_proj
    non_embedding = 2 * per_layer + 128 * 32  # blocks + lm_head (wte is a lookup: not counted)
    attention = 12 * 2 * 4 * 8 * 16  # 12 * L * H * head_dim * T
    assert model.estimate_flops() == 6 * non_embedding + attention


def test_d20_has_the_speedrun_parameter_count_and_flops():
    config = GPTConfig(sequence_len=2048, vocab_size=65536, n_layer=20, n_head=10, n_kv_head=10, n_embd=1280)
    with torch.device("meta"):
        model = GPT(config)
    assert sum(p.numel() for p in model.parameters()) == 560_988_160
    assert model.estimate_flops() == pytest.approx(3.49e9, rel=0.01)


def test_setup_optimizers_puts_matrices_in_muon_and_embeddings_in_adamw_with_scaled_lrs():
    model = build(tiny_config(n_embd=192, n_head=3, n_kv_head=3))
    adamw, muon = model.setup_optimizers()
    scale = (192 / 768) ** -0.5
    assert isinstance(adamw, torch.optim.AdamW)
    lm_group, emb_group = adamw.param_groups
    assert lm_group["params"][0] is model.lm_head.weight
    assert emb_group["params"][0] is model.transformer.wte.weight
    assert lm_group["lr"] == pytest.approx(0.004 * scale)
    assert emb_group["lr"] == pytest.approx(0.2 * scale)
    assert lm_group["betas"] == (0.8, 0.95) and lm_group["eps"] == 1e-10
    muon_params = {id(p) for g in muon.param_groups for p in g["params"]}
    assert muon_params == {id(p) for p in model.transformer.h.parameters()}
    assert all(g["lr"] == 0.02 and g["initial_lr"] == 0.02 for g in muon.param_groups)
    assert all(g["initial_lr"] == g["lr"] for g in adamw.param_groups)


def test_one_optimizer_step_lowers_the_loss_on_a_fixed_batch():
    model = build(tiny_config(), randomize_projections=False)
    idx = torch.randint(0, 100, (4, 16))
    optimizers = model.setup_optimizers()
    losses = []
    for _ in range(5):
        loss = model(idx, idx.roll(-1, dims=1))
        losses.append(loss.item())
        loss.backward()
        for opt in optimizers:
            opt.step()
        model.zero_grad(set_to_none=True)
    assert losses[-1] < losses[0] - 0.5
