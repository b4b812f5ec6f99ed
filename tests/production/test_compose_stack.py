"""The compose stack, built and run on this machine: docker/compose.yaml brought up by `scripts/stack.sh up`.

One learner signs up through the stack's web port, submits module 1's reference, and the verdict streams back
over the websocket; the stack's own PostgreSQL then holds exactly one verdict row for it. The stack is a project
of its own (name, port, secrets, jobs folder, volumes), torn down with its volumes at the end. It builds the
images that are missing (scripts/stack-images.sh; cached by content hash). Skipped, with the reason, only where
no Docker engine answers (scripts/ensure-docker.sh writes why it could not start one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lab_stack import REPO_ROOT, free_port
from websockets.sync.client import connect

from sandbox import SandboxError
from sandbox.docker import connect as docker_connect

pytestmark = [pytest.mark.production, pytest.mark.docker, pytest.mark.slow]

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")
STACK = str(REPO_ROOT / "scripts" / "stack.sh")


def engine_missing() -> str:
    """Why no Docker engine answers ("" when one does)."""
    try:
        docker_connect().close()
    except SandboxError as exc:
        why = REPO_ROOT / "var" / "docker" / "no-engine.txt"
        return f"{exc}; {why.read_text().strip() if why.exists() else 'make sandbox-image starts one where it can'}"
    return ""


class ComposeStack:
    def __init__(self, workdir: Path) -> None:
        self.project = f"labsmoke{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.jobs = workdir / "jobs"
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            "LAB_HTTP_PORT": str(self.port),
            "LAB_HOSTNAME": "127.0.0.1",
            "LAB_HTTPS": "0",
            "LAB_SECRETS_DIR": str(workdir / "secrets"),
            "LAB_JOBS_DIR": str(self.jobs),
            # two small cores: one short-lane process warming the python runtime only (module 1's)
            "LAB_SHORT_CONCURRENCY": "1",
            "GRADING_POOL_RUNTIMES": "python",
        }

    def run(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            ["bash", STACK, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"stack.sh {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc.stdout

    def sql(self, query: str) -> str:
        return self.run("exec", "-T", "postgres", "psql", "-U", "lab", "-d", "lab", "-tAc", query).strip()

    def signup(self, username: str, password: str) -> requests.Session:
        session = requests.Session()
        session.get(f"{self.base_url}/accounts/signup/", timeout=10).raise_for_status()
        response = session.post(
            f"{self.base_url}/accounts/signup/",
            data={
                "username": username,
                "password1": password,
                "password2": password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=10,
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text[-2000:]
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        return session


@pytest.fixture(scope="module")
def compose_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    if why := engine_missing():
        pytest.skip(f"no Docker engine: {why}")
    stack = ComposeStack(tmp_path_factory.mktemp("compose-stack"))
    try:
        # the long lane's worker is not needed for module 1 (its pool would warm torch on two busy cores)
        stack.run("up", "--scale", "worker-long=0", timeout=1500)
        yield stack
    finally:
        try:
            stack.run("down", "-v", "--remove-orphans", "--timeout", "20", timeout=180)
        finally:
            shutil.rmtree(stack.jobs, ignore_errors=True)


def test_a_learner_signs_up_submits_and_gets_the_streamed_verdict_through_the_stack(compose_stack):
    stack = compose_stack
    session = stack.signup(f"smoke{uuid.uuid4().hex[:6]}", "a-long-smoke-password-42")
    assert session.get(f"{stack.base_url}/", timeout=10).status_code == 200
    with connect(
        f"ws://127.0.0.1:{stack.port}/ws/grading/",
        additional_headers={"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": stack.base_url},
        open_timeout=10,
    ) as socket:
        response = session.post(
            f"{stack.base_url}/api/modules/{SLUG}/submissions/",
            json={"files": {"hello.py": REFERENCE}},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        submission_id = response.json()["id"]
        events = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            frame = json.loads(socket.recv(timeout=300))
            assert frame["submission_id"] == submission_id
            if frame["type"] == "grading.event":
                events.append(frame["event"])
                if frame["event"]["type"] == "verdict":
                    break
    assert events and events[0]["type"] == "phase"
    assert events[-1]["type"] == "verdict", events[-3:]
    assert events[-1]["result"]["status"] == "pass", events[-1]["result"]["message"]
    assert stack.sql(f"SELECT count(*) FROM grading_result WHERE submission_id = {int(submission_id)}") == "1"
    # the job ran in sandbox containers, whose CPU time the worker read from the host's cgroups
    assert events[-1]["result"]["usage"]["cpu_seconds"] > 0, events[-1]["result"]["usage"]
    worker_log = stack.run("logs", "--no-color", "worker")
    assert re.search(r"Task grading\.grade_lane\[[^]]+\] succeeded", worker_log), worker_log[-3000:]
