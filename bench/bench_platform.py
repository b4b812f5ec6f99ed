"""Platform benchmark (not a test): page latency under concurrency, and submit -> first event -> verdict.

Starts the lab as ``make run`` does (embedded mode: ``runlab`` = daphne + in-process grading worker, SQLite in a
temporary var dir, the real ``content/``), logs in as the demo learner, then measures side by side in one run:
- dashboard (``/``) and module page (``/modules/<slug>/``) latency with 1 client and with 50 concurrent clients
  (threads, each with its own keep-alive session), p50/p95 in milliseconds, and the 50-vs-1 p50 ratio;
- the full grading path over HTTP + websocket: submit the reference solution of the first module, time to the
  first streamed engine event and to the verdict (median of ``--rounds``), and where that time goes (``timeline``:
  request, row committed, worker pickup, engine start, first event, engine end, verdict committed, delivered);
- the engine's own warm verdict for the same module and files, in this process (``grade`` with a warm
  ``LearnerPool`` of the module's runtime and limits, as the lab's worker keeps), and the ratio of the HTTP verdict
  to it (target <= 1.3: the web, queue and socket add little to the engine's time).
Prints ``name: value`` lines and the 1-minute load average. Usage:
``.venv/bin/python bench/bench_platform.py [--clients 50] [--requests 10] [--module 01-onboarding]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml
from websockets.sync.client import connect

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class EmbeddedLab:
    def __init__(self, var_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "DATABASE_"))}
        self.env.update({"LAB_VAR_DIR": str(var_dir), "LAB_SUBMISSIONS_PER_MINUTE": "1000"})
        if (REPO_ROOT / "var" / "figures").is_dir():  # `make figures`; else sync_content redraws them
            self.env["LAB_FIGURES_DIR"] = str(REPO_ROOT / "var" / "figures")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = var_dir / "runlab.log"
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=self.env, check=True, capture_output=True
        )

    def start(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("sync_content")
        self.manage("ensure_demo_learner")
        log = open(self.log_path, "wb")  # lives as long as the server
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runlab", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(300):
            try:
                requests.get(f"{self.base}/accounts/login/", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a slow first page
                time.sleep(0.2)
        raise RuntimeError("runlab did not start: " + self.log_path.read_text(errors="replace"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)

    def login(self) -> requests.Session:
        session = requests.Session()
        session.get(f"{self.base}/accounts/login/", timeout=10)
        response = session.post(
            f"{self.base}/accounts/login/",
            data={
                "username": "demo",
                "password": "nanochat-demo",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=10,
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed: {response.status_code}")
        session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
        return session


def page_latencies(
    lab: EmbeddedLab, cookies: dict[str, str], path: str, clients: int, per_client: int
) -> list[float]:
    def client(_: int) -> list[float]:
        session = requests.Session()
        session.cookies.update(cookies)
        timings = []
        for _ in range(per_client):
            started = time.perf_counter()
            response = session.get(f"{lab.base}{path}", timeout=60)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return timings

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return [t for timings in pool.map(client, range(clients)) for t in timings]


def _iso(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def timeline(
    body: dict[str, Any], *, sent: float, answered: float | None, first: float | None, verdict: float | None
) -> dict[str, float]:
    """Milliseconds between the marks of one submission's way, in order: the client's clock (``sent``, the 201
    ``answered``, the ``first`` engine event and the ``verdict`` frames received; ``time.time()``) and the
    server's, from ``GET /api/submissions/<id>/`` (``body``): the row created (just before its commit and the
    enqueue on commit), the worker's pickup (the claim), the engine's start (its runner, which takes a warm
    sandbox or starts one) and end, and the verdict committed. Same machine, same clock."""
    stamps = (body.get("result") or {}).get("timestamps") or {}
    marks = [
        ("request", sent),
        ("row_created", _iso(body.get("created_at"))),
        ("answered_201", answered),
        ("worker_pickup", _iso(body.get("started_at"))),
        ("engine_start", _iso(stamps.get("started"))),
        ("first_event_delivered", first),
        ("engine_end", _iso(stamps.get("finished"))),
        ("verdict_committed", _iso(body.get("finished_at"))),
        ("verdict_delivered", verdict),
    ]
    spans: dict[str, float] = {}
    previous = marks[0]
    for name, value in marks[1:]:
        if value is not None and previous[1] is not None:
            spans[f"{previous[0]}->{name}"] = (value - previous[1]) * 1000
        previous = (name, value) if value is not None else previous
    return spans


def grading_round(
    lab: EmbeddedLab, session: requests.Session, slug: str, files: dict[str, str]
) -> tuple[float, float, dict[str, float]]:
    """Submit over HTTP and follow the websocket to the verdict: (ms to the first event, ms to the verdict, the
    submission's ``timeline``)."""
    headers = {"Cookie": f"sessionid={session.cookies['sessionid']}", "Origin": lab.base}
    with connect(lab.base.replace("http://", "ws://") + "/ws/grading/", additional_headers=headers) as ws:
        sent = time.time()
        response = session.post(
            f"{lab.base}/api/modules/{slug}/submissions/", json={"files": files}, timeout=10
        )
        answered = time.time()
        if response.status_code != 201:
            raise RuntimeError(f"submit: HTTP {response.status_code} {response.text}")
        first = None
        while True:
            frame = json.loads(ws.recv(timeout=300))
            if frame["type"] != "grading.event":  # grading.queue: where the run waits
                continue
            now = time.time()
            first = first if first is not None else now
            if frame["event"]["type"] == "verdict":
                if frame["event"]["result"]["status"] != "pass":
                    result = frame["event"]["result"]
                    tests = [
                        (t.get("name"), t.get("status"), t.get("message")) for t in result.get("tests", [])
                    ]
                    raise RuntimeError(
                        f"reference solution did not pass: {result.get('outcome')}: {result['message']} "
                        f"{tests[:2]}"
                    )
                body = session.get(f"{lab.base}/api/submissions/{response.json()['id']}/", timeout=30).json()
                spans = timeline(body, sent=sent, answered=answered, first=first, verdict=now)
                return (first - sent) * 1000, (now - sent) * 1000, spans


def engine_warm_verdicts(slug: str, files: dict[str, str], rounds: int) -> list[float]:
    """Milliseconds from ``grade`` to its verdict with a warm pool of the module's shape, ``rounds`` times."""
    from grading.engine.pool import LearnerPool
    from grading.engine.runner import grade

    meta = yaml.safe_load((REPO_ROOT / "content" / slug / "module.yaml").read_text(encoding="utf-8"))
    data = {path: text.encode("utf-8") for path, text in files.items()}
    timings = []
    with LearnerPool(
        size=1, runtimes=(meta["runtime"],), limits=meta.get("limits"), content_root=REPO_ROOT / "content"
    ) as pool:
        for _ in range(rounds):
            pool.wait_ready(120)
            started = time.perf_counter()
            verdict = None
            for event in grade(REPO_ROOT / "content" / slug, data, pool=pool):
                if event["type"] == "verdict":
                    verdict = event["result"]
            if verdict is None or verdict["status"] != "pass":
                raise RuntimeError(f"engine run did not pass: {verdict and verdict['message']}")
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients for the page benchmark")
    parser.add_argument("--requests", type=int, default=10, help="requests per client per page")
    parser.add_argument("--rounds", type=int, default=3, help="submit -> verdict rounds")
    parser.add_argument("--module", default="01-onboarding", help="module slug to open and submit to")
    parser.add_argument(
        "--pause",
        type=float,
        default=10.0,
        help="seconds between submissions (a learner reads the result; the pool refills: ~3 s for torch)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-platform-") as tmp:
        lab = EmbeddedLab(Path(tmp))
        try:
            lab.start()
            session = lab.login()
            cookies = session.cookies.get_dict()
            for name, path in (("dashboard", "/"), ("module_page", f"/modules/{args.module}/")):
                page_latencies(lab, cookies, path, 1, 3)  # warm-up
                single = page_latencies(lab, cookies, path, 1, args.requests * 2)
                loaded = page_latencies(lab, cookies, path, args.clients, args.requests)
                print(f"{name}_p50_ms_1_client: {statistics.median(single):.1f}")
                print(f"{name}_p50_ms_{args.clients}_clients: {statistics.median(loaded):.1f}")
                print(f"{name}_p95_ms_{args.clients}_clients: {percentile(loaded, 0.95):.1f}")
                print(
                    f"{name}_p50_ratio_{args.clients}_vs_1: {statistics.median(loaded) / statistics.median(single):.2f}"
                )
                print(
                    f"{name}_requests_per_second_{args.clients}_clients: "
                    f"{len(loaded) / (sum(loaded) / 1000 / args.clients):.1f}"
                )
            meta = yaml.safe_load(
                (REPO_ROOT / "content" / args.module / "module.yaml").read_text(encoding="utf-8")
            )
            files = {
                f["path"]: (REPO_ROOT / "content" / args.module / f["reference"]).read_text(encoding="utf-8")
                for f in meta["files"]
            }
            firsts, verdicts, spans = [], [], []
            time.sleep(args.pause)  # let the lab's pool finish warming the module's shape
            for _ in range(args.rounds):
                first, verdict, span = grading_round(lab, session, args.module, files)
                firsts.append(first)
                verdicts.append(verdict)
                spans.append(span)
                time.sleep(args.pause)  # a learner reads the result: the pool refills between submissions
            for name in spans[0]:
                values = [span[name] for span in spans if name in span]
                print(f"timeline_{name}_ms_median: {statistics.median(values):.0f}")
            engine = engine_warm_verdicts(args.module, files, args.rounds)
            print(f"submit_to_first_event_ms_median: {statistics.median(firsts):.1f}")
            print(f"submit_to_verdict_ms_median: {statistics.median(verdicts):.1f}")
            print(
                f"first_event_share_of_verdict_time: {statistics.median(firsts) / statistics.median(verdicts):.3f}"
            )
            print(f"engine_warm_verdict_ms_median: {statistics.median(engine):.1f}")
            print(
                f"http_verdict_over_engine_warm_verdict: {statistics.median(verdicts) / statistics.median(engine):.2f}"
            )
            print(f"load_average_1min: {os.getloadavg()[0]:.2f}")
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
