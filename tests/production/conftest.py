"""Production-path fixtures: a lab stack on the real PostgreSQL and Redis with daphne and Celery processes."""

from __future__ import annotations

import pytest
from lab_stack import LabStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    lab = LabStack(tmp_path_factory.mktemp("lab-stack"))
    lab.setup()
    try:
        lab.start_web()
        yield lab
    finally:
        lab.teardown()
