"""Fixtures for module 4: the same tiny shards and tokenizer on both sides, made deterministically.

The learner's process (its own sandbox) and the judge each build them with the reference ``make_shards`` (Python
documentation prose only: always present) and ``tok_train``; both are byte-for-byte deterministic, so the
judge can compute expected batches with the reference loader on its own copy.
"""

import pytest

from grading.testkit import base_data_fixtures, learner_base_data

judge_base, ref_env = base_data_fixtures()


@pytest.fixture
def learner_env(learner):
    """Build the data once in the learner's process and point NANOCHAT_BASE_DIR at it; returns a rank setter."""
    learner_base_data(learner)
    os_mod = learner.module("os")

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
