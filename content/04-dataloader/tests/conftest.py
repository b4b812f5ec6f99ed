"""Fixtures for module 4: the same tiny shards and tokenizer on both sides, made deterministically.

The learner's process (its own sandbox) and the judge each build them with the reference ``make_shards`` (Python
documentation prose only: always present) and ``tok_train``; both are byte-for-byte deterministic, so the
judge can compute expected batches with the reference loader on its own copy.

Two data sets:

- the testkit's tiny base data (3 shards x 4 row groups x 16 documents), shared with modules 3 and 7;
- a *wide* one (3 shards x 12 row groups x 3 short documents, the same tokenizer) for the sharding tests: with 8
  ranks every rank owns at least one row group of each file (a rank that owns none would wait forever, in
  nanochat too), 12 is not a multiple of 8 so ranks 0-3 read more than ranks 4-7, and a row group holds more
  documents than the tests' ``tokenizer_batch_size`` of 2, so cutting row groups into tokenizer batches matters.

Which rank a loader is comes from torchrun's ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``, read through
``get_dist_info()`` when the loader starts. The tests set them around each call on the side that runs it (in the
in-process harness both sides share one ``os.environ``), so every loader is read to the end inside its own block.
"""

import os
import shutil

import pytest

from grading.testkit import base_data_fixtures, learner_base_data
from grading.testkit.environ import env_vars

judge_base, ref_env = base_data_fixtures()

#: ``make_shards`` keyword arguments of the wide data set.
WIDE_SHARDS = {"num_shards": 3, "row_groups_per_shard": 12, "rows_per_group": 3, "max_doc_chars": 200,
               "sources": ["pydoc"]}  # fmt: skip
RANK_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
_LEARNER_WIDE: dict[str, str] = {}


def rank_vars(rank: int | None, world_size: int | None) -> dict[str, str | None]:
    """torchrun's variables for ``rank`` of ``world_size``; ``None``: none set (a plain single process)."""
    if rank is None or world_size is None:
        return dict.fromkeys(RANK_VARS)
    return {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size)}


@pytest.fixture
def learner_env(learner):
    """Build the data once in the learner's process and point NANOCHAT_BASE_DIR at it; returns a rank setter."""
    learner_base_data(learner)
    os_mod = learner.module("os")

    def set_rank(rank: int, world_size: int) -> None:
        os_mod.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size)})

    yield set_rank
    for k in RANK_VARS:
        os_mod.environ.pop(k, None)


@pytest.fixture
def take(learner):
    """``take(generator_handle, n)``: the first n items of a learner generator, as data."""
    islice = learner.module("itertools").islice
    to_list = learner.module("builtins").list

    def _take(gen, n):
        return to_list(islice(gen, n))

    return _take


@pytest.fixture(scope="session")
def judge_wide(judge_base, tmp_path_factory):
    """The judge's copy of the wide data set (built with the reference), with the tiny data's tokenizer."""
    from nanochat_ref.scripts.make_shards import make_shards

    base = str(tmp_path_factory.mktemp("judge_wide"))
    make_shards(os.path.join(base, "base_data"), **WIDE_SHARDS)
    shutil.copytree(os.path.join(judge_base, "tokenizer"), os.path.join(base, "tokenizer"))
    return base


@pytest.fixture
def learner_wide(learner):
    """The learner's copy of the wide data set, built once per learner process with its own ``make_shards``."""
    os_mod = learner.module("os")
    path = os_mod.path
    base = _LEARNER_WIDE.get("base")
    if base is None or not path.isdir(base):
        tiny = learner_base_data(learner)
        base = learner.module("tempfile").mkdtemp(prefix="nanochat-wide-")
        learner.module("nanochat.scripts.make_shards").make_shards(
            path.join(base, "base_data"), **WIDE_SHARDS
        )
        learner.module("shutil").copytree(path.join(tiny, "tokenizer"), path.join(base, "tokenizer"))
        _LEARNER_WIDE["base"] = base
    return base


@pytest.fixture
def wide(learner, learner_wide, judge_wide, judge_base):
    """Run loaders on the wide data set, on either side, as a given rank: ``wide.learner(rank, W, fn)``, ...

    ``wide.learner(rank, world_size, fn)`` calls ``fn()`` in the learner's process with its wide data and that
    rank (``rank=None``: no torchrun variables); ``wide.judge(...)`` does the same for the reference in the judge.
    ``fn`` must read its loader to the end (``take``/``list``), since the variables are put back afterwards.
    """
    learner_environ = learner.module("os").environ

    class _Wide:
        @staticmethod
        def learner(rank, world_size, fn):
            with env_vars(learner_environ, NANOCHAT_BASE_DIR=learner_wide, **rank_vars(rank, world_size)):
                return fn()

        @staticmethod
        def judge(rank, world_size, fn):
            with env_vars(os.environ, NANOCHAT_BASE_DIR=judge_wide, **rank_vars(rank, world_size)):
                return fn()

    return _Wide()


# --- helpers the tests share (plain functions of data; no learner code runs here) -----------------------------


def token_stream(batches) -> list[int]:
    """The tokens a loader consumed, in order: each batch's B*T inputs, then its last target (B*T+1 in all)."""
    import torch

    out: list[int] = []
    for inputs, targets, *_ in batches:
        out += torch.as_tensor(inputs).reshape(-1).tolist()
        out.append(int(torch.as_tensor(targets).reshape(-1)[-1]))
    return out


def split_documents(stream: list[int], bos: int) -> list[tuple[int, ...]]:
    """Cut a token stream into documents, each starting at a ``<|bos|>`` (a stream must start with one)."""
    docs: list[list[int]] = []
    for token in stream:
        if token == bos or not docs:
            docs.append([])
        docs[-1].append(token)
    return [tuple(d) for d in docs]


def row_groups_read(states) -> list[tuple[int, int]]:
    """The ``(pq_idx, rg_idx)`` of a run of yielded state dicts, consecutive repeats dropped."""
    out: list[tuple[int, int]] = []
    for state in states:
        loc = (state["pq_idx"], state["rg_idx"])
        if not out or out[-1] != loc:
            out.append(loc)
    return out


def reference_epoch(split: str, rank: int, world_size: int, tokenizer_batch_size: int):
    """What the reference reads as ``rank`` of ``world_size`` in one pass: ``(documents as token tuples, bos)``.

    Runs in the judge with the data its environment points at.
    """
    from nanochat_ref import dataloader as ref
    from nanochat_ref.tokenizer import get_tokenizer

    tokenizer = get_tokenizer()
    bos = tokenizer.get_bos_token_id()
    texts = [
        text
        for docs, _loc in ref.document_batches(split, rank, world_size, tokenizer_batch_size, None, 1)
        for text in docs
    ]
    return [tuple(ids) for ids in tokenizer.encode(texts, prepend=bos)], bos


def first_difference(got: list, expected: list) -> str:
    """Where two sequences part: ``at item i: expected X, got Y``."""
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return f"at item {i}: expected {e}, got {g}"
    if len(got) != len(expected):
        return f"expected {len(expected)} items, got {len(got)}"
    return "no difference"


@pytest.fixture
def kit():
    """The helpers above, for the test files (which do not import the conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        token_stream=token_stream,
        split_documents=split_documents,
        row_groups_read=row_groups_read,
        reference_epoch=reference_epoch,
        first_difference=first_difference,
    )
