"""DistAdamW: ZeRO-2 style sharded AdamW (mirrors nanochat's ``nanochat/adamw.py`` at commit C).

Design choices:
- One process uses ``torch.optim.AdamW(fused=True)``; under torchrun ``GPT.setup_optimizers`` picks this class.
- ZeRO-2 sharding, as in modded-nanogpt: each gradient is ``reduce_scatter``'d (averaged) along dim 0, so rank r
  receives rows ``[r*n/W, (r+1)*n/W)`` and keeps ``exp_avg``/``exp_avg_sq`` for that slice only; it updates its
  slice of the parameter and ``all_gather_into_tensor`` re-assembles the full parameter on every rank. This needs
  ``shape[0] % world_size == 0``, which is why the GPT pads its vocabulary to a multiple of 64.
- The per-slice math is exactly ``torch.optim.AdamW``'s (decoupled weight decay ``p *= 1 - lr*wd``, bias
  corrections, ``eps`` added after dividing by ``sqrt(bias_correction2)``); nanochat fixed its copy of a
  modded-nanogpt variant that placed eps differently in ``4ddc803``.
- Every collective is asynchronous: all reduce-scatters are launched first, then each slice is updated as its
  gradient arrives and its all-gather is launched; the step waits for all gathers at the end. nanochat waits on
  ``work.get_future()``; here on the ``Work`` handles themselves (``work.wait()``), which every backend supports
  (gloo's reduce-scatter has no future).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

# torch >= 2.10 renamed the "_tensor" collectives; use the new names where they exist (same semantics).
_reduce_scatter_tensor = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
_all_gather_into_tensor = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor


class DistAdamW(torch.optim.Optimizer):
    """AdamW whose optimizer state is sharded across ranks along each parameter's dim 0."""

    def __init__(
        self,
        param_groups,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(param_groups, defaults)

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW step on every rank's slice; needs an initialised process group (gloo or NCCL).

        Reduce-scatter (average) each gradient along dim 0, update this rank's rows with AdamW (decoupled weight
        decay, bias-corrected moments kept for the slice only), then all-gather the full parameter.
        """
        raise NotImplementedError("TODO(step 3): reduce-scatter grads, AdamW on this rank's slice, all-gather the parameter")
