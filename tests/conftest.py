"""Shared test configuration.

Each area keeps its fixtures in its own sub-folder's conftest.py (tests/sandbox, tests/engine,
tests/nanochat_ref, tests/platform, tests/browser, tests/production, tests/content); this root file holds only
what all of them share.
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# One OpenMP/BLAS thread per test process (and the programs tests start), set before anything imports torch:
# test processes (several with pytest-xdist) share two cores, and OpenMP's spin-waiting threads burn the cores
# that the other processes wait for (a shipped-model test: 50 s with two threads vs 11 s with one, on a loaded
# machine). Export the variable to choose otherwise.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

# Property tests check what code computes, never how fast: hypothesis's default 200 ms per example failed a
# protocol round trip that took 313 ms on a loaded machine (0.4 ms when rerun).
settings.register_profile("lab", deadline=None)
settings.load_profile("lab")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root folder."""
    return REPO_ROOT
