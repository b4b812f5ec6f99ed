"""Analytics benchmark (not a test): the instructors' analytics page on a class of 10,000 learners × 16 modules ×
20 attempts, on PostgreSQL, with a cold cache.

Uses the database ``DATABASE_URL`` names (default ``postgres://postgres@127.0.0.1:5432/lab_bench_analytics``,
created when missing). A database without the class is migrated, synced with ``content/`` and seeded with
``manage.py analytics_seed`` first (the seeding time is printed); ``--reseed`` drops the database and starts over.
Then each round starts a fresh Django process
(new connection, no module or template caches: a cold cache as far as the server goes; PostgreSQL's own buffers
stay warm across rounds) that renders ``/analytics/`` once for an instructor in-process, after one other page so
that the server's URL map and base template are loaded, and prints its server time (the view, its queries and the
template; no HTTP) as wall, process CPU and database time; then the filtered page, the learner drill-down and the
CSV export. Prints ``name: value`` lines: the first (coldest) round, the median of ``--rounds``, and the load
average and, as a yardstick measured side by side, the wall time of one plain ``count(*)`` over the progress
rows (on a shared machine the wall time is mostly waiting for a core). Usage:
``.venv/bin/python bench/bench_analytics.py [--learners 10000] [--attempts 20] [--rounds 5] [--reseed]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lab_bench_analytics"

ROUND = r"""
import json, time
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from modules.services import roles_ensure

roles_ensure()
prof, _ = User.objects.get_or_create(username="bench-instructor", defaults={"is_staff": True})
prof.groups.add(Group.objects.get(name="instructor"))
learner = User.objects.filter(username__startswith="seed-").order_by("pk").first()
client = Client()
client.force_login(prof)
client.get("/progress/")  # the server itself warm (URL map, middleware, base template); analytics cold
connection.close()  # a fresh connection, as on a fresh worker
db = []

def timed(execute, sql, params, many, context):
    began = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        db.append(time.perf_counter() - began)

out = {}
for name, url in (("page", "/analytics/"), ("page_filtered", "/analytics/?since=2000-01-01&module=05-gpt"),
                  ("learner", f"/analytics/learners/{learner.username}/"),
                  ("csv_modules", "/analytics/export.csv?table=modules")):
    db.clear()
    began, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(timed):
        response = client.get(url)
    out[name] = {"wall": (time.perf_counter() - began) * 1000, "cpu": (time.process_time() - cpu) * 1000,
                 "db": sum(db) * 1000, "queries": len(db)}
    assert response.status_code == 200, (url, response.status_code)
with connection.cursor() as cursor:  # a yardstick, side by side: one plain scan of the progress rows
    began = time.perf_counter()
    cursor.execute("SELECT count(*) FROM modules_progress")
    cursor.fetchone()
    out["reference_scan"] = {"wall": (time.perf_counter() - began) * 1000, "cpu": 0.0, "db": 0.0, "queries": 1}
print(json.dumps(out))
"""


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "DATABASE_"))}
    env |= {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "labplatform.settings", "LAB_MODE": "embedded"}
    return env


def psql(url: str, sql: str) -> str:
    """One statement's output, run by psql against ``url``'s database."""
    proc = subprocess.run(["psql", url, "-tAc", sql], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def admin_url(url: str) -> str:
    return urlparse(url)._replace(path="/postgres").geturl()


def manage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=10_000, help="learners in the class")
    parser.add_argument("--attempts", type=int, default=20, help="attempts per learner and module")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes, one page each")
    parser.add_argument("--reseed", action="store_true", help="drop the benchmark database and seed again")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    name = urlparse(url).path.lstrip("/")
    env = env_for(url)
    if args.reseed:
        psql(admin_url(url), f'DROP DATABASE IF EXISTS "{name}"')
    if psql(admin_url(url), f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        psql(admin_url(url), f'CREATE DATABASE "{name}"')
    manage(env, "migrate", "--noinput")
    seeded = int(psql(url, "SELECT count(*) FROM auth_user WHERE username LIKE 'seed-%'"))
    if seeded < args.learners:
        if seeded:
            sys.exit(
                f"{name} holds {seeded} seeded learners, fewer than {args.learners}: rerun with --reseed"
            )
        manage(env, "sync_content")
        began = time.perf_counter()
        manage(env, "analytics_seed", "--learners", str(args.learners), "--attempts", str(args.attempts))
        print(f"seed_seconds: {time.perf_counter() - began:.1f}")
    print(f"attempts_in_database: {psql(url, 'SELECT count(*) FROM grading_submission')}")
    rounds = []
    for _ in range(args.rounds):
        proc = subprocess.run(
            [sys.executable, "-c", ROUND], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
        )
        rounds.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"load_average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for key in rounds[0]:
        for part in ("wall", "cpu", "db"):
            print(f"{key}_{part}_first_ms: {rounds[0][key][part]:.0f}")
            print(f"{key}_{part}_median_ms: {statistics.median(r[key][part] for r in rounds):.0f}")
        print(f"{key}_queries: {rounds[0][key]['queries']}")


if __name__ == "__main__":
    main()
