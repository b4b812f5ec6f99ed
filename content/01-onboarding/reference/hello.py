"""Module 1 exercise: "hello nanochat".

Three small functions that check the lab works end to end and teach the one sizing rule nanochat lives by.

Design choices:
- ``env_report`` reads versions from package metadata (``importlib.metadata``) instead of importing the
  packages: ``import torch`` alone costs 2-3 seconds, and a version check should not pay for it.
- ``config_from_depth`` is nanochat's single "complexity dial" (``base_train.py`` at commit C): depth fixes
  the width (64 per layer), the heads (head_dim 128) and the context (2048).
- ``count_params`` counts exactly what ``nanochat.gpt.GPT`` allocates: two untied embedding matrices padded to a
  multiple of 64 rows, and per block four attention projections plus a 4x MLP, with no biases and no norm
  weights (RMSNorm has no parameters in nanochat).
"""

from __future__ import annotations

import importlib.metadata
import math
import platform

PACKAGES = ("torch", "tiktoken", "rustbpe")


def env_report() -> dict[str, str | None]:
    """Step 1: report the versions of Python and of the packages nanochat needs.

    Returns a dict with exactly the keys ``"python"``, ``"torch"``, ``"tiktoken"`` and ``"rustbpe"``.
    ``"python"`` is ``platform.python_version()`` (e.g. ``"3.11.7"``); each package maps to its installed
    version string, or ``None`` when it is not installed. Do not import the packages themselves.
    """
    report: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            report[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            report[name] = None
    return report


def greet(name: str) -> str:
    """Step 2: greet a new learner.

    Returns ``"Hello, <name>! Welcome to nanochat."`` where ``<name>`` has surrounding whitespace removed.
    Raises ``ValueError`` when the name is empty or only whitespace.
    """
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("name must not be empty")
    return f"Hello, {cleaned}! Welcome to nanochat."


def config_from_depth(depth: int, vocab_size: int = 65536, sequence_len: int = 2048) -> dict[str, int]:
    """Step 3: derive a GPT shape from nanochat's single dial, the depth.

    Returns a dict with the keys of ``GPTConfig``: ``sequence_len``, ``vocab_size``, ``n_layer`` (= depth),
    ``n_embd`` (= 64 * depth), ``n_head`` (= ceil(n_embd / 128), so head_dim is 128) and ``n_kv_head``
    (= n_head: grouped-query attention is off by default). Raises ``ValueError`` for depth < 1.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    n_embd = 64 * depth
    n_head = math.ceil(n_embd / 128)
    return {
        "sequence_len": sequence_len,
        "vocab_size": vocab_size,
        "n_layer": depth,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_kv_head": n_head,
    }


def count_params(config: dict[str, int], pad_vocab_size_to: int = 64) -> int:
    """Step 3: count the parameters of nanochat's GPT for a config dict (keys as in ``GPTConfig``).

    - The vocabulary is padded up to a multiple of ``pad_vocab_size_to``; ``wte`` (embedding) and ``lm_head``
      are separate (untied) ``padded_vocab x n_embd`` matrices.
    - Each of the ``n_layer`` blocks has ``c_q`` (n_embd x n_embd), ``c_k`` and ``c_v``
      (n_embd x n_kv_head*head_dim each, head_dim = n_embd // n_head), ``c_proj`` (n_embd x n_embd) and an MLP
      ``c_fc`` (n_embd x 4n_embd) plus ``c_proj`` (4n_embd x n_embd). No biases, no norm weights.
    ``n_kv_head`` defaults to ``n_head`` when missing. Example: depth 20, vocab 65,536 -> 560,988,160.
    """
    n_embd = config["n_embd"]
    n_head = config["n_head"]
    n_kv_head = config.get("n_kv_head", n_head)
    head_dim = n_embd // n_head
    padded_vocab = math.ceil(config["vocab_size"] / pad_vocab_size_to) * pad_vocab_size_to
    embeddings = 2 * padded_vocab * n_embd
    attention = 2 * n_embd * n_embd + 2 * n_embd * n_kv_head * head_dim
    mlp = 2 * 4 * n_embd * n_embd
    return embeddings + config["n_layer"] * (attention + mlp)
