"""Fixtures for the content tests: the four JSON Schemas and every parsed module.yaml.

Design choice: content is data, so these tests read it exactly as the platform will (YAML + JSON Schema) and
never import anything from content/ as code.
"""

from __future__ import annotations

import json

import pytest
from content_helpers import SCHEMA_DIR, load_yaml, module_dirs


@pytest.fixture(scope="session")
def schemas() -> dict[str, dict]:
    return {
        name: json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
        for name in ("module", "hints", "reflection", "feedback", "references")
    }


@pytest.fixture(scope="session")
def modules() -> dict[str, dict]:
    """slug -> parsed module.yaml, for every module folder."""
    return {d.name: load_yaml(d / "module.yaml") for d in module_dirs()}
