"""README command 1's last step: ``manage.py runlab`` serves pages, API and websocket, and grades in-process."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from platform_helpers import FIXTURE_CONTENT, GOOD_HELLO
from websockets.sync.client import connect

pytestmark = pytest.mark.slow
HASHED_JS = "export const hashed = true;\n" * 100


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def embedded_lab(tmp_path_factory, repo_root):
    tmp_path = tmp_path_factory.mktemp("embedded-lab")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "DATABASE_"))}
    dist = tmp_path / "dist" / "assets"
    dist.mkdir(parents=True)
    (dist / "probe.js").write_text("console.log('served');\n")
    (dist / "app-Ab12Cd34.js").write_text(HASHED_JS)
    (dist / "app-Ab12Cd34.js.gz").write_bytes(gzip.compress(HASHED_JS.encode()))
    env.update(
        {
            "LAB_VAR_DIR": str(tmp_path),
            "LAB_CONTENT_DIR": str(FIXTURE_CONTENT),
            "SANDBOX_BACKEND": "bwrap",
            "LAB_FRONTEND_DIST_DIR": str(tmp_path / "dist"),
        }
    )

    def manage(*args):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=repo_root, env=env, check=True, capture_output=True
        )

    manage("migrate", "--noinput", "-v0")
    manage("sync_content")
    manage("ensure_demo_learner")
    port = free_port()
    log = open(tmp_path / "runlab.log", "wb")  # closed below
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runlab", "--host", "127.0.0.1", "--port", str(port)],
        cwd=repo_root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{base}/accounts/login/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def test_runlab_serves_the_frontend_build_under_static(embedded_lab):
    response = requests.get(f"{embedded_lab}/static/assets/probe.js", timeout=5)
    assert response.status_code == 200
    assert response.text == "console.log('served');\n"
    assert response.headers["Cache-Control"] == "no-cache"


def test_runlab_sends_hashed_assets_precompressed_and_immutable(embedded_lab):
    response = requests.get(
        f"{embedded_lab}/static/assets/app-Ab12Cd34.js", headers={"Accept-Encoding": "gzip"}, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert int(response.headers["Content-Length"]) < len(HASHED_JS) // 10
    assert response.text == HASHED_JS  # requests undid the gzip: the variant is the asset


def test_runlab_grades_a_submission_and_streams_it_over_the_websocket(embedded_lab):
    session = requests.Session()
    session.get(f"{embedded_lab}/accounts/login/", timeout=5)
    login = session.post(
        f"{embedded_lab}/accounts/login/",
        data={
            "username": "demo",
            "password": "nanochat-demo",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=5,
    )
    assert login.status_code == 302
    assert session.get(f"{embedded_lab}/", timeout=5).status_code == 200
    headers = {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": embedded_lab}
    ws_url = embedded_lab.replace("http://", "ws://") + "/ws/grading/"
    with connect(ws_url, additional_headers=headers, open_timeout=10) as socket:
        response = session.post(
            f"{embedded_lab}/api/modules/01-hello/submissions/",
            json={"files": {"hello.py": GOOD_HELLO}},
            headers={"X-CSRFToken": session.cookies["csrftoken"]},
            timeout=5,
        )
        assert response.status_code == 201
        events = []
        while not events or events[-1]["type"] != "verdict":
            frame = json.loads(socket.recv(timeout=90))
            assert frame["submission_id"] == response.json()["id"]
            if frame["type"] == "grading.event":  # grading.queue frames say where it waits meanwhile
                events.append(frame["event"])
    assert events[0]["type"] == "phase"
    assert events[-1]["result"]["status"] == "pass", events[-1]["result"]["message"]
