"""Sandbox start overhead: bare ``python -c pass`` vs the same run through the bwrap backend, side by side.

Run: ``.venv/bin/python bench/bench_sandbox.py [--n 30] [--torch-n 3]``. Prints ``name: value`` lines:
``bare_python_ms_p50``, ``sandbox_python_ms_p50``, ``sandbox_start_overhead_ms_p50`` / ``_p95`` (paired
differences, runs interleaved so machine load hits both alike), ``sandbox_to_bare_ratio_p50``, and the same for
``import torch`` inside vs outside. As root, interleaved in the same loop: ``nocgroups_``, the same without
cgroups, whose v1 attach is the dearest part of the start; ``nowork_``, the same without the capped work mount
(the host dir bound as is), so its cost is the difference to the plain lines. ``_min`` lines (best run each side) show the cost on an idle machine; p50/p95 include
whatever else loads the machine (the load average is printed). Not a test: nothing asserts; the figures go in reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import JobSpec
from sandbox.bwrap import BwrapSandbox
from sandbox.limits import resolve
from sandbox.runtime import python_runtime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    code: str, n: int, sandboxes: dict[str, BwrapSandbox], workdir: Path
) -> tuple[list[float], dict[str, list[float]]]:
    """Interleaved wall times (ms) of bare ``python -c code`` and the same in each sandbox."""
    runtime = python_runtime(Path(sys.prefix))
    spec = JobSpec(
        argv=[runtime.executable, "-c", code],
        mounts=runtime.mounts,
        workdir=workdir,
        env=runtime.env,
        limits=resolve({"wall_seconds": 120, "memory_bytes": 4 << 30}),
    )
    bare_argv = [sys.executable, "-c", code]
    bare: list[float] = []
    boxed: dict[str, list[float]] = {name: [] for name in sandboxes}
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(bare_argv, check=True, env=runtime.env | {"PATH": "/usr/bin:/bin"})
        bare.append((time.perf_counter() - t0) * 1000)
        for name, sandbox in sandboxes.items():
            t0 = time.perf_counter()
            done = sandbox.run(spec)
            boxed[name].append((time.perf_counter() - t0) * 1000)
            if done.outcome != "exited" or done.exit_code != 0:
                raise SystemExit(f"sandboxed run failed: {done.result} {done.stderr[-500:]!r}")
    return bare, boxed


def report(prefix: str, bare: list[float], boxed: list[float]) -> None:
    overhead = [b - a for a, b in zip(bare, boxed)]
    print(f"{prefix}bare_python_ms_p50: {statistics.median(bare):.1f}")
    print(f"{prefix}sandbox_python_ms_p50: {statistics.median(boxed):.1f}")
    print(f"{prefix}sandbox_start_overhead_ms_p50: {statistics.median(overhead):.1f}")
    print(f"{prefix}sandbox_start_overhead_ms_p95: {percentile(overhead, 0.95):.1f}")
    print(f"{prefix}sandbox_start_overhead_ms_min: {min(boxed) - min(bare):.1f}")
    print(f"{prefix}sandbox_to_bare_ratio_p50: {statistics.median(boxed) / statistics.median(bare):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=30, help="runs of `python -c pass` per side")
    parser.add_argument("--torch-n", type=int, default=3, help="runs of `import torch` per side (0 skips)")
    args = parser.parse_args()
    sandbox = BwrapSandbox()
    sandboxes = {"": sandbox}
    if sandbox.use_cgroups:
        sandboxes["nocgroups_"] = BwrapSandbox(use_cgroups=False)
    if sandbox.work_root is not None:
        sandboxes["nowork_"] = BwrapSandbox(cap_work_dir=False)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        measure("pass", 2, sandboxes, workdir)  # warm the page cache for every side
        print(f"runs: {args.n}  cgroups: {sandbox.use_cgroups}  privileged: {sandbox.privileged}")
        print(f"load_average_1m: {os.getloadavg()[0]:.2f}  cpus: {os.cpu_count()}")
        bare, boxed = measure("pass", args.n, sandboxes, workdir)
        for prefix, times in boxed.items():
            report(prefix, bare, times)
        if args.torch_n:
            bare, boxed = measure("import torch", args.torch_n, {"": sandbox}, workdir)
            report("torch_import_", bare, boxed[""])


if __name__ == "__main__":
    main()
