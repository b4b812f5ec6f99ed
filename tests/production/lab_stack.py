"""A production-mode lab on this machine: real PostgreSQL, real Redis, uvicorn (runlab, 2 processes) and Celery worker processes.

Each stack gets its own PostgreSQL database (created, migrated, dropped) and a Redis database index of its own
(``LAB_TEST_REDIS_DB``, default 13, flushed at start). Everything is driven through stable interfaces: the
management commands, HTTP, the websocket, and SQL for the final "exactly one verdict" checks.
Used by tests/production and bench/bench_platform.py.

``own_services=True`` (the fault tests): the stack runs its own ``redis-server`` and its own PostgreSQL cluster
(``initdb``/``pg_ctl``, as the ``postgres`` user, which PostgreSQL requires) on free ports, with their data in a
temporary folder, so that restarting them (``restart_redis``, ``restart_postgres``) hits nobody else: the
machine's PostgreSQL on 5432 and Redis on 6379 are shared by other tests and people.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_admin_user() -> str:
    for user in ("postgres", "root"):
        try:
            psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="test", connect_timeout=3).close()
            return user
        except psycopg.OperationalError:
            continue
    raise RuntimeError("PostgreSQL on 127.0.0.1:5432 accepts neither user postgres nor root")


class OwnRedis:
    """A private ``redis-server`` on a free port, append-only as in ``docker/compose.yaml``; restartable."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # closed with the process
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
            + ["--appendonly", "yes", "--save", "", "--protected-mode", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(
            "redis-server did not start:\n" + (self.dir / "redis.log").read_text(errors="replace")
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis writes its append-only file and exits, as `docker stop` does
            self.proc.wait(timeout=30)
        self.proc = None


class OwnPostgres:
    """A private PostgreSQL cluster on a free port, run by the ``postgres`` user from a folder it owns."""

    def __init__(self) -> None:
        # Not under pytest's tmp dir: /tmp/pytest-of-root is 0700, which the postgres user cannot traverse.
        self.dir = Path(tempfile.mkdtemp(prefix="lab-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")

    def _as_postgres(self, *argv: object) -> None:
        proc = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, argv)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.dir,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed:\n{proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "pg.log", "-o", options, "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class LabStack:
    def __init__(
        self, workdir: Path, *, visibility_timeout_seconds: int = 4, own_services: bool = False
    ) -> None:
        self.workdir = workdir
        self.own_redis = OwnRedis(workdir) if own_services else None
        self.own_pg = OwnPostgres() if own_services else None
        self.pg_port = self.own_pg.port if self.own_pg else PG_PORT
        self.pg_user = "postgres" if self.own_pg else pg_admin_user()
        self.db_name = f"lab_prod_{uuid.uuid4().hex[:10]}"
        self.redis_db = 0 if self.own_redis else int(os.environ.get("LAB_TEST_REDIS_DB", "13"))
        self.redis_port = self.own_redis.port if self.own_redis else 6379
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.manage_timeout = 180.0  # seconds for one manage.py command (a loaded machine needs more)
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("LAB_", "DJANGO_", "DATABASE_", "CELERY_"))
            },
            "LAB_MODE": "production",
            "DATABASE_URL": f"postgres://{self.pg_user}@{PG_HOST}:{self.pg_port}/{self.db_name}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/{self.redis_db}",
            "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LAB_HTTPS": "0",  # plain HTTP on 127.0.0.1: no redirect to https, no HSTS, no secure-only cookies
            "LAB_VAR_DIR": str(workdir / "var"),
            "LAB_CONTENT_DIR": str(REPO_ROOT / "content"),
            "SANDBOX_BACKEND": "bwrap",
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(visibility_timeout_seconds),
            "LAB_SUBMISSIONS_PER_MINUTE": "1000",
            "LAB_WEB_WORKERS": "2",  # the web tier as deployed: uvicorn processes sharing one socket
            "PYTHONUNBUFFERED": "1",
        }

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def setup(self) -> None:
        if self.own_redis and self.own_pg:
            self.own_redis.start()
            self.own_pg.start()
        redis.Redis(host="127.0.0.1", port=self.redis_port, db=self.redis_db).flushdb()
        admin = self._admin()
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.db_name}"')
        admin.close()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("sync_content")
        self.manage("ensure_demo_learner")

    def teardown(self) -> None:
        for proc in [*self.workers, self.web]:
            if proc is not None and proc.poll() is None:
                self.kill(proc, signal.SIGTERM)
        if self.own_redis and self.own_pg:  # the whole cluster goes, database and all
            self.own_redis.stop()
            self.own_pg.remove()
            return
        admin = self._admin()
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        admin.close()

    def _admin(self) -> Any:
        dbname = "postgres" if self.own_pg else "test"
        return psycopg.connect(host=PG_HOST, port=self.pg_port, user=self.pg_user, dbname=dbname)

    # --- faults (own_services only) -------------------------------------------------------------------------------
    def restart_redis(self, down_seconds: float) -> None:
        """Stop the stack's Redis (as ``docker restart`` does: SIGTERM), keep it down ``down_seconds``, start it."""
        assert self.own_redis is not None, "restart_redis needs LabStack(own_services=True)"
        self.own_redis.stop()
        time.sleep(down_seconds)
        self.own_redis.start()

    def restart_postgres(self, down_seconds: float) -> None:
        """Stop the stack's PostgreSQL (fast shutdown: open sessions are cut), keep it down, start it again."""
        assert self.own_pg is not None, "restart_postgres needs LabStack(own_services=True)"
        self.own_pg.stop()
        time.sleep(down_seconds)
        self.own_pg.start()

    def manage(self, *args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.manage_timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def start_web(self, timeout: float = 180.0) -> None:  # a loaded 2-core machine takes over a minute
        log = open(self.workdir / "web.log", "ab")  # closed with the process
        self.web = subprocess.Popen(
            [sys.executable, "manage.py", "runlab", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base_url}/accounts/login/", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a slow first page
                pass
            if self.web.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(
            "web server did not start:\n" + (self.workdir / "web.log").read_text(errors="replace")
        )

    def restart_web(self) -> None:
        """Stop the web tier (SIGTERM to runlab and its uvicorn processes: open sockets are cut) and start it
        again on the same port."""
        if self.web is not None and self.web.poll() is None:
            self.kill(self.web, signal.SIGTERM)
        self.start_web()

    def start_worker(
        self, name: str, queue: str = "short", env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start a Celery worker (solo pool) on ``queue``; ``env``: variables to set for it alone."""
        log_path = self.workdir / f"worker-{name}.log"
        log = open(log_path, "ab")  # closed with the process
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "labplatform",
                "worker",
                "-Q",
                queue,
                "--pool",
                "solo",
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=REPO_ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if "ready." in log_path.read_text(errors="replace"):
                self.workers.append(proc)
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError(f"worker {name} did not start:\n" + log_path.read_text(errors="replace"))

    def idle_deaths(self, name: str) -> list[str]:
        """Lines in worker ``name``'s log where its pool reports a warm process that died while idle (a fault)."""
        log = (self.workdir / f"worker-{name}.log").read_text(errors="replace")
        return [line for line in log.splitlines() if "died while idle" in line]

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the process group (the worker and any sandbox it started)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    # --- clients --------------------------------------------------------------------------------------------------
    def login(self, username: str = "demo", password: str = "nanochat-demo") -> requests.Session:
        session = requests.Session()
        session.get(f"{self.base_url}/accounts/login/", timeout=10)
        response = session.post(
            f"{self.base_url}/accounts/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=10,
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed: {response.status_code}")
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        return session

    def submit(self, session: requests.Session, slug: str, files: dict[str, str]) -> int:
        response = session.post(
            f"{self.base_url}/api/modules/{slug}/submissions/", json={"files": files}, timeout=10
        )
        if response.status_code != 201:
            raise RuntimeError(f"submit failed: {response.status_code} {response.text}")
        return response.json()["id"]

    def wait_for(
        self, session: requests.Session, submission_id: int, status: str, timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = session.get(f"{self.base_url}/api/submissions/{submission_id}/", timeout=10).json()
            if body.get("status") == status:
                return body
            time.sleep(0.2)
        raise TimeoutError(f"submission {submission_id} never reached {status}: {json.dumps(body)[:500]}")

    def sql(self, query: str, *params: Any) -> list[tuple]:
        conn = psycopg.connect(host=PG_HOST, port=self.pg_port, user=self.pg_user, dbname=self.db_name)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        finally:
            conn.close()

    def ws_headers(self, session: requests.Session) -> dict[str, str]:
        return {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": self.base_url}
