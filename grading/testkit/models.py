"""Tiny reference GPTs whose outputs depend on their input, for comparing a learner's code with the reference.

Design choices:

- nanochat zero-initialises every ``c_proj``, so a freshly initialised block is the identity and would hide an
  attention or MLP bug: ``nontrivial_gpt`` draws them (and ``lm_head``) at random instead.
- A random GPT mostly echoes the current token; ``trained_tiny_gpt`` trains one for a few full-batch steps on the
  test texts (~3 s) so its next token depends on the context (a decode step that forgets the KV cache shows)
  and it memorises a few facts.
- Both seed torch first, so the same call gives the same weights every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def nontrivial_gpt(config: dict[str, Any], seed: int = 0) -> Any:
    """A reference ``GPT(GPTConfig(**config))`` with random ``c_proj`` and ``lm_head`` weights (train mode)."""
    import torch

    from nanochat_ref.gpt import GPT, GPTConfig

    torch.manual_seed(seed)
    model = GPT(GPTConfig(**config))
    model.init_weights()
    return randomize_projections(model)


def randomize_projections(model: Any) -> Any:
    """Give a GPT's zero-initialised ``c_proj`` (and ``lm_head``) random weights, in place; returns the model."""
    import torch

    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_proj.weight.normal_(0, 0.2)
            block.mlp.c_proj.weight.normal_(0, 0.05)
        model.lm_head.weight.normal_(0, 0.2)
    return model


def trained_tiny_gpt(config: dict[str, Any], tok: Any, texts: Sequence[str], steps: int = 30) -> Any:
    """A reference GPT trained ``steps`` AdamW steps on ``texts`` (each a ``<bos>``-led row), in eval mode."""
    import torch

    from nanochat_ref.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(**config))
    model.init_weights()
    bos = tok.get_bos_token_id()
    rows = [[bos, *tok.encode(t)] for t in texts]
    width = max(len(r) for r in rows)
    x = torch.full((len(rows), width), bos)  # (B, T), padded with <bos>
    mask = torch.zeros(len(rows), width, dtype=torch.bool)  # (B, T): positions whose next token is real
    for i, r in enumerate(rows):
        x[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r) - 1] = True
    y = torch.roll(x, -1, dims=1)  # (B, T)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-2)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x)[mask].float(), y[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()
