"""Fixtures for module 5: the learner's ``nanochat.gpt`` and reference models to compare it with.

Every comparison copies the reference model's weights into the learner's model (``load_state_dict``), so the
learner's code is checked on identical parameters. Reference models get non-zero ``c_proj`` weights: with
nanochat's zero init every block would be the identity and hide attention/MLP bugs.
"""

import sys
import types

import pytest
import torch
import torch.fx

from grading.testkit import nontrivial_gpt
from nanochat_ref.gpt import GPT as RefGPT

# Pay torch's lazy imports (assert_close pulls in sympy, tracing pulls in torch.fx) at collection, not inside a
# timed test: a per-test timeout that fires in the middle of an import leaves a half-imported module behind.
torch.testing.assert_close(torch.zeros(1), torch.zeros(1))

SMALL = dict(sequence_len=16, vocab_size=100, n_layer=2, n_head=4, n_kv_head=2, n_embd=32)


@pytest.fixture
def gpt(learner):
    """The learner's ``nanochat.gpt`` module (a proxy)."""
    return learner.module("nanochat.gpt")


def _ref_model(seed: int = 0, **overrides) -> RefGPT:
    return nontrivial_gpt({**SMALL, **overrides}, seed).eval()


@pytest.fixture
def ref_model():
    """``ref_model(seed=0, **config_overrides)``: a reference GPT with random, non-trivial weights."""
    return _ref_model


@pytest.fixture
def twin(gpt, ref_model):
    """``twin(**config_overrides) -> (learner_model, ref_model)`` with identical weights."""

    def make(seed: int = 0, **overrides):
        ref = ref_model(seed, **overrides)
        model = gpt.GPT(gpt.GPTConfig(**{**SMALL, **overrides}))
        model.load_state_dict(ref.state_dict())
        model.eval()
        return model, ref

    return make


# --- the probe: a few helpers that must run where the model lives ----------------------------------------------
#
# The learner's model lives in their sandbox and only data crosses to the tests, so whatever needs the live model
# (a KV cache object it calls back, ``loss.backward()``, a torch.fx trace) runs there: this source is installed as
# the module ``lab_gpt_probe`` in the learner's process, and imported here for the reference, so both sides are
# measured by the same code. It is test code, not part of nanochat.

PROBE_SOURCE = """
import inspect
import operator
import sys

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F


class KVCache:
    \"\"\"nanochat's KV-cache interface (``engine.KVCache``, written in module 11), kept as simple as possible.

    ``get_pos()`` is the number of cached positions; ``insert_kv(layer_idx, k, v)`` appends k, v of shape
    (B, Hkv, T_new, D) to the layer's cache and returns everything cached so far; the position advances once
    the last layer has inserted.
    \"\"\"

    def __init__(self, n_layer):
        self.n_layer = n_layer
        self.pos = 0
        self.k = [None] * n_layer
        self.v = [None] * n_layer
        self.inserts = []

    def get_pos(self):
        return self.pos

    def insert_kv(self, layer_idx, k, v):
        self.inserts.append((int(layer_idx), int(k.size(2))))
        if self.k[layer_idx] is None:
            self.k[layer_idx], self.v[layer_idx] = k, v
        else:
            self.k[layer_idx] = torch.cat([self.k[layer_idx], k], dim=2)
            self.v[layer_idx] = torch.cat([self.v[layer_idx], v], dim=2)
        if layer_idx == self.n_layer - 1:
            self.pos += k.size(2)
        return self.k[layer_idx], self.v[layer_idx]


@torch.no_grad()
def attention_in_chunks(attn, x, cos, sin, chunks):
    \"\"\"Run ``attn`` over x (B, T, C) chunk by chunk through one cache: the outputs side by side, (B, T, C).\"\"\"
    cache = KVCache(attn.layer_idx + 1)
    cache.pos = 0
    outs, pos = [], 0
    for n in chunks:
        cos_sin = (cos[:, pos : pos + n], sin[:, pos : pos + n])
        # a cache with layer_idx + 1 layers advances after this layer's insert
        outs.append(attn(x[:, pos : pos + n], cos_sin, cache))
        pos += n
    return torch.cat(outs, dim=1), cache.inserts


@torch.no_grad()
def model_in_chunks(model, idx, chunks):
    \"\"\"Run the whole model over idx (B, T) chunk by chunk through one cache: the logits side by side.\"\"\"
    cache = KVCache(len(model.transformer.h))
    outs, pos, positions = [], 0, []
    for n in chunks:
        positions.append(cache.get_pos())
        outs.append(model(idx[:, pos : pos + n], kv_cache=cache))
        pos += n
    return torch.cat(outs, dim=1), positions


def loss_and_grads(model, idx, targets):
    \"\"\"One forward and backward: (loss, {parameter name: its gradient or None}).\"\"\"
    model.zero_grad(set_to_none=True)
    loss = model(idx, targets)
    loss.backward()
    grads = {name: (None if p.grad is None else p.grad.detach().clone()) for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return loss.detach(), grads


@torch.no_grad()
def logits_under_bf16_autocast(model, idx):
    \"\"\"The model's output for idx under CPU bf16 autocast, as training runs it on GPU.\"\"\"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return model(idx)


def norm_grad(norm, x, weight):
    \"\"\"The gradient of sum(norm(x) * weight) with respect to x.\"\"\"
    x = x.clone().requires_grad_(True)
    (norm(x) * weight).sum().backward()
    return x.grad


_LAYOUT = {
    "view", "reshape", "transpose", "permute", "contiguous", "size", "getitem", "getattr", "unsqueeze",
    "squeeze", "expand", "clone", "dim", "type_as", "_assert", "eq", "le", "lt", "ge", "gt", "ne", "floordiv",
    "contiguous_format", "_assert_is_none", "_assert",
}
_ALIASES = {
    "iadd": "add", "add": "add", "mul": "mul", "imul": "mul", "truediv": "div", "div": "div",
    "rms_norm": "rms_norm", "norm": "rms_norm", "scaled_dot_product_attention": "attention",
    "attention": "attention", "relu": "relu", "relu_": "relu", "square": "square", "tanh": "tanh",
    "gelu": "gelu", "silu": "silu", "softmax": "softmax", "cat": "cat", "cross_entropy": "cross_entropy",
    "apply_rotary_emb": "apply_rotary_emb", "layer_norm": "layer_norm", "matmul": "matmul",
    "repeat_interleave": "repeat_interleave", "repeat": "repeat", "neg": "neg", "sqrt": "sqrt",
    "rsqrt": "rsqrt", "mean": "mean", "exp": "exp", "clamp": "clamp", "float": "float32", "tril": "tril",
}


class _Tracer(torch.fx.Tracer):
    \"\"\"Symbolic tracing that takes every Python branch on a traced value as true (the no-cache path).\"\"\"

    def to_bool(self, obj):
        return True

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        # buffers (the rotary tables) become graph inputs too, so slicing them by a traced length works
        if isinstance(attr_val, torch.Tensor) and not isinstance(attr_val, nn.Parameter):
            for name, buf in self.root.named_buffers():
                if buf is attr_val:
                    return self.create_proxy("get_attr", name, (), {})
        return super().getattr(attr, attr_val, parameter_proxy_cache)


def _name(node, model):
    if node.op == "call_module":
        sub = model.get_submodule(node.target)
        last = node.target.rsplit(".", 1)[-1]
        if isinstance(sub, nn.Linear):
            return "linear:" + last
        if isinstance(sub, nn.Embedding):
            return "embedding"
        return type(sub).__name__.lower()
    target = node.target
    raw = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    raw = raw.strip("_") if raw.startswith("__") else raw
    if raw == "pow":
        exponent = node.args[1] if len(node.args) > 1 else node.kwargs.get("exponent")
        return "square" if exponent == 2 else "pow"
    if raw in ("to", "type"):
        wanted = list(node.args[1:]) + list(node.kwargs.values())
        return "float32" if torch.float32 in wanted else None
    if raw in _LAYOUT:
        return None
    name = _ALIASES.get(raw, raw)
    if name == "attention":
        causal = node.kwargs.get("is_causal", False)
        return "attention(causal)" if causal else "attention"
    return name


def fx_ops(model, *example):
    \"\"\"The compute ops of ``model.forward`` in execution order, read off a torch.fx trace.

    nanochat's helpers ``norm``, ``apply_rotary_emb`` and ``attention`` (when the file has them) are kept as
    single nodes; layout ops (view, transpose, slicing ...) are left out; every Python branch on a traced value
    takes its true side. Returns (ops, number of graph nodes).
    \"\"\"
    module = sys.modules[type(model).__module__]
    leaves = tuple(
        fn for fn in (getattr(module, n, None) for n in ("norm", "apply_rotary_emb", "attention")) if callable(fn)
    )
    params = list(inspect.signature(type(model).forward).parameters.values())[1:]
    concrete = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    graph = _Tracer(autowrap_functions=leaves).trace(model, concrete_args=concrete)
    shape = set()  # nodes that only compute sizes (x.size(), T0 + T ...), not tensors
    ops = []
    for node in graph.nodes:
        inputs = node.all_input_nodes
        if (node.op == "call_method" and node.target in ("size", "dim")) or (
            node.op == "call_function" and node.target is getattr and node.args[1] in ("shape", "ndim")
        ):
            shape.add(node)
        elif node.op.startswith("call_") and inputs and all(n in shape for n in inputs):
            shape.add(node)
        if node.op.startswith("call_") and node not in shape:
            name = _name(node, model)
            if name:
                ops.append(name)
    return ops, len(graph.nodes)
"""

_INSTALL = """
import sys, types
module = types.ModuleType("lab_gpt_probe")
exec(SOURCE, module.__dict__)
sys.modules["lab_gpt_probe"] = module
"""


def _local_probe() -> types.ModuleType:
    module = sys.modules.get("lab_gpt_probe_ref")
    if module is None:
        module = types.ModuleType("lab_gpt_probe_ref")
        exec(PROBE_SOURCE, module.__dict__)
        sys.modules["lab_gpt_probe_ref"] = module
    return module


@pytest.fixture
def probe(learner):
    """``lab_gpt_probe`` in the learner's process (see PROBE_SOURCE)."""
    learner.module("builtins").exec(_INSTALL, {"SOURCE": PROBE_SOURCE})
    return learner.module("lab_gpt_probe")


@pytest.fixture
def ref_probe():
    """The same probe, here, for the reference model."""
    return _local_probe()


_local_probe()
