"""Shared constants and the server handle of the browser tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
FIRST_MODULE = "01-onboarding"


@dataclass
class LabServer:
    base_url: str
    var_dir: Path
    content_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def server_env(var_dir: Path, content_dir: Path) -> dict[str, str]:
    """The environment of the browser tests' server and of ``manage.py`` commands run beside it.

    Assemble runs at toy sizes (``LAB_ASSEMBLE_PROFILE=smoke``), so a browser walk trains a model in seconds; a
    reply may take up to the cap (a loaded CI machine is slow to start torch twice side by side)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LAB_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "labplatform.settings",
            "LAB_VAR_DIR": str(var_dir),
            "LAB_CONTENT_DIR": str(content_dir),
            "LAB_MODE": "embedded",
            "LAB_ASSEMBLE_PROFILE": "smoke",
            "LAB_ASSEMBLE_REPLY_SECONDS": "300",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # figures built once (make figures, LAB_FIGURES_DIR=var/figures): sync_content then need not rebuild them
    if os.environ.get("LAB_FIGURES_DIR"):
        env["LAB_FIGURES_DIR"] = os.environ["LAB_FIGURES_DIR"]
    return env


def manage_shell(server: LabServer, code: str) -> str:
    """Run Python in ``manage.py shell`` against the server's database (seeding through the real services)."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=server_env(server.var_dir, server.content_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py shell failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def dependent_module(server: LabServer) -> str:
    """A module (of the server's content) that unlocks after module 1."""
    import yaml

    for meta_path in sorted(server.content_dir.glob("*/module.yaml")):
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
        if meta.get("status", "ready") == "ready" and FIRST_MODULE in (meta.get("prerequisites") or []):
            return str(meta["slug"])
    raise AssertionError("no module depends on module 1")


def signup(page: Any, server: LabServer, lang: str, username: str) -> None:
    page.goto(f"{server.base_url}/accounts/signup/")
    if lang != "en":
        page.click(f"[data-testid=lang-switch] button[value='{lang}']")
        page.wait_for_selector(f"html[lang='{lang}']")
    page.fill("#id_username", username)
    page.fill("#id_password1", "walk-the-lab-42")
    page.fill("#id_password2", "walk-the-lab-42")
    page.click("[data-testid=signup-submit]")
    page.wait_for_url(f"{server.base_url}/")


def set_editor_text(page: Any, text: str, *, slug: str = FIRST_MODULE, path: str = "hello.py") -> None:
    """Replace the whole buffer the way a learner pasting would: focus, select all, paste; wait for the save.

    (Typing a whole file key by key would go through Monaco's auto-indent; a paste keeps the text as is.)
    The server draft is the proof the paste landed; a paste that raced the editor's focus is repeated.
    """
    for _ in range(3):
        page.click(".monaco-editor .view-lines")
        page.wait_for_function("() => document.activeElement?.closest('.monaco-editor') != null")
        page.keyboard.press("Control+A")
        page.evaluate(
            """(text) => {
                const data = new DataTransfer();
                data.setData("text/plain", text);
                const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
                document.activeElement.dispatchEvent(event);
            }""",
            text,
        )
        wait_saved(page)
        if server_draft(page, slug).get(path) == text:
            return
    raise AssertionError(f"the editor did not take the pasted text for {path}")


def wait_saved(page: Any) -> None:
    page.wait_for_selector("[data-testid=save-state][data-state=saved]", timeout=15_000)


def server_draft(page: Any, slug: str) -> dict[str, str]:
    body = page.evaluate(
        "async (slug) => (await fetch(`/api/modules/${slug}/draft/`, {credentials: 'same-origin'})).text()",
        slug,
    )
    return json.loads(body)["files"]


def api_modules(page: Any) -> list[dict[str, Any]]:
    body = page.evaluate("async () => (await fetch('/api/modules/', {credentials: 'same-origin'})).text()")
    modules: list[dict[str, Any]] = json.loads(body)["modules"]
    return modules


def pass_first_module(page: Any, timeout_s: float = 90) -> None:
    """Submit the reference solution through the API the editor uses; wait until the server says passed."""
    reference = (REPO / "content" / FIRST_MODULE / "reference" / "hello.py").read_text(encoding="utf-8")
    status = page.evaluate(
        """async ([slug, text]) => {
            const token = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || '');
            const res = await fetch(`/api/modules/${slug}/submissions/`, {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                body: JSON.stringify({files: {'hello.py': text}}),
            });
            return res.status;
        }""",
        [FIRST_MODULE, reference],
    )
    assert status in (200, 201, 202), status
    deadline = time.monotonic() + timeout_s
    while True:
        state = next(m["state"] for m in api_modules(page) if m["slug"] == FIRST_MODULE)
        if state in ("passed", "completed"):
            return
        assert time.monotonic() < deadline, f"{FIRST_MODULE} is still {state} after {timeout_s} s"
        time.sleep(0.5)


def reflect_first_module(page: Any) -> None:
    """Submit module 1's reflection through the API the page uses (every question answered: a choice question
    with its first choice), so a passed module 1 is completed and its dependants open."""
    import yaml

    doc = (
        yaml.safe_load((REPO / "content" / FIRST_MODULE / "reflection.yaml").read_text(encoding="utf-8"))
        or {}
    )
    answers = {
        q["id"]: (q["choices"][0]["id"] if q.get("kind") == "choice" else "What I learned, in my own words.")
        for q in doc.get("questions") or []
    }
    status = page.evaluate(
        """async ([slug, answers]) => {
            const token = decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || '');
            const res = await fetch(`/api/modules/${slug}/reflection/`, {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                body: JSON.stringify({answers}),
            });
            return res.status;
        }""",
        [FIRST_MODULE, answers],
    )
    assert status == 200, status
