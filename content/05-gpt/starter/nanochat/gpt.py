"""The GPT model (mirrors nanochat's ``nanochat/gpt.py`` at commit C, ``48abd7d``).

Design choices (each one is nanochat's; the "why" is in the comments next to the code):
- Token embedding ``wte`` and no positional embedding: position enters only through rotary embeddings (RoPE)
  applied to queries and keys. The head vector is split into two *halves* (not interleaved pairs) and rotated by
  ``-theta`` (``y1 = x1*cos + x2*sin``, ``y2 = -x1*sin + x2*cos``), the transpose of the textbook form; any fixed
  rotation direction gives the same relative-position property.
- cos/sin are precomputed once for ``10 * sequence_len`` positions, stored in bf16 with shape
  ``(1, T, 1, head_dim/2)`` as non-persistent buffers (so they never land in a checkpoint).
- RMSNorm without learnable parameters (``F.rms_norm``), pre-norm blocks, a norm right after the embedding and
  before the head; QK-norm (an RMSNorm of each head vector) after RoPE. No Linear layer has a bias.
- MLP: ``c_fc`` (n -> 4n), ReLU squared, ``c_proj`` (4n -> n).
- Grouped-query attention via ``n_kv_head`` (``n_head % n_kv_head == 0``); ``n_kv_head == 1`` is MQA.
- Untied ``wte`` / ``lm_head``; the vocabulary is padded to a multiple of 64 (tensor cores, and ``DistAdamW``
  shards dim 0 across ranks); logits are sliced back to ``vocab_size``, cast to fp32 and soft-capped at 15.
- Init (C): ``wte`` N(0, 1); ``lm_head`` N(0, 0.001); ``c_q/c_k/c_v/c_fc`` uniform +-sqrt(3)/sqrt(n_embd)
  (std 1/sqrt(n_embd)); both ``c_proj`` zero, so every block starts as the identity. ``__init__`` does NOT
  initialise: build on ``meta``, ``to_empty(device)``, then ``init_weights()`` (this also recomputes the rotary
  buffers, which ``to_empty`` leaves uninitialised).
- The attention kernel is ``F.scaled_dot_product_attention`` on every device; the one device fallback
  (expanding K/V heads where SDPA has no ``enable_gqa``, i.e. MPS) lives in :func:`attention`.

KV cache interface (implemented by ``engine.KVCache``; the model only needs these two methods):

- ``kv_cache.get_pos() -> int``: how many positions are already cached. ``GPT.forward`` reads it once, before
  the first layer, to slice the rotary tables at ``[pos, pos + T)``.
- ``kv_cache.insert_kv(layer_idx, k, v) -> (k_all, v_all)``: called once per layer, in layer order, with the new
  keys/values of shape ``(B, n_kv_head, T_new, head_dim)`` (already rotated and QK-normed). It stores them at
  positions ``[pos, pos + T_new)`` and returns views of everything cached so far, shape
  ``(B, n_kv_head, pos + T_new, head_dim)``. The cache advances ``pos`` by ``T_new`` only after the last layer
  (``layer_idx == n_layer - 1``) has inserted. nanochat's layout is one tensor
  ``(n_layer, 2, B, n_kv_head, T_max, head_dim)`` (index 0 = K, 1 = V), allocated lazily on the first insert.

With a cache, attention distinguishes three cases: ``Tq == Tk`` (plain causal), ``Tq == 1`` (decode: attend to
the whole cache) and chunked prefill (the new chunk sees the whole cached prefix plus a causal triangle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

from .adamw import DistAdamW
from .common import get_dist_info, print0
from .muon import DistMuon, Muon


@dataclass
class GPTConfig:
    """Model shape. ``base_train`` derives it from ``depth``: n_layer = depth, n_embd = 64*depth, head_dim 128."""

    sequence_len: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 6  # number of query heads
    n_kv_head: int = 6  # number of key/value heads (GQA when < n_head)
    n_embd: int = 768


def norm(x: torch.Tensor) -> torch.Tensor:
    """RMSNorm over the last dimension, with no learnable parameters."""
    raise NotImplementedError("TODO(step 1): RMSNorm over the last dimension, no learnable weight")


def apply_rotary_emb(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each head vector of ``x`` (B, T, H, D) by position-dependent angles; cos/sin are (1, T, 1, D/2)."""
    raise NotImplementedError("TODO(step 1): split the head vector into halves and rotate by -theta")


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    is_causal: bool = False,
    attn_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention with GQA: q (B, H, Tq, D), k/v (B, Hkv, Tk, D) -> (B, H, Tq, D).

    The one device fallback of the model: MPS's SDPA has no ``enable_gqa``, so there K/V heads are repeated to
    match the query heads first (same result, more memory). CPU and CUDA use ``enable_gqa`` directly.
    """
    enable_gqa = q.size(1) != k.size(1)
    if enable_gqa and q.device.type == "mps":
        rep = q.size(1) // k.size(1)
        k = k.repeat_interleave(rep, dim=1)  # (B, H, Tk, D)
        v = v.repeat_interleave(rep, dim=1)  # (B, H, Tk, D)
        enable_gqa = False
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, is_causal=is_causal, enable_gqa=enable_gqa
    )


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with RoPE, QK-norm and grouped-query K/V heads."""

    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_head = config.n_head
        self.n_kv_head = config.n_kv_head
        self.n_embd = config.n_embd
        self.head_dim = self.n_embd // self.n_head
        assert self.n_embd % self.n_head == 0
        assert self.n_kv_head <= self.n_head and self.n_head % self.n_kv_head == 0
        self.c_q = nn.Linear(self.n_embd, self.n_head * self.head_dim, bias=False)
        self.c_k = nn.Linear(self.n_embd, self.n_kv_head * self.head_dim, bias=False)
        self.c_v = nn.Linear(self.n_embd, self.n_kv_head * self.head_dim, bias=False)
        self.c_proj = nn.Linear(self.n_embd, self.n_embd, bias=False)

    def forward(self, x: torch.Tensor, cos_sin, kv_cache=None) -> torch.Tensor:
        """Attend over ``x`` (B, T, C) -> (B, T, C); ``cos_sin`` are the rotary tables sliced to these positions.

        Project q (n_head heads) and k, v (n_kv_head heads); rotate q and k, then RMS-norm them per head;
        attend causally (or against the KV cache, see the module docstring); merge heads; ``c_proj``.
        """
        raise NotImplementedError("TODO(step 2): q/k/v, rotary, QK-norm, causal SDPA with GQA, c_proj")


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear (n -> 4n), ReLU squared, Linear (4n -> n)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C): ``c_proj(relu(c_fc(x))**2)``."""
        raise NotImplementedError("TODO(step 3): c_fc, ReLU squared, c_proj")


class Block(nn.Module):
    """A pre-norm transformer block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: GPTConfig, layer_idx: int):
        super().__init__()
        self.attn = CausalSelfAttention(config, layer_idx)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cos_sin, kv_cache=None) -> torch.Tensor:
        """(B, T, C) -> (B, T, C): two pre-norm residual branches, attention then MLP."""
        raise NotImplementedError("TODO(step 3): pre-norm residual attention, then pre-norm residual MLP")


class GPT(nn.Module):
    """The whole model: ``wte`` -> norm -> blocks -> norm -> ``lm_head`` -> softcap."""

    def __init__(self, config: GPTConfig, pad_vocab_size_to: int = 64):
        super().__init__()
        self.config = config
        # Pad the vocabulary (tensor-core friendly, and DistAdamW needs dim 0 divisible by the world size).
        padded_vocab_size = (
            (config.vocab_size + pad_vocab_size_to - 1) // pad_vocab_size_to
        ) * pad_vocab_size_to
        if padded_vocab_size != config.vocab_size:
            print0(f"Padding vocab_size from {config.vocab_size} to {padded_vocab_size} for efficiency")
        self.padded_vocab_size = padded_vocab_size
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(padded_vocab_size, config.n_embd),
                "h": nn.ModuleList([Block(config, layer_idx) for layer_idx in range(config.n_layer)]),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, padded_vocab_size, bias=False)
        # Rotary tables for 10x the training context, so generation can run past it.
        self.rotary_seq_len = config.sequence_len * 10
        head_dim = config.n_embd // config.n_head
        cos, sin = self._precompute_rotary_embeddings(self.rotary_seq_len, head_dim)
        self.register_buffer("cos", cos, persistent=False)  # (1, 10T, 1, D/2), bf16
        self.register_buffer("sin", sin, persistent=False)  # (1, 10T, 1, D/2), bf16

    @torch.no_grad()
    def init_weights(self) -> None:
        """nanochat C's init (see the module docstring); also recomputes the rotary buffers."""
        raise NotImplementedError("TODO(step 4): N(0,1) wte, N(0,0.001) lm_head, uniform +-sqrt(3/n_embd) inputs, zero c_proj, rotary")

    def _precompute_rotary_embeddings(self, seq_len: int, head_dim: int, base: float = 10000, device=None):
        """cos/sin tables of shape (1, seq_len, 1, head_dim/2), in bf16."""
        raise NotImplementedError("TODO(step 1): bf16 cos/sin tables of shape (1, seq_len, 1, head_dim/2)")

    def get_device(self) -> torch.device:
        """The device of the parameters (that of ``wte``)."""
        return self.transformer.wte.weight.device

    def estimate_flops(self) -> int:
        """Training FLOPs per token: ``6 * (N_params - N_wte) + 12 * L * H * head_dim * T`` (PaLM-style).

        The embedding is a lookup (no matmul), so it is left out; attention is counted at full context T.
        """
        raise NotImplementedError("TODO(step 4): 6*(N_params - N_wte) + 12*L*H*head_dim*T")

    def setup_optimizers(
        self,
        unembedding_lr: float = 0.004,
        embedding_lr: float = 0.2,
        matrix_lr: float = 0.02,
        weight_decay: float = 0.0,
    ):
        """Return ``[adamw, muon]``: AdamW for ``lm_head`` and ``wte``, Muon for every matrix in the blocks.

        The AdamW learning rates were tuned at width 768 and are scaled by ``(n_embd/768)^-0.5``. Under torchrun
        the distributed variants are used (there is no DDP wrapper: they synchronise gradients themselves).
        Every group remembers its ``initial_lr`` so the training loop's schedule can scale it.
        """
        model_dim = self.config.n_embd
        ddp, rank, local_rank, world_size = get_dist_info()
        matrix_params = list(self.transformer.h.parameters())
        embedding_params = list(self.transformer.wte.parameters())
        lm_head_params = list(self.lm_head.parameters())
        assert len(list(self.parameters())) == len(matrix_params) + len(embedding_params) + len(
            lm_head_params
        )
        dmodel_lr_scale = (model_dim / 768) ** -0.5
        print0(f"Scaling the LR for the AdamW parameters ∝1/√({model_dim}/768) = {dmodel_lr_scale:.6f}")
        adam_groups = [
            dict(params=lm_head_params, lr=unembedding_lr * dmodel_lr_scale),
            dict(params=embedding_params, lr=embedding_lr * dmodel_lr_scale),
        ]
        adamw_kwargs = dict(betas=(0.8, 0.95), eps=1e-10, weight_decay=weight_decay)
        AdamWFactory = DistAdamW if ddp else partial(torch.optim.AdamW, fused=True)
        adamw_optimizer = AdamWFactory(adam_groups, **adamw_kwargs)
        muon_kwargs = dict(lr=matrix_lr, momentum=0.95)
        MuonFactory = DistMuon if ddp else Muon
        muon_optimizer = MuonFactory(matrix_params, **muon_kwargs)
        optimizers = [adamw_optimizer, muon_optimizer]
        for opt in optimizers:
            for group in opt.param_groups:
                group["initial_lr"] = group["lr"]
        return optimizers

    def forward(self, idx: torch.Tensor, targets=None, kv_cache=None, loss_reduction: str = "mean"):
        """Logits (B, T, vocab_size) in fp32, or the cross-entropy loss when ``targets`` is given.

        Targets equal to -1 are ignored (the loss mask). ``loss_reduction='none'`` returns per-token losses
        flattened to (B*T,), used by bpb evaluation and RL.
        """
        raise NotImplementedError("TODO(step 3): wte, norm, blocks, norm, lm_head, slice, fp32, softcap; loss with ignore_index=-1")

    @torch.inference_mode()
    def generate(
        self, tokens, max_tokens: int, temperature: float = 1.0, top_k: int | None = None, seed: int = 42
    ):
        """Yield ``max_tokens`` new token ids (ints) after the prompt ``tokens`` (a list of ints).

        Naive and slow on purpose: batch 1, no KV cache (the full sequence is re-run every step). Top-k masking,
        then temperature, then a draw from a generator seeded with ``seed``; temperature 0 is greedy (argmax).
        """
        assert isinstance(tokens, list)
        device = self.get_device()
        rng = None
        if temperature > 0:
            rng = torch.Generator(device=device)
            rng.manual_seed(seed)
        ids = torch.tensor([tokens], dtype=torch.long, device=device)  # (1, T)
        for _ in range(max_tokens):
            logits = self.forward(ids)  # (1, T, V)
            logits = logits[:, -1, :]  # (1, V)
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))  # (1, k)
                logits[logits < v[:, [-1]]] = -math.inf
            if temperature > 0:
                logits = logits / temperature
                probs = F.softmax(logits, dim=-1)  # (1, V)
                next_ids = torch.multinomial(probs, num_samples=1, generator=rng)  # (1, 1)
            else:
                next_ids = torch.argmax(logits, dim=-1, keepdim=True)  # (1, 1)
            ids = torch.cat((ids, next_ids), dim=1)  # (1, T+1)
            yield next_ids.item()
