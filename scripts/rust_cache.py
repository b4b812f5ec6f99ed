"""Build the Rust dependency cache learner sandboxes start from: ``python -m scripts.rust_cache``.

The reference crate compiled in the learner sandbox layout (``grading.engine.procs.build_rust_cache``), kept in
``var/rust-cache/target.tar``; `make rustbpe` runs it. Without it a learner's Rust build compiles the dependencies too.
"""

from __future__ import annotations

import argparse
import time

from grading.engine.procs import build_rust_cache
from sandbox.base import get_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crate", default="rustbpe", help="the crate folder at the repository root")
    args = parser.parse_args()
    start = time.monotonic()
    out = build_rust_cache(get_backend(), args.crate)
    print(f"rust cache: {out} ({time.monotonic() - start:.1f} s)")


if __name__ == "__main__":
    main()
