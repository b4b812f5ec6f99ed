"""The Makefile's install stamps: an edit reinstalls only what it feeds, so `make test-fast` starts in seconds.

The stamp tests run the real Makefile (`make -n`, which prints what would run without running it) in a scratch
tree holding only the inputs its rules name, every stamp already up to date (`make -t`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

INPUTS = [
    "requirements.txt",
    "rustbpe/src/lib.rs",
    "rustbpe/Cargo.toml",
    "rustbpe/Cargo.lock",
    "rustbpe/pyproject.toml",
    "frontend/package.json",
    "frontend/package-lock.json",
    "frontend/vite.config.ts",
    "frontend/tsconfig.json",
    "frontend/src/page.ts",
    "frontend/src/styles/main.css",
    "frontend/README.md",
]
PIP, MATURIN, NPM_CI, VITE = (
    "pip install -q -r requirements.txt",
    "maturin develop",
    "npm ci",
    "npm run build",
)


@pytest.fixture
def tree(repo_root: Path, tmp_path: Path) -> Path:
    """A scratch tree with the Makefile and empty inputs, every stamp up to date."""
    shutil.copy(repo_root / "Makefile", tmp_path / "Makefile")
    for name in INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    (tmp_path / ".stamps").mkdir()
    make(tmp_path, "-t", "python", "rustbpe", "frontend")
    return tmp_path


def make(tree: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    proc = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=tree, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def edit(tree: Path, name: str) -> None:
    """Make ``name`` newer than every stamp."""
    later = time.time() + 5
    os.utime(tree / name, (later, later))


def planned(tree: Path) -> set[str]:
    """Which installers `make install` would run."""
    out = make(tree, "-n", "python", "rustbpe", "frontend")
    return {step for step in (PIP, MATURIN, NPM_CI, VITE) if step in out}


def test_nothing_is_reinstalled_when_no_input_changed(tree: Path) -> None:
    assert planned(tree) == set()


def test_a_makefile_edit_reinstalls_nothing(tree: Path) -> None:
    edit(tree, "Makefile")
    assert planned(tree) == set()


@pytest.mark.parametrize(
    "name", ["frontend/src/page.ts", "frontend/src/styles/main.css", "frontend/vite.config.ts"]
)
def test_a_frontend_source_edit_rebuilds_with_vite_without_npm_ci(tree: Path, name: str) -> None:
    edit(tree, name)
    assert planned(tree) == {VITE}


def test_a_frontend_readme_edit_builds_nothing(tree: Path) -> None:
    edit(tree, "frontend/README.md")
    assert planned(tree) == set()


@pytest.mark.parametrize("name", ["frontend/package.json", "frontend/package-lock.json"])
def test_a_dependency_change_reinstalls_the_frontend_and_rebuilds_it(tree: Path, name: str) -> None:
    edit(tree, name)
    assert planned(tree) == {NPM_CI, VITE}


@pytest.mark.parametrize(
    "name", ["rustbpe/src/lib.rs", "rustbpe/Cargo.toml", "rustbpe/Cargo.lock", "rustbpe/pyproject.toml"]
)
def test_a_crate_change_rebuilds_rustbpe_only(tree: Path, name: str) -> None:
    edit(tree, name)
    assert planned(tree) == {MATURIN}


def test_a_requirements_change_reinstalls_the_python_pins_but_not_rustbpe(tree: Path) -> None:
    edit(tree, "requirements.txt")
    assert planned(tree) == {PIP}


def test_the_system_stamp_installs_nothing_while_the_package_list_is_unchanged(tree: Path) -> None:
    packages = make(tree, "-s", "--eval", "print-apt: ; @echo $(strip $(APT_PACKAGES))", "print-apt")
    assert "bubblewrap" in packages.split()
    stamp = tree / ".stamps" / "system"
    stamp.write_text(packages)
    os.utime(stamp, (1_000_000, 1_000_000))
    edit(tree, "Makefile")
    assert make(tree, "system") == ""
    assert stamp.stat().st_mtime == 1_000_000  # so nothing built on the system packages is rebuilt
