"""Hidden tests for module 6: edge cases of Newton–Schulz, Muon and DistAdamW."""

import pytest
import torch

from grading.testkit import check_tensor
from nanochat_ref import muon as ref_muon


def _orthogonalized(muon, G, steps=5):
    X = muon.zeropower_via_newtonschulz5(G, steps)
    return check_tensor(X, shape=G.shape, what=f"zeropower_via_newtonschulz5(G, {steps})")


ADAMW = dict(betas=(0.8, 0.95), eps=1e-10)


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_newton_schulz_with_zero_steps_only_normalises(muon):
    G = torch.randn(8, 12)
    X = muon.zeropower_via_newtonschulz5(G, 0).float()
    torch.testing.assert_close(X, G / G.norm(), atol=1e-2, rtol=1e-2)


@pytest.mark.step("step1")
@pytest.mark.hint("h1")
def test_newton_schulz_ignores_the_scale_of_the_input(muon):
    G = torch.randn(20, 36)
    a = _orthogonalized(muon, G).float()
    b = _orthogonalized(muon, 1024 * G).float()
    assert (a - b).norm() / a.norm() < 1e-2


@pytest.mark.step("step1")
@pytest.mark.hint("h2")
def test_newton_schulz_of_a_tall_matrix_is_the_transpose_of_the_wide_one(muon):
    G = torch.randn(70, 20)
    tall = _orthogonalized(muon, G).float()
    wide = _orthogonalized(muon, G.T.contiguous()).float()
    torch.testing.assert_close(tall, wide.T, atol=1e-2, rtol=0)
    expected = ref_muon.zeropower_via_newtonschulz5(G, 5).float()
    assert (tall - expected).norm() / expected.norm() < 0.02


@pytest.mark.step("step2")
@pytest.mark.hint("h5")
def test_muon_without_nesterov_uses_the_buffer_itself(muon, remote_params):
    gen = torch.Generator().manual_seed(7)
    params = [torch.randn(24, 24, generator=gen)]
    grads = [[torch.randn(24, 24, generator=gen)] for _ in range(2)]
    handles, set_grads, read = remote_params(params)
    opt = muon.Muon(handles, lr=0.03, momentum=0.8, nesterov=False)
    ref_ps = [torch.nn.Parameter(params[0].clone())]
    ref_opt = ref_muon.Muon(ref_ps, lr=0.03, momentum=0.8, nesterov=False)
    for step_grads in grads:
        set_grads(step_grads)
        opt.step()
        ref_ps[0].grad = step_grads[0].clone()
        ref_opt.step()
    torch.testing.assert_close(read()[0], ref_ps[0].detach(), atol=1e-4, rtol=0)


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
def test_a_tall_matrix_moves_twice_as_far_as_its_wide_transpose_when_four_times_taller(muon, remote_params):
    g = torch.randn(32, 8)
    handles, set_grads, read = remote_params([torch.zeros(32, 8), torch.zeros(8, 32)])
    opt = muon.Muon(handles, lr=0.1, momentum=0.0, nesterov=False)
    set_grads([g, g.T.contiguous()])
    opt.step()
    tall, wide = read()
    torch.testing.assert_close(tall, 2.0 * wide.T, atol=1e-3, rtol=1e-2)


@pytest.mark.step("step3")
@pytest.mark.hint("h9")
@pytest.mark.lab_addition("dist-wait-on-work")
def test_dist_adamw_honours_each_groups_own_lr_and_weight_decay(adamw, remote_params, one_rank_group):
    gen = torch.Generator().manual_seed(3)
    params = [torch.randn(16, 4, generator=gen), torch.randn(8, 8, generator=gen)]
    grads = [[torch.randn_like(p) for p in params] for _ in range(4)]
    handles, set_grads, read = remote_params(params)
    groups = [{"params": [handles[0]], "lr": 0.3, "weight_decay": 0.0}, {"params": [handles[1]], "lr": 0.002}]
    opt = adamw.DistAdamW(groups, weight_decay=0.2, **ADAMW)
    ref_ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref_groups = [
        {"params": [ref_ps[0]], "lr": 0.3, "weight_decay": 0.0},
        {"params": [ref_ps[1]], "lr": 0.002},
    ]
    ref_opt = torch.optim.AdamW(ref_groups, weight_decay=0.2, **ADAMW)
    for step_grads in grads:
        set_grads(step_grads)
        opt.step()
        for p, g in zip(ref_ps, step_grads):
            p.grad = g.clone()
        ref_opt.step()
    for got, expected in zip(read(), ref_ps):
        torch.testing.assert_close(got, expected.detach())


def _rank_problem(spec):
    gen = torch.Generator().manual_seed(spec["seed"])
    params = [torch.randn(s, generator=gen) for s in spec["shapes"]]
    grads = [
        [[torch.randn(s, generator=gen) for s in spec["shapes"]] for _ in range(spec["world_size"])]
        for _ in range(spec["steps"])
    ]
    return params, grads


def _averaged(step_grads):
    return [torch.stack(per_rank).mean(0) for per_rank in zip(*step_grads)]


@pytest.mark.step("step3")
@pytest.mark.hint("h7")
@pytest.mark.lab_addition("dist-wait-on-work")
def test_dist_adamw_on_three_gloo_processes(run_ranks):
    spec = dict(
        optimizer="DistAdamW",
        world_size=3,
        seed=21,
        steps=2,
        shapes=[[48, 4], [24, 6]],
        groups=[dict(params=[0, 1], options=dict(lr=0.03))],
        options=dict(betas=[0.8, 0.95], eps=1e-10, weight_decay=0.05),
    )
    params, grads = _rank_problem(spec)
    ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref = torch.optim.AdamW(ps, lr=0.03, betas=(0.8, 0.95), eps=1e-10, weight_decay=0.05)
    for step_grads in grads:
        for p, g in zip(ps, _averaged(step_grads)):
            p.grad = g
        ref.step()
    for result in run_ranks(spec):
        for got, exp in zip(result["history"][-1], ps):
            torch.testing.assert_close(check_tensor(got, shape=exp.shape), exp.detach(), atol=1e-5, rtol=1e-5)


@pytest.mark.step("step2")
@pytest.mark.hint("h6")
@pytest.mark.lab_addition("dist-wait-on-work")
def test_dist_muon_on_three_gloo_processes_with_a_padded_block(run_ranks):
    spec = dict(
        optimizer="DistMuon",
        world_size=3,
        seed=22,
        steps=2,
        shapes=[[12, 12]] * 4 + [[8, 24]],
        options=dict(lr=0.04, momentum=0.85),
    )
    params, grads = _rank_problem(spec)
    ps = [torch.nn.Parameter(p.clone()) for p in params]
    ref = ref_muon.Muon(ps, lr=0.04, momentum=0.85)
    for step_grads in grads:
        for p, g in zip(ps, _averaged(step_grads)):
            p.grad = g
        ref.step()
    for result in run_ranks(spec):
        for got, exp in zip(result["history"][-1], ps):
            torch.testing.assert_close(check_tensor(got, shape=exp.shape), exp.detach(), atol=2e-4, rtol=0)


@pytest.mark.step("step2")
@pytest.mark.hint("h4")
@pytest.mark.lab_addition("muon-update-helper")
def test_muon_leaves_a_parameter_without_a_gradient_alone(muon, remote_params):
    gen = torch.Generator().manual_seed(8)
    params = [torch.randn(16, 16, generator=gen), torch.randn(16, 16, generator=gen)]
    handles, _, read = remote_params(params)
    handles[0].grad = torch.randn(16, 16, generator=gen)
    opt = muon.Muon(handles, lr=0.02)
    opt.step()
    got = read()
    torch.testing.assert_close(got[1], params[1], rtol=0, atol=0)
    assert float((got[0] - params[0]).abs().max()) > 0
