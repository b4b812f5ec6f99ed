"""Fixtures for module 6: learner-side parameters with gradients, and a one-rank process group.

Parameters live in the learner's process (``torch.nn.Linear(..., bias=False)`` modules created there); the
judge sets their values and gradients and reads them back as data. The reference optimizers run in the judge
on identical copies.
"""

import pytest


@pytest.fixture
def muon(learner):
    return learner.module("nanochat.muon")


@pytest.fixture
def adamw(learner):
    return learner.module("nanochat.adamw")


@pytest.fixture
def remote_params(learner):
    """``remote_params(tensors) -> (param_proxies, set_grads, read)`` for parameters in the learner process."""
    nn = learner.module("torch.nn")

    def make(tensors):
        mods = []
        for t in tensors:
            lin = nn.Linear(t.shape[1], t.shape[0], bias=False)
            lin.load_state_dict({"weight": t.clone()})
            mods.append(lin)
        params = [m.weight for m in mods]

        def set_grads(grads):
            for m, g in zip(mods, grads, strict=True):
                m.weight.grad = g.clone()

        def read():
            return [m.state_dict()["weight"] for m in mods]

        return params, set_grads, read

    return make


@pytest.fixture
def one_rank_group(learner):
    """Start a gloo process group of one rank in the learner process (once; the process serves one submission)."""
    dist = learner.module("torch.distributed")
    if not dist.is_initialized():
        path = learner.module("tempfile").mkdtemp(prefix="pg-")
        dist.init_process_group("gloo", init_method=f"file://{path}/store", rank=0, world_size=1)
    return dist
