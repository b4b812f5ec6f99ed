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
        rank = dist.get_rank()
        world_size = dist.get_world_size()

        # 1) Launch every reduce-scatter: rank r receives the averaged gradient rows of its slice.
        reduce_futures = []
        grad_slices = []
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad  # (N, ...)
                assert grad.shape[0] % world_size == 0, f"dim 0 ({grad.shape[0]}) must divide by {world_size}"
                rank_size = grad.shape[0] // world_size
                grad_slice = torch.empty_like(grad[:rank_size])  # (N/W, ...)
                work = _reduce_scatter_tensor(grad_slice, grad, op=dist.ReduceOp.AVG, async_op=True)
                reduce_futures.append(work)
                grad_slices.append(grad_slice)

        # 2) Update each slice as its gradient arrives, then gather the full parameter back.
        gather_futures = []
        idx = 0
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            eps, lr, wd = group["eps"], group["lr"], group["weight_decay"]
            for p in group["params"]:
                reduce_futures[idx].wait()
                g_slice = grad_slices[idx]
                idx += 1
                rank_size = p.shape[0] // world_size
                p_slice = p[rank * rank_size : (rank + 1) * rank_size]  # (N/W, ...) a view into p
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p_slice)
                    state["exp_avg_sq"] = torch.zeros_like(p_slice)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                t = state["step"]
                if wd != 0:
                    p_slice.mul_(1 - lr * wd)  # decoupled weight decay
                exp_avg.lerp_(g_slice, 1 - beta1)  # m = b1*m + (1-b1)*g
                exp_avg_sq.mul_(beta2).addcmul_(g_slice, g_slice, value=1 - beta2)  # v = b2*v + (1-b2)*g^2
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
                p_slice.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
                gather_futures.append(_all_gather_into_tensor(p, p_slice, async_op=True))
        for work in gather_futures:
            work.wait()
