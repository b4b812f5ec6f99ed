"""CUDA-only checks of the GPU path of gpt.py / muon.py (bf16 wte, autocast, compiled Newton–Schulz).

They skip cleanly on machines without CUDA (``gpu`` marker).
"""

import pytest
import torch

from nanochat_ref.gpt import GPT, GPTConfig
from nanochat_ref.muon import Muon, zeropower_via_newtonschulz5

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def cuda_model() -> GPT:
    config = GPTConfig(sequence_len=64, vocab_size=1000, n_layer=2, n_head=2, n_kv_head=1, n_embd=256)
    with torch.device("meta"):
        model = GPT(config)
    model.to_empty(device="cuda")
    model.init_weights()
    return model


def test_init_weights_on_cuda_stores_the_embedding_in_bf16():
    model = cuda_model()
    assert model.transformer.wte.weight.dtype == torch.bfloat16
    assert model.lm_head.weight.dtype == torch.float32
    assert model.cos.device.type == "cuda" and model.cos.dtype == torch.bfloat16


def test_autocast_forward_on_cuda_matches_the_fp32_cpu_forward():
    model = cuda_model()
    cpu = GPT(model.config)
    cpu.load_state_dict({k: v.float().cpu() for k, v in model.state_dict().items()})
    idx = torch.randint(0, 1000, (2, 64))
    with torch.amp.autocast(device_type="cuda", dtype=torch.bfloat16):
        logits = model(idx.cuda())
    assert logits.dtype == torch.float32  # cast before the softcap
    torch.testing.assert_close(logits.cpu(), cpu(idx), atol=5e-2, rtol=5e-2)


def test_compiled_muon_step_on_cuda_matches_the_eager_cpu_step():
    torch.manual_seed(0)
    w = torch.randn(512, 128)
    g = torch.randn(512, 128)
    p_gpu = torch.nn.Parameter(w.cuda())
    p_cpu = torch.nn.Parameter(w.clone())
    p_gpu.grad, p_cpu.grad = g.cuda(), g.clone()
    Muon([p_gpu]).step()
    Muon([p_cpu]).step()
    torch.testing.assert_close(p_gpu.detach().cpu(), p_cpu.detach(), atol=2e-3, rtol=0)
    s = torch.linalg.svdvals(zeropower_via_newtonschulz5(g.cuda(), 5).float())
    assert s.min() > 0.5 and s.max() < 1.5
