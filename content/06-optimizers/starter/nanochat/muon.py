"""Muon: momentum + Newton–Schulz orthogonalisation (mirrors nanochat's ``nanochat/muon.py`` at commit C).

Design choices:
- Muon is for the 2-D weight matrices inside the transformer blocks only; embeddings and the unembedding use
  AdamW (``GPT.setup_optimizers``).
- The update is SGD-momentum (Nesterov) whose direction is replaced by its nearest semi-orthogonal matrix,
  computed with 5 steps of a quintic Newton–Schulz iteration in bf16. The coefficients
  ``(a, b, c) = (3.4445, -4.7750, 2.0315)`` maximise the slope at zero, so small singular values grow fast; the
  price is that the result is only *approximately* orthogonal: ``U S' V^T`` with S' roughly in [0.5, 1.5], which
  does not hurt training.
- The step is scaled by ``sqrt(max(1, rows/cols))`` so tall matrices (the MLP's ``c_fc``) get comparable
  per-element updates.
- ``Muon`` (one process) groups parameters by element count; ``DistMuon`` groups them by shape and gives each
  rank ownership of one parameter per block of ``world_size``: ``reduce_scatter`` (average) hands the owner its
  gradient, the owner computes the update (momentum buffers live only there), ``all_gather`` sends the new
  weights back to everyone. All collectives are asynchronous; we wait on the ``Work`` handles (nanochat uses
  their futures, which gloo's reduce-scatter lacks).
- The iteration runs in bf16 on every device, as in nanochat (``dtype`` exists for comparisons: tests, bench).
  nanochat wraps the function in ``torch.compile``; here it is compiled lazily and for CUDA tensors only,
  because on CPU the compile takes longer than the tiny runs it would speed up.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

NS_COEFFS = (3.4445, -4.7750, 2.0315)


def zeropower_via_newtonschulz5(G: Tensor, steps: int, dtype: torch.dtype = torch.bfloat16) -> Tensor:
    """Approximately orthogonalise ``G`` (..., m, n): returns ~ U S' V^T with S' in about [0.5, 1.5].

    The iteration runs in ``dtype`` (nanochat: always bf16, which the iteration tolerates well on GPUs).
    """
    raise NotImplementedError("TODO(step 1): bf16, wide orientation, Frobenius-normalise, 5 quintic iterations")


_compiled_newtonschulz = None


def _orthogonalize(G: Tensor, steps: int) -> Tensor:
    """Newton–Schulz in bf16: compiled on CUDA (as nanochat does), eager elsewhere."""
    global _compiled_newtonschulz
    if G.device.type == "cuda":
        if _compiled_newtonschulz is None:
            _compiled_newtonschulz = torch.compile(zeropower_via_newtonschulz5)
        return _compiled_newtonschulz(G, steps)
    return zeropower_via_newtonschulz5(G, steps)


def _muon_update(p: Tensor, g: Tensor, state: dict, group: dict) -> None:
    """One Muon update of ``p`` in place, from gradient ``g`` and the parameter's optimizer ``state``."""
    raise NotImplementedError("TODO(step 2): momentum lerp, Nesterov lerp, Newton-Schulz, step scaled by sqrt(max(1, rows/cols))")


class Muon(torch.optim.Optimizer):
    """Single-process Muon for 2-D parameters.

    Args: ``lr`` (step size), ``momentum`` (mu, scheduled 0.85 -> 0.95 by base_train), ``nesterov``,
    ``ns_steps`` (Newton–Schulz iterations).
    """

    def __init__(
        self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True, ns_steps: int = 5
    ):
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps)
        params = list(params)
        assert all(p.ndim == 2 for p in params), "Muon is for 2-D matrices only"
        param_groups = []
        for size in sorted({p.numel() for p in params}):
            param_groups.append(dict(params=[p for p in params if p.numel() == size]))
        super().__init__(param_groups, defaults)

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient with :func:`_muon_update`."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                _muon_update(p, p.grad, self.state[p], group)


class DistMuon(torch.optim.Optimizer):
    """Muon across ranks: each rank owns every ``world_size``-th parameter of each shape group.

    Needs an initialised process group. Gradients are averaged inside the step (no DDP wrapper); afterwards every
    rank holds identical parameters.
    """

    def __init__(
        self, params, lr: float = 0.02, momentum: float = 0.95, nesterov: bool = True, ns_steps: int = 5
    ):
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps)
        params = list(params)
        assert all(p.ndim == 2 for p in params), "Muon is for 2-D matrices only"
        shapes = sorted({tuple(p.shape) for p in params})
        param_groups = []
        for shape in shapes:
            group_params = [p for p in params if tuple(p.shape) == shape]
            device, dtype = group_params[0].device, group_params[0].dtype
            assert all(p.device == device and p.dtype == dtype for p in group_params)
            # Pads a partial last block of world_size parameters in the collectives.
            param_groups.append(dict(params=group_params, zero_buffer=torch.zeros_like(group_params[0])))
        super().__init__(param_groups, defaults)

    @torch.no_grad()
    def step(self) -> None:
        """Average gradients to their owners, update owned parameters, all-gather the new weights."""
        rank = dist.get_rank()
        world_size = dist.get_world_size()

        # 1) Launch every reduce-scatter: the owner of params[base_i + r] is rank r; it gets the averaged grad.
        reduce_futures = []
        for group in self.param_groups:
            params, zero_buffer = group["params"], group["zero_buffer"]
            for base_i in range(0, len(params), world_size):
                owner_idx = base_i + rank
                rs_input = [p.grad for p in params[base_i : base_i + world_size]]
                rs_input.extend([zero_buffer] * (world_size - len(rs_input)))
                rs_output = (
                    params[owner_idx].grad if owner_idx < len(params) else torch.empty_like(zero_buffer)
                )
                work = dist.reduce_scatter(rs_output, rs_input, op=dist.ReduceOp.AVG, async_op=True)
                reduce_futures.append(work)

        # 2) As each gradient arrives, the owner updates its parameter; then all-gather the new weights.
        gather_futures = []
        future_idx = 0
        for group in self.param_groups:
            params, zero_buffer = group["params"], group["zero_buffer"]
            for base_i in range(0, len(params), world_size):
                owner_idx = base_i + rank
                reduce_futures[future_idx].wait()
                future_idx += 1
                if owner_idx < len(params):
                    p = params[owner_idx]
                    _muon_update(p, p.grad, self.state[p], group)
                ag_input = params[owner_idx] if owner_idx < len(params) else zero_buffer
                ag_output = list(params[base_i : base_i + world_size])
                ag_output.extend([torch.empty_like(zero_buffer) for _ in range(world_size - len(ag_output))])
                gather_futures.append(dist.all_gather(ag_output, ag_input, async_op=True))
        for work in gather_futures:
            work.wait()
