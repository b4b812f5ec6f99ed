"""Tests of Muon, Newton–Schulz and DistAdamW/DistMuon against torch's AdamW, SVD and single-process runs.

The distributed variants run on gloo in 2 CPU processes (spawned once per module, results written to files);
each test then compares one piece of that run with a single-process reference computed here.
"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from nanochat_ref.adamw import DistAdamW
from nanochat_ref.loss_eval import evaluate_bpb
from nanochat_ref.muon import DistMuon, Muon, zeropower_via_newtonschulz5

WORLD_SIZE = 2
STEPS = 3


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: one thread is fastest, and on a busy 2-core machine two threads stall each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------------------------
# Newton–Schulz


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=["bf16", "fp32"])
@pytest.mark.parametrize("shape", [(64, 128), (128, 64), (96, 96)], ids=["wide", "tall", "square"])
def test_newton_schulz_output_is_near_orthogonal_with_singular_values_in_the_band(shape, dtype):
    torch.manual_seed(0)
    G = torch.randn(*shape)
    if shape[0] == shape[1]:  # keep the smallest singular value away from 0 (square Gaussians get close)
        G = G + 3 * torch.eye(shape[0])
    X = zeropower_via_newtonschulz5(G, steps=5, dtype=dtype)
    assert X.shape == G.shape and X.dtype == dtype
    s = torch.linalg.svdvals(X.float())
    assert s.min() > 0.5 and s.max() < 1.5, (s.min(), s.max())
    assert (
        torch.linalg.svdvals(G).max() / torch.linalg.svdvals(G).min() > 2
    )  # the input was far from orthogonal


def test_newton_schulz_approximates_the_polar_factor_from_svd():
    torch.manual_seed(1)
    G = torch.randn(32, 80)
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    polar = U @ Vh  # the exact nearest semi-orthogonal matrix
    X = zeropower_via_newtonschulz5(G, steps=5).float()
    cosine = (X * polar).sum() / (X.norm() * polar.norm())
    assert cosine > 0.95


def test_newton_schulz_in_bf16_and_fp32_agree_up_to_rounding():
    torch.manual_seed(3)
    G = torch.randn(48, 80)
    assert zeropower_via_newtonschulz5(G, steps=5).dtype == torch.bfloat16  # nanochat's default
    a = zeropower_via_newtonschulz5(G, steps=5).float()
    b = zeropower_via_newtonschulz5(G, steps=5, dtype=torch.float32)
    assert (a - b).norm() / b.norm() < 0.05


def test_newton_schulz_is_scale_invariant():
    torch.manual_seed(2)
    G = torch.randn(16, 24)
    a = zeropower_via_newtonschulz5(G, steps=5).float()
    b = zeropower_via_newtonschulz5(1024 * G, steps=5).float()  # a power of two: same bf16 rounding
    assert (a - b).norm() / a.norm() < 1e-2  # only the 1e-7 guard in the denominator differs


def test_newton_schulz_with_zero_steps_only_normalises():
    G = torch.randn(8, 12)
    X = zeropower_via_newtonschulz5(G, steps=0).float()
    torch.testing.assert_close(X, G / G.norm(), atol=1e-2, rtol=1e-2)


# --------------------------------------------------------------------------------------------------------------
# Muon


def reference_muon(params0, grads_per_step, lr=0.02, momentum=0.95):
    """Muon written out from the spec: momentum lerp, Nesterov lerp, Newton–Schulz, sqrt(max(1, r/c)) scale."""
    params = [p.clone() for p in params0]
    bufs = [torch.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for i, (p, g) in enumerate(zip(params, grads)):
            bufs[i] = momentum * bufs[i] + (1 - momentum) * g
            nesterov = (1 - momentum) * g + momentum * bufs[i]
            update = zeropower_via_newtonschulz5(nesterov, steps=5).float()
            p -= lr * max(1.0, p.size(0) / p.size(1)) ** 0.5 * update
    return params


def make_muon_problem(seed=0):
    """Parameters of three shapes (three of one shape, so 2 ranks see a partial block) and per-rank grads."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(8, 16), (8, 16), (8, 16), (32, 8), (16, 16)]
    params = [torch.randn(s, generator=gen) for s in shapes]
    grads = [
        [[torch.randn(s, generator=gen) for s in shapes] for _ in range(WORLD_SIZE)] for _ in range(STEPS)
    ]
    return params, grads  # grads[step][rank][param]


def test_muon_matches_the_spec_reference_step_for_step():
    params0, grads = make_muon_problem()
    params = [torch.nn.Parameter(p.clone()) for p in params0]
    opt = Muon(params, lr=0.02, momentum=0.95)
    for step in range(STEPS):
        for p, g in zip(params, grads[step][0]):
            p.grad = g.clone()
        opt.step()
    expected = reference_muon(params0, [grads[s][0] for s in range(STEPS)])
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.detach(), e, atol=1e-5, rtol=1e-5)


def test_muon_scales_tall_matrices_by_sqrt_of_the_aspect_ratio():
    tall = torch.nn.Parameter(torch.zeros(32, 8))
    wide = torch.nn.Parameter(torch.zeros(8, 32))
    g = torch.randn(32, 8)
    tall.grad, wide.grad = g.clone(), g.T.clone()
    Muon([tall, wide], lr=0.1, momentum=0.0, nesterov=False).step()
    torch.testing.assert_close(tall.detach(), 2.0 * wide.detach().T)  # sqrt(32/8) = 2; wide gets 1


def test_muon_groups_parameters_by_element_count():
    params = [torch.nn.Parameter(torch.zeros(s)) for s in [(4, 8), (8, 4), (4, 4), (2, 16)]]
    opt = Muon(params)
    sizes = sorted(len(g["params"]) for g in opt.param_groups)
    assert sizes == [1, 3]


# --------------------------------------------------------------------------------------------------------------
# Distributed variants on gloo, 2 processes


def make_adamw_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(64, 8), (128, 4)]  # dim 0 divisible by the world size (the vocab is padded for this)
    params = [torch.randn(s, generator=gen) for s in shapes]
    grads = [
        [[torch.randn(s, generator=gen) for s in shapes] for _ in range(WORLD_SIZE)] for _ in range(STEPS)
    ]
    return params, grads


ADAMW_GROUPS = [dict(lr=0.01, weight_decay=0.1), dict(lr=0.3, weight_decay=0.0)]
ADAMW_KWARGS = dict(betas=(0.8, 0.95), eps=1e-10)


class TinyLM(torch.nn.Module):
    """A bigram model with the GPT's evaluation interface (get_device, forward with loss_reduction)."""

    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(3)
        self.logits = torch.nn.Parameter(torch.randn(16, 16, generator=gen))

    def get_device(self):
        return self.logits.device

    def forward(self, x, y, loss_reduction="mean"):
        return torch.nn.functional.cross_entropy(
            self.logits[x].view(-1, 16), y.view(-1), reduction=loss_reduction
        )


def bpb_batches(rank: int):
    gen = torch.Generator().manual_seed(100 + rank)
    return [
        (torch.randint(0, 16, (2, 8), generator=gen), torch.randint(0, 16, (2, 8), generator=gen))
        for _ in range(2)
    ]


TOKEN_BYTES = torch.tensor([0] + [1, 2, 3] * 5)  # token 0 is "special": 0 bytes


def _dist_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        results = {}
        # DistAdamW
        params0, grads = make_adamw_problem()
        params = [torch.nn.Parameter(p.clone()) for p in params0]
        groups = [dict(params=[p], **cfg) for p, cfg in zip(params, ADAMW_GROUPS)]
        opt = DistAdamW(groups, **ADAMW_KWARGS)
        for step in range(STEPS):
            for p, g in zip(params, grads[step][rank]):
                p.grad = g.clone()
            opt.step()
        results["adamw"] = [p.detach().clone() for p in params]
        results["adamw_state_rows"] = [opt.state[p]["exp_avg"].shape[0] for p in params]
        # DistMuon
        params0, grads = make_muon_problem()
        params = [torch.nn.Parameter(p.clone()) for p in params0]
        opt = DistMuon(params, lr=0.02, momentum=0.95)
        for step in range(STEPS):
            for p, g in zip(params, grads[step][rank]):
                p.grad = g.clone()
            opt.step()
        results["muon"] = [p.detach().clone() for p in params]
        results["muon_owned"] = sum(1 for p in params if "momentum_buffer" in opt.state[p])
        # evaluate_bpb all-reduces its sums
        results["bpb"] = evaluate_bpb(TinyLM(), bpb_batches(rank), steps=2, token_bytes=TOKEN_BYTES)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dist_results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("dist")
    mp.spawn(_dist_worker, args=(WORLD_SIZE, free_port(), str(out_dir)), nprocs=WORLD_SIZE, join=True)
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]


def averaged(grads_step):
    return [torch.stack(gs).mean(0) for gs in zip(*grads_step)]


@pytest.mark.slow
def test_dist_adamw_on_two_ranks_matches_torch_adamw_on_averaged_gradients(dist_results):
    params0, grads = make_adamw_problem()
    params = [torch.nn.Parameter(p.clone()) for p in params0]
    groups = [dict(params=[p], **cfg) for p, cfg in zip(params, ADAMW_GROUPS)]
    opt = torch.optim.AdamW(groups, **ADAMW_KWARGS)
    for step in range(STEPS):
        for p, g in zip(params, averaged(grads[step])):
            p.grad = g
        opt.step()
    for rank in range(WORLD_SIZE):
        for got, expected in zip(dist_results[rank]["adamw"], params):
            torch.testing.assert_close(got, expected.detach(), atol=1e-6, rtol=1e-6)


@pytest.mark.slow
def test_dist_adamw_keeps_only_its_slice_of_the_state(dist_results):
    assert dist_results[0]["adamw_state_rows"] == [64 // WORLD_SIZE, 128 // WORLD_SIZE]


@pytest.mark.slow
def test_dist_muon_on_two_ranks_matches_single_process_muon(dist_results):
    params0, grads = make_muon_problem()
    expected = reference_muon(params0, [averaged(grads[s]) for s in range(STEPS)])
    for rank in range(WORLD_SIZE):
        for got, e in zip(dist_results[rank]["muon"], expected):
            torch.testing.assert_close(got, e, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_dist_muon_spreads_ownership_of_parameters_across_ranks(dist_results):
    # groups by shape: (8,16) x3 -> ranks own 2 and 1; (32,8) and (16,16) x1 -> rank 0 owns each
    assert [dist_results[r]["muon_owned"] for r in range(WORLD_SIZE)] == [4, 1]


@pytest.mark.slow
def test_evaluate_bpb_all_reduces_to_the_single_process_value(dist_results):
    all_batches = bpb_batches(0) + bpb_batches(1)
    expected = evaluate_bpb(TinyLM(), all_batches, steps=4, token_bytes=TOKEN_BYTES)
    assert dist_results[0]["bpb"] == pytest.approx(expected, rel=1e-6)
    assert dist_results[1]["bpb"] == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------------------------------------------
# DistAdamW with a world of one process equals torch's AdamW too (no sharding: the plain math path)


def test_dist_adamw_in_a_single_process_group_matches_torch_adamw(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        params0, grads = make_adamw_problem(seed=5)
        ours = [torch.nn.Parameter(p.clone()) for p in params0]
        ref = [torch.nn.Parameter(p.clone()) for p in params0]
        opt_ours = DistAdamW([dict(params=[p], **c) for p, c in zip(ours, ADAMW_GROUPS)], **ADAMW_KWARGS)
        opt_ref = torch.optim.AdamW(
            [dict(params=[p], **c) for p, c in zip(ref, ADAMW_GROUPS)], **ADAMW_KWARGS
        )
        for step in range(STEPS):
            for a, b, g in zip(ours, ref, grads[step][0]):
                a.grad, b.grad = g.clone(), g.clone()
            opt_ours.step()
            opt_ref.step()
            for a, b in zip(ours, ref):
                torch.testing.assert_close(a.detach(), b.detach(), atol=1e-6, rtol=1e-6)
    finally:
        dist.destroy_process_group()
