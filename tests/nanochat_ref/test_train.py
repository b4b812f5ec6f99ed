"""Tests of the base training loop (scripts.base_train), its schedules, and scripts.base_loss.

The slow tests train one tiny model once per module (depth 2, vocab 512, on the conftest shards) and check what
came out of it: validation bpb went down, the checkpoint is complete, a resumed run restores the exact weights,
and base_loss measures the checkpoint.
"""

import contextlib
import math
import os
import shutil

import pytest
import torch

from nanochat_ref.gpt import GPT, GPTConfig
from nanochat_ref.scripts import base_train
from nanochat_ref.scripts.base_train import get_lr_multiplier, get_muon_momentum, model_config_for, parse_args


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: one thread is fastest, and on a busy 2-core machine two threads stall each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------------------------
# Fast: configuration and schedules


def test_depth_dial_gives_the_d20_shape():
    config = model_config_for(depth=20, max_seq_len=2048, vocab_size=65536)
    assert (config.n_layer, config.n_embd, config.n_head, config.n_kv_head) == (20, 1280, 10, 10)
    assert model_config_for(depth=32, max_seq_len=2048, vocab_size=65536).n_head == 16
    assert model_config_for(depth=1, max_seq_len=64, vocab_size=512).n_head == 1  # at least one head


def test_lr_multiplier_warms_up_holds_then_warms_down_to_the_final_fraction():
    def lrm(it):
        return get_lr_multiplier(
            it, num_iterations=100, warmup_ratio=0.1, warmdown_ratio=0.2, final_lr_frac=0.1
        )

    assert lrm(0) == pytest.approx(0.1)  # (it + 1) / 10
    assert lrm(9) == pytest.approx(1.0)
    assert lrm(50) == 1.0 and lrm(80) == 1.0
    assert lrm(90) == pytest.approx(0.5 * 1.0 + 0.5 * 0.1)
    assert lrm(100) == pytest.approx(0.1)


def test_lr_multiplier_without_warmup_starts_at_one():
    assert get_lr_multiplier(0, 10, warmup_ratio=0.0, warmdown_ratio=0.2, final_lr_frac=0.0) == 1.0
    assert get_lr_multiplier(9, 10, warmup_ratio=0.0, warmdown_ratio=0.2, final_lr_frac=0.0) == pytest.approx(
        0.5
    )


def test_muon_momentum_ramps_from_085_to_095_over_300_steps():
    assert get_muon_momentum(0) == pytest.approx(0.85)
    assert get_muon_momentum(150) == pytest.approx(0.90)
    assert get_muon_momentum(300) == pytest.approx(0.95)
    assert get_muon_momentum(5000) == pytest.approx(0.95)


def test_defaults_are_nanochats():
    args = parse_args([])
    assert (args.depth, args.max_seq_len, args.device_batch_size, args.total_batch_size) == (
        20,
        2048,
        32,
        524288,
    )
    assert (args.embedding_lr, args.unembedding_lr, args.matrix_lr, args.grad_clip) == (0.2, 0.004, 0.02, 1.0)
    assert (args.target_param_data_ratio, args.eval_every, args.warmdown_ratio) == (20, 250, 0.2)


def test_tiny_flag_applies_the_preset_and_explicit_flags_still_win():
    args = parse_args(["--tiny", "--num_iterations=7"])
    assert args.depth == base_train.TINY_PRESET["depth"]
    assert args.max_seq_len == base_train.TINY_PRESET["max_seq_len"]
    assert args.num_iterations == 7


def test_every_flag_has_help():
    parser = base_train.build_parser()
    for action in parser._actions:
        if action.dest != "help":
            assert action.help, f"--{action.dest} has no help"


def _sgd_model(seed=0):
    torch.manual_seed(seed)
    config = GPTConfig(sequence_len=16, vocab_size=128, n_layer=2, n_head=2, n_kv_head=2, n_embd=32)
    model = GPT(config)
    model.init_weights()
    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_proj.weight.normal_(0, 0.1)
            block.mlp.c_proj.weight.normal_(0, 0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.0)
    for group in opt.param_groups:
        group["initial_lr"] = group["lr"]
    return model, [opt]


def test_gradient_accumulation_equals_one_large_batch():
    x = torch.randint(0, 128, (8, 16))
    y = torch.randint(0, 128, (8, 16))
    big_model, big_opts = _sgd_model()
    after = iter([(x, y, {})])
    base_train.train_step(big_model, big_opts, after, (x, y), 1, 0.0, 1.0, 0.0, contextlib.nullcontext())
    small_model, small_opts = _sgd_model()
    micro = iter([(x[2 * i : 2 * i + 2], y[2 * i : 2 * i + 2], {}) for i in range(1, 4)] + [(x, y, {})])
    loss, grad_norm, next_batch = base_train.train_step(
        small_model, small_opts, micro, (x[:2], y[:2]), 4, 0.0, 1.0, 0.0, contextlib.nullcontext()
    )
    for p, q in zip(small_model.parameters(), big_model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)
    assert grad_norm is None and next_batch[0] is x  # no clipping; the batch after the step is prefetched
    assert all(p.grad is None for p in small_model.parameters())  # zero_grad(set_to_none=True)


def test_train_step_clips_the_gradient_and_applies_the_lr_multiplier():
    model, opts = _sgd_model()
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randint(0, 128, (4, 16))
    batches = iter([(x, x, {})])
    loss, grad_norm, _ = base_train.train_step(
        model, opts, batches, (x, x), 1, 1e-3, 0.5, 0.9, contextlib.nullcontext()
    )
    assert grad_norm > 1e-3 and loss.item() > 0
    assert opts[0].param_groups[0]["lr"] == pytest.approx(0.05) and opts[0].param_groups[0]["momentum"] == 0.9
    step_norm = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert step_norm.item() == pytest.approx(0.05 * 1e-3, rel=1e-3)  # lr * clipped gradient norm


# --------------------------------------------------------------------------------------------------------------
# Slow: one real tiny training run

TRAIN_FLAGS = [
    "--device_type=cpu",
    "--depth=2",
    "--max_seq_len=64",
    "--device_batch_size=4",
    "--total_batch_size=512",  # 2 micro-steps per step
    "--num_iterations=40",
    "--eval_every=20",
    "--eval_tokens=2048",
    "--save_every=20",
    "--core_metric_every=-1",
    "--sample_every=-1",
    "--num_threads=1",
]


@pytest.fixture(scope="module")
def trained(tiny_artifacts, tmp_path_factory):
    base = tmp_path_factory.mktemp("train") / "base"
    shutil.copytree(tiny_artifacts, base)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NANOCHAT_BASE_DIR", str(base))
        summary = base_train.main(TRAIN_FLAGS)
    return base, summary


@pytest.mark.slow
def test_base_train_lowers_validation_bpb(trained):
    _, summary = trained
    steps = [s for s, _ in summary["val_bpb_history"]]
    assert steps == [0, 20, 40]
    assert summary["grad_accum_steps"] == 2
    assert math.isfinite(summary["initial_val_bpb"])
    assert summary["final_val_bpb"] < summary["initial_val_bpb"] - 0.3, summary["val_bpb_history"]
    assert summary["min_val_bpb"] == min(b for _, b in summary["val_bpb_history"])


@pytest.mark.slow
def test_base_train_training_loss_goes_down(trained):
    _, summary = trained
    losses = summary["train_losses"]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5


@pytest.mark.slow
def test_base_train_saves_model_meta_and_optimizer_at_save_every_and_at_the_end(trained):
    base, _ = trained
    files = sorted(os.listdir(base / "base_checkpoints" / "d2"))
    assert files == [
        "meta_000020.json",
        "meta_000040.json",
        "model_000020.pt",
        "model_000040.pt",
        "optim_000020_rank0.pt",
        "optim_000040_rank0.pt",
    ]


@pytest.mark.slow
def test_base_train_checkpoint_meta_records_config_and_loop_state(trained):
    from nanochat_ref.checkpoint_manager import load_checkpoint

    base, summary = trained
    _, _, meta = load_checkpoint(str(base / "base_checkpoints" / "d2"), 40, "cpu")
    assert meta["step"] == 40
    assert meta["val_bpb"] == pytest.approx(summary["final_val_bpb"])
    assert meta["model_config"] == dict(
        sequence_len=64, vocab_size=512, n_layer=2, n_head=1, n_kv_head=1, n_embd=128
    )
    assert meta["user_config"]["depth"] == 2 and meta["max_seq_len"] == 64
    assert set(meta["dataloader_state_dict"]) == {"pq_idx", "rg_idx"}
    assert meta["loop_state"]["min_val_bpb"] == pytest.approx(summary["min_val_bpb"])


@pytest.mark.slow
def test_base_train_resume_restores_the_exact_weights(trained, tmp_path, monkeypatch):
    base, summary = trained
    resumed_base = tmp_path / "base"
    shutil.copytree(base, resumed_base)
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(resumed_base))
    flags = [f for f in TRAIN_FLAGS if not f.startswith("--num_iterations")]
    resumed = base_train.main(flags + ["--num_iterations=22", "--resume_from_step=20"])
    (step, bpb), *_ = resumed["val_bpb_history"]
    original = dict(summary["val_bpb_history"])
    assert step == 20
    assert bpb == pytest.approx(original[20], rel=1e-6)  # same weights => same val bpb at the resume point
    assert len(resumed["train_losses"]) == 2  # steps 20 and 21 only


@pytest.mark.slow
def test_base_loss_measures_the_trained_checkpoint(trained, monkeypatch):
    from nanochat_ref.scripts import base_loss

    base, summary = trained
    monkeypatch.setenv("NANOCHAT_BASE_DIR", str(base))
    out = base_loss.main(
        ["--device_type=cpu", "--device_batch_size=4", "--split_tokens=2048", "--max_tokens=4"]
    )
    assert out["val_bpb"] == pytest.approx(summary["final_val_bpb"], rel=1e-5)  # same loader, same tokens
    assert math.isfinite(out["train_bpb"])
    assert len(out["samples"]) == len(base_train.SAMPLE_PROMPTS)
    assert out["samples"][0].startswith("<|bos|>The capital of France is")


@pytest.mark.slow
def test_base_train_under_torchrun_with_two_gloo_ranks_uses_the_distributed_optimizers(
    tiny_base_dir, repo_root
):
    import subprocess
    import sys

    env = dict(os.environ, NANOCHAT_BASE_DIR=str(tiny_base_dir), OMP_NUM_THREADS="1")
    flags = [f for f in TRAIN_FLAGS if not f.startswith(("--num_iterations", "--eval_every", "--save_every"))]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "nanochat_ref.scripts.base_train", *flags, "--num_iterations=4", "--eval_every=2"]
    proc = subprocess.run(cmd, env=env, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    ckpt = tiny_base_dir / "base_checkpoints" / "d2"
    assert sorted(os.listdir(ckpt)) == [
        "meta_000004.json",
        "model_000004.pt",
        "optim_000004_rank0.pt",
        "optim_000004_rank1.pt",
    ]
    # Each rank holds only its shard of the AdamW state (ZeRO-2): half the rows of the padded wte / lm_head.
    adamw_state = torch.load(ckpt / "optim_000004_rank1.pt", weights_only=True)[0]["state"]
    assert sorted(s["exp_avg"].shape[0] for s in adamw_state.values()) == [256, 256]
    bpbs = [float(line.split()[-1]) for line in proc.stdout.splitlines() if "Validation bpb" in line]
    assert len(bpbs) == 3 and bpbs[-1] < bpbs[0]  # printed once (rank 0), at steps 0, 2 and 4
