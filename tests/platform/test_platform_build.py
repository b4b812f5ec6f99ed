"""The Makefile's install stamps and scripts/timed.sh, the pieces that keep `make test-fast` fast and `make test`
inside its CI budget.

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
    "frontend/scripts/gen-wire.mjs",
    "labplatform/schemas/events.schema.json",
    "grading/engine/result.schema.json",
    "grading/engine/messages.json",
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
    "name",
    [
        "frontend/src/page.ts",
        "frontend/src/styles/main.css",
        "frontend/vite.config.ts",
        "frontend/scripts/gen-wire.mjs",
        "labplatform/schemas/events.schema.json",
        "grading/engine/result.schema.json",
        "grading/engine/messages.json",
    ],
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


def timed(tmp_path: Path, budget: str, *command: str) -> subprocess.CompletedProcess[str]:
    script = Path(__file__).resolve().parents[2] / "scripts" / "timed.sh"
    env = {**os.environ, "TIMES_FILE": str(tmp_path / "times")}
    return subprocess.run(
        [str(script), "area-x", budget, *command], env=env, capture_output=True, text=True, timeout=60
    )


def test_an_area_inside_its_budget_passes_and_records_its_time(tmp_path: Path) -> None:
    proc = timed(tmp_path, "60", "echo", "hello world")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0] == "hello world"
    line = (tmp_path / "times").read_text().splitlines()
    area, took, *rest = line[0].split()
    assert (len(line), area, rest) == (1, "area-x", ["s", "of", "60", "s", "ok"]) and int(took) <= 1
    assert proc.stdout.splitlines()[-1] == f"== {line[0]}"


def test_an_area_past_its_budget_fails(tmp_path: Path) -> None:
    proc = timed(tmp_path, "0", "sleep", "1.2")
    assert proc.returncode == 1 and proc.stdout.rstrip().endswith("OVER BUDGET")
    assert int((tmp_path / "times").read_text().split()[1]) >= 1


def test_a_failing_area_keeps_its_exit_status(tmp_path: Path) -> None:
    proc = timed(tmp_path, "60", "sh", "-c", "exit 3")
    assert proc.returncode == 3 and proc.stdout.rstrip().endswith("FAILED (exit 3)")


def test_a_malformed_budget_is_refused(tmp_path: Path) -> None:
    proc = timed(tmp_path, "ten", "true")
    assert proc.returncode == 2 and "usage:" in proc.stderr and not (tmp_path / "times").exists()


# -- scripts/stop-docker.sh: stops the dockerd that make test started, and nothing else ---------------------------


def stop_docker_tree(tmp_path: Path, pid: int | None) -> Path:
    """A copy of the script in a tree of its own, with ``pid`` as the started dockerd's (None: none started)."""
    (tmp_path / "scripts").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[2] / "scripts" / "stop-docker.sh", tmp_path / "scripts")
    (tmp_path / "var" / "docker").mkdir(parents=True)
    if pid is not None:
        (tmp_path / "var" / "docker" / "dockerd.pid").write_text(f"{pid}\n")
    return tmp_path


def stop_docker(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts" / "stop-docker.sh")], capture_output=True, text=True, timeout=60
    )


def test_stop_docker_stops_the_dockerd_whose_pid_it_was_given(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "dockerd"  # a process whose name is dockerd (a copy of sleep)
    fake.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", fake)
    proc = subprocess.Popen([str(fake), "60"])
    tree = stop_docker_tree(tmp_path / "tree", proc.pid)
    done = stop_docker(tree)
    assert proc.wait(timeout=5) == -15 and f"dockerd ({proc.pid}) stopped" in done.stdout
    assert not (tree / "var" / "docker" / "dockerd.pid").exists()


def test_stop_docker_leaves_a_process_that_is_not_dockerd_alone(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "60"])  # e.g. the pid was reused after our dockerd died
    try:
        tree = stop_docker_tree(tmp_path, proc.pid)
        done = stop_docker(tree)
        assert (done.returncode, proc.poll(), (tree / "var" / "docker" / "dockerd.pid").exists()) == (
            0,
            None,
            False,
        )
    finally:
        proc.kill()
        proc.wait()


def test_stop_docker_without_a_started_engine_does_nothing(tmp_path: Path) -> None:
    done = stop_docker(stop_docker_tree(tmp_path, None))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
