"""Class-sized load (not a test, not in CI): simulated learners against the production stack on this machine.

The stack is ``tests/production/lab_stack.py``'s, made of processes on this machine (not the compose containers):
its own database on the PostgreSQL at 127.0.0.1:5432, a Redis DB index of its own (``LAB_TEST_REDIS_DB``), runlab's
uvicorn web tier (``LAB_WEB_WORKERS`` processes) and one Celery worker on the ``short`` queue as compose runs it
(prefork, ``--concurrency`` children, each with its warm pool), sandboxes by bubblewrap.

Learners are simulated open loop (one asyncio client process, httpx + websockets): each keeps a websocket open
on ``/ws/grading/``, opens a page every ``--page-seconds`` (10 s: the dashboard and its module's page in turn) and
submits every ``--submit-seconds`` (120 s), each at its own random phase, whatever the server's answers take. The
submissions mix the short-lane tests of modules 1, 2 and 5: each module's reference and a failing variant (its
starter: the stubs). Learners get sessions made on the server (no password hashing in the load) and the three
modules unlocked.

One run reports, side by side:
1. ``single_*``: one client, cold cache (the lab keeps no page cache): the dashboard's server time (p50 over
   ``--single-requests``) and its ratio to a minimal Django view on the same server (``GET /accounts/logout/``,
   which Django's view answers 405 at once: the whole middleware stack and the session, no page).
2. ``calib_<module>_*``: per module, submissions one at a time on the unloaded stack (reference and failing
   variant in turn): submit -> first event and -> verdict, the timeline between them (request, row committed,
   worker pickup, engine start, first event, engine end, verdict committed, websocket delivery: the API's
   timestamps and the client's), and the CPU-seconds per verdict: the Celery worker's whole process tree (its
   children, their sandboxes and the warm processes that replace the ones a job used) over the block, divided by
   its verdicts. The sandboxes' own accounting of the learner's CPU (``usage.cpu_seconds``: the learner host's
   whole life, its warm-up imports included) is printed beside it; where it is the larger, the tree missed
   sandboxed processes that were not reaped inside it, and the tree's figure is a lower bound.
3. ``step_<N>_*``: the ramp. ``N`` learners for ``--step-seconds`` each: page p50/p95, submit -> first event and
   -> verdict p50/p95, grading CPU-seconds per verdict, web CPU-ms per page, refused submissions (429), the
   load average. The ramp stops after the first step over the limits (page p95 <= 100 ms, verdict p95 <= 3 s):
   the next, larger one would only be further over (``--all-steps`` runs them anyway).
4. lost and duplicated verdicts, by SQL on the stack's database once the queue drained (a submission accepted with
   201 and no ``Result``; more than one ``Result`` or stored verdict event), and verdict frames a client received
   twice; ``largest_class_within_limits``.
Every figure line ends with the 1-minute load average at the time (`load=`): the machine is shared.

Usage: ``nice -n 10 .venv/bin/python bench/bench_class.py [--quick] [--steps 10,25,50,100] [--step-seconds 180]``.
``--quick`` (about 4 minutes): steps 5 and 10 of 60 s, one calibration round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from websockets.asyncio.client import ClientConnection, connect

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests" / "production")]

from bench_platform import timeline  # noqa: E402  (this folder: the same timeline in embedded mode)
from lab_stack import LabStack  # noqa: E402  (tests/production, put on the path above)

MODULES = ("01-onboarding", "02-tokenizer", "05-gpt")
VARIANTS = ("reference", "failing")
PAGE_P95_LIMIT_MS = 100.0
VERDICT_P95_LIMIT_S = 3.0

SEED = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from modules.models import Module, Unlock
from modules.roles import LEARNER_GROUP
from modules.services import roles_ensure
roles_ensure()
group = Group.objects.get(name=LEARNER_GROUP)
store = import_module(settings.SESSION_ENGINE).SessionStore
modules = list(Module.objects.filter(slug__in=%(slugs)r))
out = {}
for index in range(%(count)d):
    user, _ = get_user_model().objects.get_or_create(username="learner%%03d" %% index)
    user.set_unusable_password()
    user.save()
    user.groups.add(group)
    for module in modules:
        Unlock.objects.get_or_create(user=user, module=module, defaults={"created_at": timezone.now()})
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    out[user.username] = session.session_key
print("SESSIONS " + json.dumps(out))
"""


# --- small helpers ------------------------------------------------------------------------------------------------
def load() -> str:
    return f"load={os.getloadavg()[0]:.2f}"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def tree_cpu(pids: list[int]) -> float:
    """CPU-seconds of these processes and all their descendants, live and reaped (user + system)."""
    total, seen = 0.0, set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


def module_files(slug: str, variant: str, starters: Path) -> dict[str, str]:
    """The module's editable files: its reference, or its starter (the stubs) for the failing variant. A crate
    (module 2's Rust file) is left out: the starter's, which routes the run to the short lane."""
    meta = yaml.safe_load((REPO_ROOT / "content" / slug / "module.yaml").read_text(encoding="utf-8"))
    files = {}
    for entry in meta["files"]:
        if "crate" in entry:
            continue
        if variant == "reference":
            beside = REPO_ROOT / "content" / slug / entry["reference"]  # else relative to the repository
            path = beside if beside.is_file() else REPO_ROOT / entry["reference"]
            files[entry["path"]] = path.read_text(encoding="utf-8")
        else:
            files[entry["path"]] = (starters / slug / entry["path"]).read_text(encoding="utf-8")
    return files


# --- the stack ----------------------------------------------------------------------------------------------------
def start_celery(stack: LabStack, concurrency: int) -> subprocess.Popen:
    """One Celery worker on ``short`` as compose runs it: prefork, ``concurrency`` children with warm pools."""
    log_path = stack.workdir / "worker-short.log"
    log = open(log_path, "ab")  # closed with the process
    argv = [sys.executable, "-m", "celery", "-A", "labplatform", "worker", "-Q", "short", "--pool", "prefork"]
    argv += ["--concurrency", str(concurrency), "-n", "short@%h", "--without-gossip", "--without-mingle"]
    argv += ["--without-heartbeat", "-l", "info"]
    proc = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "ready." in log_path.read_text(errors="replace"):
            stack.workers.append(proc)
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError("celery worker did not start:\n" + log_path.read_text(errors="replace")[-4000:])


def wait_pool_warm(worker: subprocess.Popen, timeout: float = 180.0) -> int:
    """Wait until the worker's sandboxed warm processes stop changing in number (pre-warm done); return it."""
    last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = sum(
            1
            for child in psutil.Process(worker.pid).children(recursive=True)
            if "grading.engine." in " ".join(_cmdline(child))
        )
        if count != last:
            last, stable_since = count, time.monotonic()
        elif count and time.monotonic() - stable_since > 5 and tree_idle(worker.pid):
            return count
        time.sleep(1.0)
    return last


def tree_idle(pid: int) -> bool:
    before = tree_cpu([pid])
    time.sleep(1.0)
    return tree_cpu([pid]) - before < 0.1


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def web_pids(stack: LabStack) -> list[int]:
    assert stack.web is not None
    return [stack.web.pid]


# --- the simulated class ------------------------------------------------------------------------------------------
@dataclass
class Sub:
    learner: str
    module: str
    variant: str
    step: int
    sent: float
    answered: float | None = None
    status_code: int | None = None
    id: int | None = None


@dataclass
class Seen:
    first: float | None = None
    verdict: float | None = None
    verdicts: int = 0
    status: str | None = None


@dataclass
class Run:
    base: str
    ws_base: str
    sessions: dict[str, str]
    starters: Path
    pages: list[tuple[int, str, float, int]] = field(default_factory=list)  # step, kind, ms, status
    subs: list[Sub] = field(default_factory=list)
    seen: dict[int, Seen] = field(default_factory=dict)
    step: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    files: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def headers(self, learner: str) -> dict[str, str]:
        token = uuid.uuid5(uuid.NAMESPACE_DNS, learner).hex  # 32 alphanumerics: a valid CSRF secret
        return {
            "Cookie": f"sessionid={self.sessions[learner]}; csrftoken={token}",
            "X-CSRFToken": token,
            "Origin": self.base,
            "Referer": self.base + "/",
        }


async def listen(run: Run, learner: str, ready: asyncio.Event) -> None:
    """The learner's websocket: note when each submission's first event and its verdict frames arrive."""
    headers = {"Cookie": f"sessionid={run.sessions[learner]}", "Origin": run.base}
    while not run.stop.is_set():
        try:
            async with connect(
                run.ws_base + "/ws/grading/", additional_headers=headers, open_timeout=60
            ) as ws:
                ready.set()
                await _frames(run, ws)
        except asyncio.CancelledError:
            raise
        except Exception:
            run.error("websocket_dropped")
            await asyncio.sleep(1.0)


async def _frames(run: Run, ws: ClientConnection) -> None:
    async for raw in ws:
        now = time.time()
        frame = json.loads(raw)
        if frame.get("type") != "grading.event":
            continue
        seen = run.seen.setdefault(int(frame["submission_id"]), Seen())
        if seen.first is None:
            seen.first = now
        event = frame.get("event") or {}
        if event.get("type") == "verdict":
            seen.verdicts += 1
            if seen.verdict is None:
                seen.verdict = now
                seen.status = (event.get("result") or {}).get("status")


async def open_page(run: Run, client: httpx.AsyncClient, learner: str, kind: str, path: str) -> None:
    step = run.step
    started = time.perf_counter()
    try:
        response = await client.get(path, headers=run.headers(learner), timeout=60)
        code = response.status_code
    except httpx.HTTPError:
        run.error("page_transport")
        return
    run.pages.append((step, kind, (time.perf_counter() - started) * 1000, code))


async def submit(run: Run, client: httpx.AsyncClient, learner: str, module: str, variant: str) -> None:
    sub = Sub(learner, module, variant, run.step, time.time())
    run.subs.append(sub)
    try:
        response = await client.post(
            f"/api/modules/{module}/submissions/",
            json={"files": run.files[(module, variant)]},
            headers=run.headers(learner),
            timeout=60,
        )
    except httpx.HTTPError:
        run.error("submit_transport")
        return
    sub.answered, sub.status_code = time.time(), response.status_code
    if response.status_code == 201:
        sub.id = int(response.json()["id"])


async def learner_loop(
    run: Run, client: httpx.AsyncClient, learner: str, index: int, page_s: float, submit_s: float
) -> None:
    """Open loop: actions start on the learner's own clock, never waiting for earlier answers."""
    tasks: set[asyncio.Task] = set()
    module = MODULES[index % len(MODULES)]
    combos = [(m, v) for m in MODULES for v in VARIANTS]
    loop = asyncio.get_running_loop()
    next_page = loop.time() + random.uniform(0, page_s)
    next_submit = loop.time() + random.uniform(0, submit_s)
    pages, submissions = 0, 0
    while not run.stop.is_set():
        now = loop.time()
        if now >= next_page:
            kind, path = ("dashboard", "/") if pages % 2 == 0 else ("module_page", f"/modules/{module}/")
            tasks.add(asyncio.create_task(open_page(run, client, learner, kind, path)))
            pages += 1
            next_page += page_s
        if now >= next_submit:
            module, variant = combos[(index + submissions) % len(combos)]
            tasks.add(asyncio.create_task(submit(run, client, learner, module, variant)))
            submissions += 1
            next_submit += submit_s
        tasks = {t for t in tasks if not t.done()}
        try:
            await asyncio.wait_for(
                run.stop.wait(), timeout=max(0.0, min(next_page, next_submit) - loop.time())
            )
        except TimeoutError:
            pass
    if tasks:
        await asyncio.wait(tasks, timeout=60)


async def wait_verdicts(run: Run, ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(run.seen.get(i, Seen()).verdict is not None for i in ids):
            return
        await asyncio.sleep(0.1)


# --- phases -------------------------------------------------------------------------------------------------------
async def single_client(run: Run, client: httpx.AsyncClient, requests: int) -> None:
    learner = next(iter(run.sessions))
    for name, path, expect in (("dashboard", "/", 200), ("minimal_view", "/accounts/logout/", 405)):
        timings = []
        for index in range(requests + 3):
            started = time.perf_counter()
            response = await client.get(path, headers=run.headers(learner), timeout=30)
            if response.status_code != expect:
                raise RuntimeError(f"{path}: HTTP {response.status_code}, expected {expect}")
            if index >= 3:  # the first ones warm the connection and the process's imports
                timings.append((time.perf_counter() - started) * 1000)
        print(f"single_{name}_p50_ms: {statistics.median(timings):.1f}  {load()}")
        run.pages.append((-1, name, statistics.median(timings), 200))
    dashboard = next(ms for step, kind, ms, _ in run.pages if step == -1 and kind == "dashboard")
    minimal = next(ms for step, kind, ms, _ in run.pages if step == -1 and kind == "minimal_view")
    print(f"single_dashboard_over_minimal_view: {dashboard / minimal:.2f}  {load()}")
    run.pages.clear()


async def calibrate(
    run: Run, client: httpx.AsyncClient, stack: LabStack, worker: subprocess.Popen, rounds: int, pause: float
) -> dict[str, float]:
    """Per module, one submission at a time: timings, timeline and CPU-seconds per verdict."""
    learner = next(iter(run.sessions))
    cpu_per_verdict = {}
    for module in MODULES:
        run.step = -1
        ids: list[int] = []
        before = tree_cpu([worker.pid])
        for _ in range(rounds):
            for variant in VARIANTS:
                await submit(run, client, learner, module, variant)
                sub = run.subs[-1]
                if sub.id is None:
                    raise RuntimeError(f"calibration submit refused: {sub.status_code}")
                ids.append(sub.id)
                await wait_verdicts(run, [sub.id], 300)
                # the learner reads; the pool refills meanwhile (its CPU counts: a warm process serves one verdict)
                await asyncio.sleep(pause)
        cpu = (tree_cpu([worker.pid]) - before) / len(ids)
        cpu_per_verdict[module] = cpu
        await report_timeline(run, client, learner, module, ids, cpu)
    run.subs.clear()
    return cpu_per_verdict


async def report_timeline(
    run: Run, client: httpx.AsyncClient, learner: str, module: str, ids: list[int], cpu: float
) -> None:
    rows: dict[str, list[float]] = {}
    usage = []
    by_id = {s.id: s for s in run.subs if s.id is not None}
    for sid in ids:
        body = (await client.get(f"/api/submissions/{sid}/", headers=run.headers(learner), timeout=30)).json()
        sub, seen = by_id[sid], run.seen.get(sid, Seen())
        result = body.get("result") or {}
        spans = timeline(body, sent=sub.sent, answered=sub.answered, first=seen.first, verdict=seen.verdict)
        for name, value in spans.items():
            rows.setdefault(name, []).append(value)
        if seen.first is not None:
            rows.setdefault("submit->first_event", []).append((seen.first - sub.sent) * 1000)
        if seen.verdict is not None:
            rows.setdefault("submit->verdict", []).append((seen.verdict - sub.sent) * 1000)
        usage.append(float((result.get("usage") or {}).get("cpu_seconds") or 0.0))
    short = module.split("-")[0]
    for name, values in rows.items():
        print(f"calib_{short}_{name}_ms_median: {statistics.median(values):.0f}  {load()}")
    print(f"calib_{short}_worker_cpu_s_per_verdict: {cpu:.2f}  {load()}")
    print(f"calib_{short}_sandbox_learner_cpu_s_per_verdict: {statistics.mean(usage):.2f}  {load()}")


def step_report(
    run: Run,
    step: int,
    learners: int,
    grading_cpu: float,
    web_cpu: float,
    bench_cpu: float,
    seconds: float,
    *,
    final: bool = False,
) -> bool:
    """Print one step's figures; whether it held the limits. At the step's end (``final=False``) a submission
    still waiting counts with the time it has waited so far; after the drain (``final``) every verdict is in."""
    pages = [ms for s, _, ms, code in run.pages if s == step and code == 200]
    bad_pages = sum(1 for s, _, _, code in run.pages if s == step and code != 200)
    subs = [s for s in run.subs if s.step == step]
    accepted = [s for s in subs if s.id is not None]
    firsts = [(run.seen[s.id].first - s.sent) for s in accepted if s.id in run.seen and run.seen[s.id].first]
    verdicts = [
        (run.seen[s.id].verdict - s.sent) for s in accepted if s.id in run.seen and run.seen[s.id].verdict
    ]
    waiting = [time.time() - s.sent for s in accepted if not (s.id in run.seen and run.seen[s.id].verdict)]
    done = len(verdicts)
    p = f"{'final_' if final else ''}step_{learners}"
    print(f"{p}_pages: {len(pages)} ({len(pages) / seconds:.1f}/s), non-200: {bad_pages}  {load()}")
    print(f"{p}_page_p50_ms: {pct(pages, 0.5):.1f}  p95_ms: {pct(pages, 0.95):.1f}  {load()}")
    for kind in ("dashboard", "module_page"):  # which page holds the tail
        of_kind = [ms for s, k, ms, code in run.pages if s == step and k == kind and code == 200]
        print(
            f"{p}_{kind}_p50_ms: {pct(of_kind, 0.5):.1f}  p95_ms: {pct(of_kind, 0.95):.1f}  "
            f"max_ms: {max(of_kind, default=float('nan')):.1f}  n={len(of_kind)}"
        )
    print(
        f"{p}_submissions: {len(subs)} accepted: {len(accepted)} refused: "
        f"{sum(1 for s in subs if s.status_code not in (201, None))} verdicts: {done} "
        f"waiting: {len(waiting)}  {load()}"
    )
    print(
        f"{p}_submit_to_first_event_p50_s: {pct(firsts, 0.5):.2f}  p95_s: {pct(firsts, 0.95):.2f}  {load()}"
    )
    print(
        f"{p}_submit_to_verdict_p50_s: {pct(verdicts, 0.5):.2f}  p95_s: {pct(verdicts, 0.95):.2f}"
        f"  (still waiting, oldest: {max(waiting, default=0):.1f} s)  {load()}"
    )
    print(
        f"{p}_grading_cpu_s_per_verdict: {grading_cpu / max(done, 1):.2f}  web_cpu_ms_per_page: "
        f"{web_cpu * 1000 / max(len(pages), 1):.1f}  bench_client_cpu_s: {bench_cpu:.1f}  {load()}"
    )
    # verdicts still missing count against the limit: each waited at least this long
    over = pct(pages, 0.95) > PAGE_P95_LIMIT_MS or pct(verdicts + waiting, 0.95) > VERDICT_P95_LIMIT_S
    print(f"{p}_within_limits: {'no' if over else 'yes'}")
    return not over


def sql_checks(stack: LabStack, run: Run) -> None:
    accepted = [s.id for s in run.subs if s.id is not None]
    if not accepted:
        print("lost_verdicts: 0 (no submission)")
        return
    rows = stack.sql(
        "SELECT s.id, s.status, COUNT(DISTINCT r.id), COUNT(DISTINCT e.id) FROM grading_submission s "
        "LEFT JOIN grading_result r ON r.submission_id = s.id "
        "LEFT JOIN grading_submissionevent e ON e.submission_id = s.id AND e.type = 'verdict' "
        "WHERE s.id = ANY(%s) GROUP BY s.id, s.status",
        accepted,
    )
    found = {row[0]: row for row in rows}
    lost = [
        sid for sid in accepted if sid not in found or (found[sid][2] == 0 and found[sid][1] != "superseded")
    ]
    superseded = [sid for sid, row in found.items() if row[1] == "superseded"]
    duplicated = [sid for sid, row in found.items() if row[2] > 1 or row[3] > 1]
    twice = [sid for sid in accepted if run.seen.get(sid, Seen()).verdicts > 1]
    undelivered = [
        sid for sid in accepted if found.get(sid, (0, "", 1))[2] and not run.seen.get(sid, Seen()).verdict
    ]
    print(f"accepted_submissions: {len(accepted)} superseded: {len(superseded)}  {load()}")
    print(f"lost_verdicts_sql: {len(lost)} {lost[:10]}")
    print(f"duplicated_verdicts_sql: {len(duplicated)} {duplicated[:10]}")
    print(
        f"verdict_frames_received_twice: {len(twice)}  verdicts_recorded_but_not_delivered: {len(undelivered)}"
    )


def per_module(run: Run) -> None:
    for module in MODULES:
        for variant in VARIANTS:
            values = [
                run.seen[s.id].verdict - s.sent
                for s in run.subs
                if s.module == module and s.variant == variant and s.id in run.seen and run.seen[s.id].verdict
            ]
            statuses = {
                run.seen[s.id].status
                for s in run.subs
                if s.module == module and s.variant == variant and s.id in run.seen and run.seen[s.id].status
            }
            print(
                f"ramp_{module.split('-')[0]}_{variant}_verdict_p50_s: {pct(values, 0.5):.2f} "
                f"p95_s: {pct(values, 0.95):.2f} n={len(values)} statuses={sorted(statuses)}"
            )


async def ramp(
    run: Run, client: httpx.AsyncClient, stack: LabStack, worker: subprocess.Popen, args: Any
) -> None:
    learners = list(run.sessions)
    listeners: list[asyncio.Task] = []
    loops: list[asyncio.Task] = []
    measured: list[tuple[int, int, float, float, float, float]] = []
    me = psutil.Process()
    for number, size in enumerate(args.steps):
        run.step = number
        while len(loops) < size:
            index = len(loops)
            ready = asyncio.Event()
            listeners.append(asyncio.create_task(listen(run, learners[index], ready)))
            await asyncio.wait_for(ready.wait(), 60)
            loops.append(
                asyncio.create_task(
                    learner_loop(run, client, learners[index], index, args.page_seconds, args.submit_seconds)
                )
            )
        grading0, web0, bench0 = tree_cpu([worker.pid]), tree_cpu(web_pids(stack)), sum(me.cpu_times()[:2])
        started = time.monotonic()
        await asyncio.sleep(args.step_seconds)
        seconds = time.monotonic() - started
        grading = tree_cpu([worker.pid]) - grading0
        web = tree_cpu(web_pids(stack)) - web0
        bench = sum(me.cpu_times()[:2]) - bench0
        measured.append((number, size, grading, web, bench, seconds))
        if not step_report(run, number, size, grading, web, bench, seconds) and not args.all_steps:
            print(
                f"ramp stopped after {size} learners: over the limits, a larger class would only be further over"
            )
            break
    run.stop.set()
    await asyncio.gather(*loops, return_exceptions=True)
    accepted = [s.id for s in run.subs if s.id is not None]
    drained = time.monotonic()
    await wait_verdicts(run, accepted, args.drain_seconds)
    await asyncio.sleep(2.0)  # a duplicate frame, were there one, would come now
    print(f"drain_seconds: {time.monotonic() - drained:.1f}  {load()}")
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    largest = 0
    for figures in measured:  # every verdict is in now: the steps' final figures decide
        if step_report(run, *figures, final=True):
            largest = max(largest, figures[1])
    per_module(run)
    sql_checks(stack, run)
    print(
        f"largest_class_within_limits: {largest} learners (page p95 <= {PAGE_P95_LIMIT_MS:.0f} ms, verdict p95 <= "
        f"{VERDICT_P95_LIMIT_S:.0f} s; measured: {', '.join(str(m[1]) for m in measured)})  {load()}"
    )
    if run.errors:
        print(f"client_errors: {json.dumps(run.errors)}")


async def main_async(args: Any, stack: LabStack, worker: subprocess.Popen, sessions: dict[str, str]) -> None:
    run = Run(
        base=stack.base_url,
        ws_base=stack.base_url.replace("http://", "ws://"),
        sessions=sessions,
        starters=stack.workdir / "var" / "starters",
    )
    run.files = {(m, v): module_files(m, v, run.starters) for m in MODULES for v in VARIANTS}
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=stack.base_url, limits=limits, follow_redirects=False) as client:
        await single_client(run, client, args.single_requests)
        ready = asyncio.Event()
        first = next(iter(sessions))
        listener = asyncio.create_task(listen(run, first, ready))
        await asyncio.wait_for(ready.wait(), 60)
        cpu = await calibrate(run, client, stack, worker, args.rounds, args.pause)
        run.stop.set()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        run.stop = asyncio.Event()
        if args.steps:
            await ramp(run, client, stack, worker, args)
    summary = ", ".join(f"{m.split('-')[0]}: {c:.2f}" for m, c in cpu.items())
    print(f"cpu_s_per_verdict_by_module: {summary}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short check: steps 5,10 of 60 s, one round")
    parser.add_argument("--steps", default="10,25,50,100", help="class sizes of the ramp, comma separated")
    parser.add_argument("--step-seconds", type=float, default=180.0)
    parser.add_argument("--all-steps", action="store_true", help="run every step even past the limits")
    parser.add_argument(
        "--page-seconds", type=float, default=10.0, help="each learner opens a page this often"
    )
    parser.add_argument("--submit-seconds", type=float, default=120.0, help="each learner submits this often")
    parser.add_argument(
        "--rounds", type=int, default=2, help="calibration: reference+failing rounds per module"
    )
    parser.add_argument("--pause", type=float, default=8.0, help="calibration: seconds after each verdict")
    parser.add_argument("--single-requests", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker children (compose: 2)")
    parser.add_argument("--web-workers", default="2", help="uvicorn processes (LAB_WEB_WORKERS)")
    parser.add_argument("--drain-seconds", type=float, default=300.0)
    args = parser.parse_args()
    if args.quick:
        args.steps, args.step_seconds, args.rounds, args.single_requests = "5,10", 60.0, 1, 15
    args.steps = [int(n) for n in str(args.steps).split(",") if n.strip()]
    random.seed(13)

    print(
        f"stack: production mode on this machine (PostgreSQL 127.0.0.1:5432, Redis DB "
        f"{os.environ.get('LAB_TEST_REDIS_DB', '13')}, uvicorn x{args.web_workers}, Celery prefork x"
        f"{args.concurrency} on 'short', bubblewrap sandboxes), {os.cpu_count()} CPUs  {load()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        stack = LabStack(Path(tmp))
        stack.env["LAB_WEB_WORKERS"] = args.web_workers
        stack.manage_timeout = 900.0  # sync_content on a busy 2-core machine
        stack.env["CELERY_VISIBILITY_TIMEOUT_SECONDS"] = "600"  # no redelivery of a job that merely waits
        if (REPO_ROOT / "var" / "figures").is_dir():  # `make figures`; else sync_content redraws them
            stack.env["LAB_FIGURES_DIR"] = str(REPO_ROOT / "var" / "figures")
        stack.setup()
        try:
            out = stack.manage("shell", "-c", SEED % {"slugs": list(MODULES), "count": max([1, *args.steps])})
            sessions = json.loads(out.split("SESSIONS ", 1)[1])
            stack.start_web(timeout=300)  # a loaded machine starts it slowly
            worker = start_celery(stack, args.concurrency)
            warm = wait_pool_warm(worker)
            print(f"worker_warm_processes: {warm}  {load()}")
            asyncio.run(main_async(args, stack, worker, sessions))
        finally:
            stack.teardown()


if __name__ == "__main__":
    main()
