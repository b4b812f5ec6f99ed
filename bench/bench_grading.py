"""Grading latency and throughput, measured side by side in one run (not a test).

Prints ``name: value`` lines:
- ``<fixture>_cold_p50_s`` / ``_p95_s``: verdict latency with no pool (both sandboxes start per job);
- ``<fixture>_warm_p50_s`` / ``_p95_s``: verdict latency with a warm :class:`LearnerPool` (learner + judge
  pre-started and ready before each job), and ``<fixture>_cold_over_warm`` (the ratio);
- ``<fixture>_first_event_p50_s``: time to the first event; ``_first_test_event_p50_s``: to the first
  ``test_finished`` (warm);
- ``python_throughput_2_jobs_per_s``: pure-Python verdicts per second with two concurrent jobs (pool size 2).

Fixtures: tests/engine/fixtures/add (pure Python) and tests/engine/fixtures/tiny_torch (torch), graded with
their all-pass golden submissions.  Targets: warm p50 <= 1.0 s (python), <= 2.5 s (torch); first event <= 0.3 s.

Usage: ``.venv/bin/python bench/bench_grading.py [--runs N] [--torch-runs N] [--skip-torch]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grading.engine.pool import LearnerPool  # noqa: E402
from grading.engine.runner import grade  # noqa: E402

FIXTURES = REPO / "tests" / "engine" / "fixtures"
GOLDEN = REPO / "tests" / "engine" / "golden"
CASES = {
    "python": (
        FIXTURES / "add",
        {"add.py": (GOLDEN / "add" / "all_pass.py").read_bytes()},
        {"wall_seconds": 20, "memory_bytes": 536870912},
    ),
    "torch": (
        FIXTURES / "tiny_torch",
        {"nanochat/tinymlp.py": (GOLDEN / "tiny_torch" / "all_pass.py").read_bytes()},
        {"wall_seconds": 60},
    ),
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def one(module: Path, files: dict[str, bytes], pool: LearnerPool | None) -> tuple[float, float, float]:
    """(verdict seconds, first event seconds, first test_finished seconds) for one job."""
    t0 = time.monotonic()
    first = first_test = None
    result = None
    for event in grade(module, files, pool=pool):
        now = time.monotonic() - t0
        first = now if first is None else first
        if event["type"] == "test_finished" and first_test is None:
            first_test = now
        if event["type"] == "verdict":
            result = event["result"]
    total = time.monotonic() - t0
    if result is None or result["status"] != "pass":
        raise SystemExit(f"benchmark job did not pass: {result and result['message']}")
    return total, first or total, first_test or total


def measure(name: str, runs: int) -> None:
    module, files, limits = CASES[name]
    cold = [one(module, files, None)[0] for _ in range(max(1, runs // 2))]
    warm: list[tuple[float, float, float]] = []
    with LearnerPool(size=1, runtimes=(name,), limits=limits, content_root=FIXTURES) as pool:
        for _ in range(runs):
            pool.wait_ready(120)
            warm.append(one(module, files, pool))
    warm_total = [w[0] for w in warm]
    print(f"{name}_cold_p50_s: {statistics.median(cold):.3f}")
    print(f"{name}_cold_p95_s: {pct(cold, 0.95):.3f}")
    print(f"{name}_warm_p50_s: {statistics.median(warm_total):.3f}")
    print(f"{name}_warm_p95_s: {pct(warm_total, 0.95):.3f}")
    print(f"{name}_cold_over_warm: {statistics.median(cold) / statistics.median(warm_total):.2f}")
    print(f"{name}_first_event_p50_s: {statistics.median(w[1] for w in warm):.4f}")
    print(f"{name}_first_test_event_p50_s: {statistics.median(w[2] for w in warm):.3f}")
    sys.stdout.flush()


def throughput(jobs_per_worker: int) -> None:
    module, files, limits = CASES["python"]
    with LearnerPool(size=2, runtimes=("python",), limits=limits, content_root=FIXTURES) as pool:
        pool.wait_ready(60)
        done: list[float] = []

        def worker() -> None:
            for _ in range(jobs_per_worker):
                done.append(one(module, files, pool)[0])

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    print(f"python_throughput_2_jobs_per_s: {len(done) / elapsed:.2f}")
    print(f"python_concurrent_p50_s: {statistics.median(done):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description="grading engine latency/throughput benchmark")
    parser.add_argument("--runs", type=int, default=10, help="warm runs per fixture (cold runs: half)")
    parser.add_argument("--torch-runs", type=int, default=4, help="warm runs for the torch fixture")
    parser.add_argument("--skip-torch", action="store_true", help="only the pure-Python fixture")
    parser.add_argument("--throughput-jobs", type=int, default=5, help="jobs per worker in the 2-job run")
    args = parser.parse_args()
    measure("python", args.runs)
    if not args.skip_torch:
        measure("torch", args.torch_runs)
    throughput(args.throughput_jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
