"""Shared test configuration.

Each area keeps its fixtures in its own sub-folder's conftest.py (tests/sandbox, tests/engine,
tests/nanochat_ref, tests/platform, tests/browser, tests/production, tests/content); this root file holds only
what all of them share.
"""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root folder."""
    return REPO_ROOT
