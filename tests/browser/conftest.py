"""Fixtures for the browser tests: the real app under daphne, and headless Debian Chromium through Playwright.

Design choices:
- pytest-django's ``live_server`` is WSGI (no websockets), so ``lab_server`` starts the real thing instead:
  ``manage.py runlab`` (daphne + the embedded grading worker + the bubblewrap sandbox) on a free port, against a
  fresh SQLite database in a temporary ``LAB_VAR_DIR``, after ``migrate`` and ``sync_content``. One server per
  session; every test signs up its own learner, so tests never share state.
- The content folder is a copy of the repository's own ``content/`` (``LAB_BROWSER_CONTENT_SOURCE`` points
  elsewhere, for content under development). Unlocking needs a module whose prerequisite is
  ``01-onboarding``; when the repository has none yet, the fixture adds a copy of module 1 named
  ``02-unlock-fixture`` that depends on it (visible in the dashboard as such), so the unlock path is still tested.
- Chromium is Debian's ``/usr/bin/chromium`` (never ``playwright install``), with the flags from BUILD-NOTES.
- Screenshots go to ``test-artifacts/screenshots/<test name>/`` (the folder is git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.browser.lab import CHROMIUM, CHROMIUM_ARGS, FIRST_MODULE, REPO, LabServer, server_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare_content(target: Path) -> None:
    """Copy content/ and make sure some module unlocks after module 1 (see the module docstring)."""
    source = Path(os.environ.get("LAB_BROWSER_CONTENT_SOURCE", REPO / "content"))
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    dependents = []
    for meta_path in target.glob("*/module.yaml"):
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
        ready = meta.get("status", "ready") == "ready"  # sync_content skips drafts
        if ready and FIRST_MODULE in (meta.get("prerequisites") or []):
            dependents.append(meta_path.parent.name)
    if dependents:
        return
    fixture = target / "02-unlock-fixture"
    shutil.copytree(target / FIRST_MODULE, fixture)
    text = (fixture / "module.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^slug: .*$", "slug: 02-unlock-fixture", text)
    text = re.sub(r"(?m)^order: .*$", "order: 2", text)
    text = re.sub(r"(?m)^prerequisites: .*$", f"prerequisites: [{FIRST_MODULE}]", text)
    text = re.sub(r"(?m)^title: .*$", 'title: {en: "Unlock fixture", zh: "解锁测试模块"}', text)
    text = re.sub(r"(?m)^status: .*$", "status: ready", text)
    (fixture / "module.yaml").write_text(text, encoding="utf-8")


def _die_with_parent() -> None:
    """Runs in the server child: SIGTERM it when pytest dies, even by SIGKILL/SIGPIPE (no teardown then)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _manage(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    manifest = REPO / "frontend" / "dist" / ".vite" / "manifest.json"
    if not manifest.is_file():
        pytest.fail(f"{manifest} is missing: build the frontend first (make frontend)")
    root = tmp_path_factory.mktemp("lab")
    var_dir, content_dir = root / "var", root / "content"
    var_dir.mkdir()
    _prepare_content(content_dir)
    env = server_env(var_dir, content_dir)
    _manage(["migrate", "--noinput"], env)
    _manage(["sync_content"], env)
    port = _free_port()
    log_path = var_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runlab", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # single-threaded here; the server must not outlive us
        )
    server = LabServer(f"http://127.0.0.1:{port}", var_dir, content_dir, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"runlab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"runlab did not listen on {port} within 60 s:\n{server.log_tail()}")
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make system)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/screenshots/<test name>/``, emptied first."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder = REPO / "test-artifacts" / "screenshots" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
