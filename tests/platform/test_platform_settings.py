"""The typed environment helpers of labplatform.settings and the two modes, loaded in a fresh interpreter."""

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from labplatform.settings import database_from_url, env_bool, env_int, env_origins, env_secret, env_str


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="expected a boolean"):
        env_bool("X_FLAG", False)


def test_it_rejects_integers_out_of_range(monkeypatch):
    monkeypatch.setenv("X_INT", "-1")
    with pytest.raises(ImproperlyConfigured, match=">= 0"):
        env_int("X_INT", 5)
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="expected an integer"):
        env_int("X_INT", 5)


def test_it_rejects_a_value_outside_its_choices(monkeypatch):
    monkeypatch.setenv("X_MODE", "chaos")
    with pytest.raises(ImproperlyConfigured, match="expected one of"):
        env_str("X_MODE", "a", choices=("a", "b"))


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_secret("X_SECRET", required=True) == "s3cret"


def test_it_requires_a_secret_when_told_to(monkeypatch):
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.delenv("X_SECRET_FILE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="required in production"):
        env_secret("X_SECRET", required=True)
    assert env_secret("X_SECRET", required=False) is None


def test_it_reads_frame_ancestors_as_origins(monkeypatch):
    monkeypatch.setenv(
        "X_ORIGINS", "https://lms.example.edu, https://*.instructure.com,http://localhost:8080"
    )
    assert env_origins("X_ORIGINS") == [
        "https://lms.example.edu",
        "https://*.instructure.com",
        "http://localhost:8080",
    ]


@pytest.mark.parametrize(
    "value", ["https://lms.example.edu; script-src *", "https://lms.example.edu/path", "'unsafe-inline'", "*"]
)
def test_it_refuses_a_frame_ancestor_that_could_rewrite_the_policy(monkeypatch, value):
    monkeypatch.setenv("X_ORIGINS", value)
    with pytest.raises(ImproperlyConfigured, match="is not an origin"):
        env_origins("X_ORIGINS")


def test_it_parses_a_postgres_url():
    db = database_from_url("postgres://lab:p%40ss@db.internal:5433/labdb")
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "labdb",
        "lab",
        "p@ss",
        "db.internal",
        "5433",
    )
    with pytest.raises(ImproperlyConfigured):
        database_from_url("mysql://x/y")


def test_the_web_tier_pools_its_connections_and_the_rest_keeps_them(monkeypatch):
    monkeypatch.delenv("LAB_DATABASE_POOL", raising=False)
    kept = database_from_url("postgres://lab@db/labdb")
    assert (kept["CONN_MAX_AGE"], kept["CONN_HEALTH_CHECKS"], "OPTIONS" in kept) == (60, True, False)
    monkeypatch.setenv("LAB_DATABASE_POOL", "1")  # what runlab sets for its uvicorn processes
    monkeypatch.setenv("LAB_DATABASE_POOL_SIZE", "4")
    pooled = database_from_url("postgres://lab@db/labdb")
    # Django refuses a pool with persistent connections; the health checks make the pool check what it hands out
    assert (pooled["CONN_MAX_AGE"], pooled["CONN_HEALTH_CHECKS"]) == (0, True)
    assert pooled["OPTIONS"] == {"pool": {"min_size": 1, "max_size": 4, "timeout": 10}}


def load_settings(env: dict[str, str], repo_root) -> subprocess.CompletedProcess:
    code = (
        "import labplatform.settings as s; "
        "print(s.LAB_MODE, s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.LAB_GRADING_QUEUE, s.SANDBOX_BACKEND)"
    )
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "DATABASE_", "SANDBOX_"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_production_without_a_secret_key(repo_root):
    proc = load_settings({"LAB_MODE": "production", "DATABASE_URL": "postgres://u@h/db"}, repo_root)
    assert proc.returncode != 0
    assert "DJANGO_SECRET_KEY" in proc.stderr


def test_it_configures_production_mode_from_the_environment(repo_root):
    env = {"LAB_MODE": "production", "DATABASE_URL": "postgres://u@h/db", "DJANGO_SECRET_KEY": "k" * 50}
    proc = load_settings(env, repo_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "production",
        "django.db.backends.postgresql",
        "channels_redis.core.RedisChannelLayer",
        "celery",
        "docker",
    ]


def test_it_defaults_to_embedded_mode(repo_root, tmp_path):
    proc = load_settings({"LAB_VAR_DIR": str(tmp_path)}, repo_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "embedded",
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "thread",
        "bwrap",
    ]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def https_settings(env: dict[str, str], repo_root) -> dict:
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in ("
        "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE', "
        "'CSRF_COOKIE_SECURE')}))"
    )
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "DATABASE_", "SANDBOX_"))
    }
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "labplatform.settings", **env},
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


PRODUCTION_ENV = {
    "LAB_MODE": "production",
    "DATABASE_URL": "postgres://u@h/db",
    "DJANGO_SECRET_KEY": "k" * 50,
}


def test_production_sends_hsts_for_a_year(repo_root):
    assert https_settings(PRODUCTION_ENV, repo_root)["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600


def test_production_redirects_plain_http_to_https(repo_root):
    assert https_settings(PRODUCTION_ENV, repo_root)["SECURE_SSL_REDIRECT"] is True


def test_production_cookies_are_secure(repo_root):
    values = https_settings(PRODUCTION_ENV, repo_root)
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True


def test_production_behind_a_proxy_reads_the_scheme_it_forwards(repo_root):
    values = https_settings(
        {**PRODUCTION_ENV, "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, repo_root
    )
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_embedded_mode_keeps_working_over_plain_http(repo_root, tmp_path):
    values = https_settings({"LAB_VAR_DIR": str(tmp_path)}, repo_root)
    assert values == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }


def test_production_can_be_told_it_serves_plain_http(repo_root):
    """For a production stack on a private network (the production tests' own): no redirect, HSTS or secure
    cookies, which would lock a plain-HTTP client out."""
    values = https_settings({**PRODUCTION_ENV, "LAB_HTTPS": "0"}, repo_root)
    assert (
        values["SECURE_SSL_REDIRECT"],
        values["SECURE_HSTS_SECONDS"],
        values["SESSION_COOKIE_SECURE"],
    ) == (
        False,
        0,
        False,
    )


@pytest.mark.django_db
def test_an_https_response_carries_hsts_and_plain_http_is_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 365 * 24 * 3600
    assert (
        client.get("/accounts/login/", secure=True).headers["Strict-Transport-Security"] == "max-age=31536000"
    )
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/accounts/login/"


def test_processes_starting_together_agree_on_one_generated_secret_key(repo_root, tmp_path):
    var, gate = tmp_path / "var", tmp_path / "go"
    # Each process imports everything but the settings, says so, then waits at the gate: they read and write
    # var/secret_key at the same moment.
    code = (
        "import os, sys, time, labplatform\n"
        "print('ready', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}):\n    time.sleep(0.001)\n"
        "import labplatform.settings as s\nprint(s.SECRET_KEY)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "DATABASE_"))}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**clean, "LAB_VAR_DIR": str(var)},
            cwd=repo_root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    gate.touch()
    outs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, [err for _, err in outs]
    keys = {out.strip() for out, _ in outs}
    assert keys == {(var / "secret_key").read_text().strip()} and len(keys.pop()) >= 50
    assert [p.name for p in var.iterdir()] == ["secret_key"]  # no candidate left behind
