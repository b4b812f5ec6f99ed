"""Shared helpers for the content tests: where content lives, the expected module list, YAML loading.

Design choice: content is data, so these tests read it exactly as the platform will (YAML + JSON Schema) and
never import anything from content/ as code.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTENT_DIR = REPO_ROOT / "content"
SCHEMA_DIR = CONTENT_DIR / "schema"

EXPECTED_SLUGS = [
    "01-onboarding",
    "02-tokenizer",
    "03-dataset",
    "04-dataloader",
    "05-gpt",
    "06-optimizers",
    "07-base-training",
    "08-midtraining",
    "09-sft",
    "10-rl",
    "11-engine",
    "12-tool-use",
    "13-eval",
    "14-chat-web",
    "15-report",
    "16-capstone",
]


def module_dirs() -> list[Path]:
    """Every content/NN-slug folder (schema/ and other non-module folders excluded)."""
    return sorted(p for p in CONTENT_DIR.iterdir() if p.is_dir() and p.name[:2].isdigit())


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
