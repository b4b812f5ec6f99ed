"""Fixtures for module 4: the same tiny shards and tokenizer on both sides, made deterministically.

The learner's process (its own sandbox) and the judge each build them with the reference ``make_shards`` (Python
documentation prose only: always present) and ``tok_train``; both are byte-for-byte deterministic, so the
judge can compute expected batches with the reference loader on its own copy.
"""

import os

import pytest

SHARDS = {
    "num_shards": 3,
    "row_groups_per_shard": 4,
    "rows_per_group": 16,
    "max_doc_chars": 300,
    "sources": ["pydoc"],
}
VOCAB_SIZE = 512
_LEARNER_BASE: dict[str, str] = {}


def _build(base: str, make_shards, train_tokenizer) -> None:
    make_shards(os.path.join(base, "base_data"), **SHARDS)
    train_tokenizer(VOCAB_SIZE, 10**9, 10_000, "auto", os.path.join(base, "tokenizer"))


@pytest.fixture(scope="session")
def judge_base(tmp_path_factory):
    from nanochat_ref.scripts.make_shards import make_shards
    from nanochat_ref.scripts.tok_train import train_tokenizer

    base = str(tmp_path_factory.mktemp("judge_base"))
    old = os.environ.get("NANOCHAT_BASE_DIR")
    os.environ["NANOCHAT_BASE_DIR"] = base
    try:
        _build(base, make_shards, train_tokenizer)
    finally:
        if old is None:
            os.environ.pop("NANOCHAT_BASE_DIR", None)
        else:
            os.environ["NANOCHAT_BASE_DIR"] = old
    return base


@pytest.fixture
def ref_env(judge_base, monkeypatch):
    """Point the judge's reference code at its copy of the data, as rank 0 of 1."""
    monkeypatch.setenv("NANOCHAT_BASE_DIR", judge_base)
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    return judge_base


@pytest.fixture
def learner_env(learner):
    """Build the data once in the learner's process and point NANOCHAT_BASE_DIR at it; returns a rank setter."""
    os_mod = learner.module("os")
    base = _LEARNER_BASE.get("base")
    if base is None or not os_mod.path.isdir(base):
        base = learner.module("tempfile").mkdtemp(prefix="nanochat-")
        os_mod.environ.update({"NANOCHAT_BASE_DIR": base})
        _build(
            base,
            learner.module("nanochat.scripts.make_shards").make_shards,
            learner.module("nanochat.scripts.tok_train").train_tokenizer,
        )
        _LEARNER_BASE["base"] = base
    os_mod.environ.update({"NANOCHAT_BASE_DIR": base})

    def set_rank(rank: int, world_size: int) -> None:
        os_mod.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size)})

    yield set_rank
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        os_mod.environ.pop(k, None)


@pytest.fixture
def take(learner):
    """``take(generator_handle, n)``: the first n items of a learner generator, as data."""
    islice = learner.module("itertools").islice
    to_list = learner.module("builtins").list

    def _take(gen, n):
        return to_list(islice(gen, n))

    return _take
