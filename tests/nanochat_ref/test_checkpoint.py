"""Tests of nanochat_ref.checkpoint_manager: file layout, round trips, model discovery and rebuilding."""

import json
import os
from dataclasses import asdict

import pytest
import torch

from nanochat_ref import checkpoint_manager as cm
from nanochat_ref.gpt import GPT, GPTConfig


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: one thread is fastest, and on a busy 2-core machine two threads stall each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_model(vocab_size: int = 512, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(sequence_len=16, vocab_size=vocab_size, n_layer=2, n_head=2, n_kv_head=1, n_embd=32)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cpu")
    model.init_weights()
    with torch.no_grad():  # non-zero projections so the logits depend on every tensor
        for block in model.transformer.h:
            block.attn.c_proj.weight.normal_(0, 0.1)
            block.mlp.c_proj.weight.normal_(0, 0.1)
    return model


def save(model: GPT, checkpoint_dir, step: int, optimizer_data=None, rank: int = 0, **meta):
    meta_data = {"step": step, "model_config": asdict(model.config), **meta}
    cm.save_checkpoint(str(checkpoint_dir), step, model.state_dict(), optimizer_data, meta_data, rank=rank)


def test_save_checkpoint_writes_the_spec_file_names(tmp_path):
    model = small_model()
    save(model, tmp_path / "d2", 7, optimizer_data=[{"x": torch.ones(2)}], rank=0)
    cm.save_checkpoint(str(tmp_path / "d2"), 7, None, [{"x": torch.zeros(2)}], None, rank=1)
    assert sorted(os.listdir(tmp_path / "d2")) == [
        "meta_000007.json",
        "model_000007.pt",
        "optim_000007_rank0.pt",
        "optim_000007_rank1.pt",
    ]


def test_only_rank_zero_writes_model_and_meta(tmp_path):
    cm.save_checkpoint(str(tmp_path), 3, {"w": torch.ones(1)}, {"state": 1}, {"step": 3}, rank=1)
    assert os.listdir(tmp_path) == ["optim_000003_rank1.pt"]


def test_load_checkpoint_round_trips_model_optimizer_and_meta(tmp_path):
    model = small_model()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randint(0, 512, (1, 8)), torch.randint(0, 512, (1, 8))).backward()
    opt.step()
    save(
        model, tmp_path, 12, optimizer_data=[opt.state_dict()], val_bpb=1.25, loop_state={"min_val_bpb": 1.2}
    )
    model_data, optim_data, meta = cm.load_checkpoint(str(tmp_path), 12, "cpu", load_optimizer=True)
    assert model_data.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(model_data[k], v)
    restored = torch.optim.AdamW(small_model(seed=1).parameters(), lr=0.1)
    restored.load_state_dict(optim_data[0])
    assert torch.equal(restored.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert meta["val_bpb"] == 1.25 and meta["loop_state"] == {"min_val_bpb": 1.2}
    assert meta["model_config"]["n_kv_head"] == 1


def test_load_checkpoint_skips_the_optimizer_unless_asked(tmp_path):
    save(small_model(), tmp_path, 1)  # no optimizer file at all
    _, optim_data, _ = cm.load_checkpoint(str(tmp_path), 1, "cpu")
    assert optim_data is None


def test_build_model_rebuilds_an_identical_model(tiny_base_dir):
    model = small_model(vocab_size=512)
    ckpt = tiny_base_dir / "base_checkpoints" / "d2"
    save(model, ckpt, 5)
    rebuilt, tokenizer, meta = cm.build_model(str(ckpt), 5, torch.device("cpu"), phase="eval")
    assert not rebuilt.training
    assert tokenizer.get_vocab_size() == 512 and meta["step"] == 5
    idx = torch.randint(0, 512, (2, 16))
    torch.testing.assert_close(rebuilt(idx), model(idx))
    assert rebuilt.cos.dtype == torch.bfloat16 and torch.equal(rebuilt.cos, model.cos)  # rotary recomputed


def test_build_model_upcasts_bf16_and_strips_the_compile_prefix(tiny_base_dir):
    model = small_model(vocab_size=512)
    state = {
        "_orig_mod." + k: (v.bfloat16() if k == "transformer.wte.weight" else v)
        for k, v in model.state_dict().items()
    }
    ckpt = tiny_base_dir / "base_checkpoints" / "d2"
    cm.save_checkpoint(str(ckpt), 1, state, None, {"model_config": asdict(model.config)})
    rebuilt, _, _ = cm.build_model(str(ckpt), 1, torch.device("cpu"), phase="train")
    assert rebuilt.training
    assert rebuilt.transformer.wte.weight.dtype == torch.float32
    torch.testing.assert_close(
        rebuilt.transformer.wte.weight, model.transformer.wte.weight.bfloat16().float()
    )


def test_build_model_rejects_a_tokenizer_of_another_vocab_size(tiny_base_dir):
    model = small_model(vocab_size=300)
    ckpt = tiny_base_dir / "base_checkpoints" / "d2"
    save(model, ckpt, 1)
    with pytest.raises(AssertionError, match="vocab"):
        cm.build_model(str(ckpt), 1, torch.device("cpu"), phase="eval")


def test_find_largest_model_prefers_the_deepest_d_tag(tmp_path):
    for tag in ["d4", "d12", "d2", "zzz"]:
        (tmp_path / tag).mkdir()
    assert cm.find_largest_model(str(tmp_path)) == "d12"


def test_find_largest_model_falls_back_to_the_newest_folder(tmp_path):
    for i, tag in enumerate(["alpha", "beta", "gamma"]):
        (tmp_path / tag).mkdir()
        os.utime(tmp_path / tag, (1000 + i, [1000, 3000, 2000][i]))
    assert cm.find_largest_model(str(tmp_path)) == "beta"


def test_find_largest_model_raises_when_there_is_none(tmp_path):
    with pytest.raises(FileNotFoundError):
        cm.find_largest_model(str(tmp_path))


def test_find_last_step_reads_the_step_from_model_file_names(tmp_path):
    for step in [5, 120, 40]:
        (tmp_path / f"model_{step:06d}.pt").write_bytes(b"")
    (tmp_path / "optim_999999_rank0.pt").write_bytes(b"")  # not a model file
    assert cm.find_last_step(str(tmp_path)) == 120


def test_load_model_finds_the_phase_folder_largest_tag_and_last_step(tiny_base_dir):
    a, b, c = small_model(seed=1), small_model(seed=2), small_model(seed=3)
    save(a, tiny_base_dir / "chatsft_checkpoints" / "d2", 10)
    save(b, tiny_base_dir / "chatsft_checkpoints" / "d3", 10)
    save(c, tiny_base_dir / "chatsft_checkpoints" / "d3", 20)
    model, _, meta = cm.load_model("sft", "cpu", phase="eval")
    assert meta["step"] == 20
    idx = torch.randint(0, 512, (1, 8))
    torch.testing.assert_close(model(idx), c(idx))
    model, _, meta = cm.load_model("sft", "cpu", phase="eval", model_tag="d2", step=10)
    torch.testing.assert_close(model(idx), a(idx))


def test_meta_is_plain_json(tmp_path):
    save(small_model(), tmp_path, 2, val_bpb=float("inf"))
    with open(tmp_path / "meta_000002.json", encoding="utf-8") as f:
        meta = json.load(f)
    assert meta["model_config"]["vocab_size"] == 512 and meta["val_bpb"] == float("inf")
