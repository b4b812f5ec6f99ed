"""LearnerPool.prewarm: a module's limits shape is warm before its first submission (real engine, bubblewrap).

The fixture module ``add`` asks for 512 MiB, the pool's base limits are the sandbox defaults (2 GiB): a shape
the pool would otherwise only learn after a cold start.  Warm service is read from the pool's own counters
(``hits`` / ``misses`` count takes served by a waiting process or not), never from a clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_helpers import ADD_LIMITS, FIXTURES, GOLDEN, run

from grading.engine.pool import LearnerPool
from sandbox.limits import resolve

GIB = 1024**3
SOURCE = {"add.py": (GOLDEN / "add" / "all_pass.py").read_bytes()}


@pytest.fixture
def fresh_pool() -> Iterator[LearnerPool]:
    """A pool as a worker starts one: base limits only, judges for the fixture content root."""
    with LearnerPool(size=1, runtimes=("python",), content_root=FIXTURES) as p:
        yield p


def idle_count(pool: LearnerPool) -> int:
    with pool._lock:
        return sum(len(entries) for entries in pool._procs.values())


def test_a_prewarmed_shape_serves_the_first_submission_of_its_module_warm(add_module, fresh_pool):
    kept = fresh_pool.prewarm([("python", {**ADD_LIMITS, "call_seconds": 5, "gpu": False})])
    assert [(rt, lim.memory_bytes) for rt, lim in kept] == [("python", ADD_LIMITS["memory_bytes"])]
    assert fresh_pool.wait_ready(60)
    result = run(add_module, SOURCE, pool=fresh_pool)[-1]["result"]
    assert result["status"] == "pass", result["message"]
    assert (fresh_pool.hits, fresh_pool.misses) == (2, 0)  # learner host and judge both taken warm


def test_without_prewarm_the_first_submission_of_other_limits_starts_cold(add_module, fresh_pool):
    assert fresh_pool.wait_ready(60)
    result = run(add_module, SOURCE, pool=fresh_pool)[-1]["result"]
    assert result["status"] == "pass", result["message"]
    # The first take (nothing of this shape existed) is always cold. It teaches the pool the shape, and the
    # background refill may have a process of it ready by the second take: so one or two misses, never none.
    assert fresh_pool.hits + fresh_pool.misses == 2 and fresh_pool.misses >= 1


def test_shapes_past_the_cap_are_not_warmed():
    with LearnerPool(size=1, runtimes=("python",), content_root=FIXTURES, max_shapes=2) as p:
        kept = p.prewarm(
            [
                ("python", ADD_LIMITS),
                ("python", {**ADD_LIMITS, "wall_seconds": 90}),  # same shape: the wall clock does not count
                ("torch", {"memory_bytes": 3 * GIB}),  # a runtime this pool does not keep
                ("python", {"no_such_limit": 1}),  # does not resolve: that module's job reports it
                ("python", resolve({"memory_bytes": 3 * GIB})),  # past the cap
            ]
        )
        assert [lim.memory_bytes for _, lim in kept] == [ADD_LIMITS["memory_bytes"]]
        assert [(rt, lim.memory_bytes) for rt, lim in p.shapes()] == [
            ("python", resolve(None).memory_bytes),
            ("python", ADD_LIMITS["memory_bytes"]),
        ]
        assert p.wait_ready(60)
        assert idle_count(p) == 4  # two shapes x (learner host + judge), nothing for the 3 GiB shape
        assert p.take_learner("python", resolve({"memory_bytes": 3 * GIB})) is None
        assert len(p.shapes()) == 2  # a miss past the cap is not learned either


def test_a_pool_without_base_shapes_warms_only_what_it_is_told():
    with LearnerPool(size=1, runtimes=("python",), warm_base=False) as p:
        assert p.shapes() == [] and p.wait_ready(1) and idle_count(p) == 0
        p.prewarm([("python", ADD_LIMITS)])
        assert p.wait_ready(60) and idle_count(p) == 1
        proc = p.take_learner("python", resolve(ADD_LIMITS))
        assert proc is not None and proc.limits.memory_bytes == ADD_LIMITS["memory_bytes"]
        proc.finish(grace=0.0)
    assert p.prewarm([("python", {"memory_bytes": 3 * GIB})]) == []  # a closed pool keeps nothing


def test_a_cap_below_one_shape_is_refused():
    with pytest.raises(ValueError, match="max_shapes"):
        LearnerPool(sandbox=object(), max_shapes=0)
