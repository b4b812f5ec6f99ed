"""Settings for the nanochat Lab, read from the environment through small typed helpers.

Design choices:
- Two modes, chosen by ``LAB_MODE``:
  ``embedded`` (default; one machine, ``make run``): SQLite in ``var/``, the in-memory channel layer, grading on an
  in-process worker thread, bubblewrap sandbox.
  ``production``: PostgreSQL from ``DATABASE_URL``, Redis (``REDIS_URL``) as the Celery broker and channel layer,
  Celery workers on the ``cpu`` and ``gpu`` queues, docker sandbox backend.
- Every value goes through a helper that rejects bad input loudly at start-up (an unknown mode, ``yes-ish`` booleans,
  a negative size) instead of limping along with a surprising default.
- Secrets come from ``NAME`` or from the file named by ``NAME_FILE`` (docker/k8s secrets). In production a missing
  secret is an error; in embedded mode a random key is generated once and kept in ``var/secret_key``.
- App code never reads settings at import time; it reads ``django.conf.settings`` inside functions, so tests can
  override any value here.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


# --- typed environment helpers ------------------------------------------------------------------------------------
def env_str(name: str, default: str | None = None, *, choices: tuple[str, ...] | None = None) -> str:
    """A string from the environment; ``choices`` restricts it; no default means required."""
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"{name} is required")
    if choices is not None and value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def env_bool(name: str, default: bool) -> bool:
    """A boolean: exactly one of 1/0, true/false, yes/no, on/off (case-insensitive)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected a boolean (1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = 0, maximum: int | None = None) -> int:
    """An integer within [minimum, maximum]."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value}: must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value}: must be <= {maximum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; empty items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, *, required: bool) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (not both)."""
    direct = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if direct and file_name:
        raise ImproperlyConfigured(f"set either {name} or {name}_FILE, not both")
    if file_name:
        try:
            value = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r}: {exc}") from None
        if not value:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty")
        return value
    if direct:
        return direct
    if required:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) is required in production")
    return None


_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def env_origins(name: str) -> list[str]:
    """A comma-separated list of web origins (``https://host[:port]``, ``https://*.domain``), for CSP sources: a
    value with a path, a space or a quote could rewrite the policy, so anything else is refused."""
    origins = env_list(name, [])
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ImproperlyConfigured(f"{name}: {origin!r} is not an origin like https://lms.example.edu")
    return origins


def _connection_reuse() -> dict[str, object]:
    """How a process keeps its PostgreSQL connections.

    The ASGI web tier (``LAB_DATABASE_POOL=1``, which ``runlab`` sets for its uvicorn processes) takes them from
    a pool per process (Django's, on psycopg 3): Django's persistent connections do not persist under ASGI, where
    every request opened a new session (measured: 1.01 PostgreSQL sessions per request, each a server process
    forked). A pooled connection is checked when it is taken, so after a database restart a request gets a fresh
    one instead of an error. Everything else (Celery workers, commands) is synchronous and keeps one connection
    per thread for ``DATABASE_CONN_MAX_AGE_SECONDS``, checked before a request reuses it.
    """
    if env_bool("LAB_DATABASE_POOL", False):
        pool = {
            "min_size": 1,
            "max_size": env_int("LAB_DATABASE_POOL_SIZE", 8, minimum=1, maximum=100),
            "timeout": 10,  # seconds a request waits for a connection before it fails
        }
        # CONN_HEALTH_CHECKS: Django has the pool check each connection it hands out
        return {"CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True, "OPTIONS": {"pool": pool}}
    # a kept connection is checked before a request reuses it: after a database restart the first request of
    # each process gets a new one instead of an error
    return {"CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE_SECONDS", 60), "CONN_HEALTH_CHECKS": True}


def database_from_url(url: str) -> dict[str, object]:
    """Django DATABASES entry from ``postgres://user:password@host:port/name`` (``sqlite:///path`` also works)."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parsed.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL: missing database name")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parsed.username or ""),
            # A password in the URL, else DATABASE_PASSWORD or the file named by DATABASE_PASSWORD_FILE.
            "PASSWORD": unquote(parsed.password or "")
            or env_secret("DATABASE_PASSWORD", required=False)
            or "",
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            **_connection_reuse(),
        }
    if parsed.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parsed.path or ":memory:"}
    raise ImproperlyConfigured(f"DATABASE_URL: unsupported scheme {parsed.scheme!r} (postgres or sqlite)")


# --- mode ---------------------------------------------------------------------------------------------------------
LAB_MODE = env_str("LAB_MODE", "embedded", choices=("embedded", "production"))
PRODUCTION = LAB_MODE == "production"
VAR_DIR = Path(env_str("LAB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])


def _embedded_secret_key() -> str:
    """A random key generated once per checkout and kept in var/ (never committed).

    Processes that start together (runlab and its workers, parallel test workers) must agree on one key: each
    writes its candidate to a private file and links it into place; the first link wins, the others read it.
    """
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        candidate = VAR_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = env_secret("DJANGO_SECRET_KEY", required=PRODUCTION) or _embedded_secret_key()

# --- apps ---------------------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "channels",
    "modules",
    "modules.lti",
    "grading",
    "grading.discussions",
    "grading.milestones",
    "grading.similarity",
    "grading.analytics",
    "grading.assemble",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "modules.middleware.ContentSecurityPolicyMiddleware",
    "modules.lti.middleware.LtiCookieMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "labplatform.urls"
ASGI_APPLICATION = "labplatform.asgi.application"
WSGI_APPLICATION = None

# Templates live in the apps' templates/ folders, searched in INSTALLED_APPS order (the lab's pages in
# modules/templates/).
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": False,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Compiled once per process (a page render no longer reads and parses its templates); with DJANGO_DEBUG
            # an edited template shows on the next request, without a restart.
            "loaders": ["django.template.loaders.app_directories.Loader"]
            if DEBUG
            else [
                ("django.template.loaders.cached.Loader", ["django.template.loaders.app_directories.Loader"])
            ],
        },
    }
]

# --- content security policy (django-csp; modules.middleware adds LAB_FRAME_ANCESTORS) ---------------------------
# No inline or evaluated script anywhere: page data travels as `page_json` (inert JSON), behaviour in the Vite
# bundles. Styles allow 'unsafe-inline': Monaco and Plotly inject <style> elements and KaTeX sets style attributes
# (styles cannot run script). Images and fonts allow data: URIs (Monaco's and Plotly's icons, small inlined fonts).
# Monaco's worker is a same-origin module file; the API and the grading websocket are same-origin ('self' covers
# ws:/wss: on the page's own host). Plotly's bundle (plotly.js-dist-min 4.x) needs no eval for the traces we draw.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
}
X_FRAME_OPTIONS = "SAMEORIGIN"  # for browsers without frame-ancestors; those with it ignore this header
# LMS platforms (origins such as https://canvas.example.edu or https://*.instructure.com) whose pages may frame
# the lab for LTI launches; comma-separated.
LAB_FRAME_ANCESTORS = env_origins("LAB_FRAME_ANCESTORS")

# --- database -----------------------------------------------------------------------------------------------------
if PRODUCTION:
    DATABASES = {"default": database_from_url(env_str("DATABASE_URL"))}
else:
    _database_url = os.environ.get("DATABASE_URL")
    if _database_url:
        DATABASES = {"default": database_from_url(_database_url)}
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        DATABASES = {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": VAR_DIR / "lab.sqlite3",
                # The worker thread and the web loop write concurrently: WAL + IMMEDIATE + a busy timeout.
                "OPTIONS": {
                    "timeout": 20,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                },
                "TEST": {"NAME": None},
            }
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ---------------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Password-reset e-mails: embedded mode writes each message to a file under LAB_VAR_DIR/mail/ (nothing leaves the
# machine; whoever runs the lab opens the link from there); production sends them through an SMTP server.
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("LAB_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("LAB_EMAIL_PORT", 25, minimum=1, maximum=65535)
DEFAULT_FROM_EMAIL = env_str("LAB_EMAIL_FROM", "nanochat Lab <noreply@localhost>")
# Login and sign-up throttles (modules.backends, modules.selectors): an account locks after this many failed logins
# for LAB_LOGIN_LOCKOUT_SECONDS, doubled by each further failure up to the cap; failures older than the window are
# forgotten, and a successful login forgets them too. Per-address limits are per sliding hour and high enough for a
# classroom behind one NAT (60 learners who each mistype a few times).
AUTHENTICATION_BACKENDS = ["modules.backends.ThrottledModelBackend"]
LAB_LOGIN_FAILURES_PER_ACCOUNT = env_int("LAB_LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LAB_LOGIN_LOCKOUT_SECONDS = env_int("LAB_LOGIN_LOCKOUT_SECONDS", 60, minimum=1)
LAB_LOGIN_LOCKOUT_MAX_SECONDS = env_int("LAB_LOGIN_LOCKOUT_MAX_SECONDS", 3600, minimum=1)
LAB_LOGIN_FAILURE_WINDOW_SECONDS = env_int("LAB_LOGIN_FAILURE_WINDOW_SECONDS", 24 * 3600, minimum=60)
LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR = env_int("LAB_LOGIN_FAILURES_PER_ADDRESS_HOUR", 300, minimum=1)
LAB_SIGNUPS_PER_ADDRESS_HOUR = env_int("LAB_SIGNUPS_PER_ADDRESS_HOUR", 200, minimum=1)
# Reverse proxies in front of the lab that append the client's address to X-Forwarded-For (0: trust no header and
# use the socket's peer address).
LAB_TRUSTED_PROXIES = env_int("LAB_TRUSTED_PROXIES", 0, maximum=8)

# --- HTTPS --------------------------------------------------------------------------------------------------------
# LAB_HTTPS: the lab is reached over HTTPS, directly or through a TLS-terminating proxy (on in production; embedded
# mode serves http://127.0.0.1). It turns on the redirect to https, HSTS and secure session/CSRF cookies. Behind a
# proxy, DJANGO_SECURE_PROXY_SSL_HEADER names the header the proxy sets to "https" (e.g. X-Forwarded-Proto); the
# proxy must overwrite it, since a client could send it too.
LAB_HTTPS = env_bool("LAB_HTTPS", PRODUCTION)
SECURE_SSL_REDIRECT = LAB_HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600 if LAB_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
_proxy_ssl_header = env_str("DJANGO_SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header and not re.fullmatch(r"[A-Za-z0-9-]+", _proxy_ssl_header):
    raise ImproperlyConfigured(
        f"DJANGO_SECURE_PROXY_SSL_HEADER={_proxy_ssl_header!r}: expected a header name"
    )
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", LAB_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- i18n ---------------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- static files (Vite output in frontend/dist, with .vite/manifest.json) ------------------------------------------
STATIC_URL = "/static/"
LAB_FRONTEND_DIST_DIR = Path(env_str("LAB_FRONTEND_DIST_DIR", str(BASE_DIR / "frontend" / "dist")))
STATICFILES_DIRS = [LAB_FRONTEND_DIST_DIR] if LAB_FRONTEND_DIST_DIR.is_dir() else []
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
# Serve /static/ from the ASGI app itself (no nginx needed for a single-machine lab).
LAB_SERVE_STATIC = env_bool("LAB_SERVE_STATIC", True)

# --- REST framework -----------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser with a nesting bound: an over-deep body answers 400 instead of a RecursionError's 500.
    "DEFAULT_PARSER_CLASSES": ["modules.parsers.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("LAB_REQUEST_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)

# --- channels -----------------------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
if PRODUCTION:
    # redis-py 8 reads with a 5 s client timeout by default, exactly channels_redis' 5 s blocking pop on an idle
    # socket: the client would give up first and every quiet websocket would die with 1011. A longer client
    # timeout keeps dead-connection detection without racing the server.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": env_int("CHANNELS_REDIS_SOCKET_TIMEOUT_SECONDS", 30, minimum=10),
                    }
                ]
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- grading ------------------------------------------------------------------------------------------------------
LAB_CONTENT_DIR = Path(env_str("LAB_CONTENT_DIR", str(BASE_DIR / "content")))
LAB_REPO_ROOT = BASE_DIR
# Where sync_content writes the generated starter files for authors to read (the pages serve them from the DB).
LAB_STARTERS_DIR = Path(env_str("LAB_STARTERS_DIR", str(VAR_DIR / "starters")))
# The handout figures generated from nanochat_ref (`make figures`; sync_content regenerates them when stale and
# copies the ones a guide shows into the module's payload).
LAB_FIGURES_DIR = Path(env_str("LAB_FIGURES_DIR", str(VAR_DIR / "figures")))
# "thread": in-process worker (embedded); "celery": Celery queues (production).
LAB_GRADING_QUEUE = env_str(
    "LAB_GRADING_QUEUE", "celery" if PRODUCTION else "thread", choices=("thread", "celery")
)
# Embedded mode: grading threads for the short lane (the long and gpu lanes get one each).
LAB_EMBEDDED_WORKERS = env_int("LAB_EMBEDDED_WORKERS", 1, minimum=1, maximum=16)
# Per lane, at most this many runs of one learner queued or running; a submission past it replaces their oldest
# waiting run of the module (or is refused with 429 when none of theirs waits): grading.services.submission_create.
LAB_QUEUE_MAX_PER_LEARNER = env_int("LAB_QUEUE_MAX_PER_LEARNER", 2, minimum=1, maximum=100)
# "Assemble your own nanochat" (grading.assemble): where learners' models live (one 0700 folder per learner), the
# pipeline's sizes ("tiny": the CPU recipe cut to fit; "smoke": toy sizes for tests), its own caps (wall and CPU
# seconds of the training job; wall seconds of one chat reply, whose CPU is capped at 60 s), and whether a GPU
# worker serves the `gpu` queue (production: then assemble runs there, else on `long`).
LAB_ASSEMBLE_DIR = Path(env_str("LAB_ASSEMBLE_DIR", str(VAR_DIR / "assemble")))
LAB_ASSEMBLE_PROFILE = env_str("LAB_ASSEMBLE_PROFILE", "tiny", choices=("tiny", "smoke"))
LAB_ASSEMBLE_WALL_SECONDS = env_int("LAB_ASSEMBLE_WALL_SECONDS", 600, minimum=30, maximum=600)
LAB_ASSEMBLE_CPU_SECONDS = env_int("LAB_ASSEMBLE_CPU_SECONDS", 1200, minimum=30, maximum=1200)
LAB_ASSEMBLE_REPLY_SECONDS = env_int("LAB_ASSEMBLE_REPLY_SECONDS", 120, minimum=5, maximum=300)
LAB_GPU_WORKER = env_bool("LAB_GPU_WORKER", False)
LAB_GRADING_MAX_RUNS = env_int("LAB_GRADING_MAX_RUNS", 3, minimum=1)
# Production: a run queued this long, while no run of its lane started, gets its lane woken again (its wake-up
# message was lost: the broker restarted, or the publish failed); each Celery worker process looks this often
# (grading.tasks.lane_watch_start).
LAB_GRADING_REWAKE_SECONDS = env_int("LAB_GRADING_REWAKE_SECONDS", 30, minimum=1)
# Production: a grading job that lost its database (a restart) is retried this many seconds later, as the same
# message, so the run it claimed is graded again (grading.tasks.grade_lane).
LAB_GRADING_DB_RETRY_SECONDS = env_int("LAB_GRADING_DB_RETRY_SECONDS", 2, minimum=1)
LAB_SUBMISSIONS_PER_MINUTE = env_int("LAB_SUBMISSIONS_PER_MINUTE", 10, minimum=1)
LAB_NOTE_MAX_CHARS = env_int("LAB_NOTE_MAX_CHARS", 10_000, minimum=1)
LAB_POST_MAX_CHARS = env_int("LAB_POST_MAX_CHARS", 10_000, minimum=1)
LAB_POSTS_PER_MINUTE = env_int("LAB_POSTS_PER_MINUTE", 10, minimum=1)
# How long after posting its author may still edit a post (grading.discussions.services.post_edit).
LAB_POST_EDIT_SECONDS = env_int("LAB_POST_EDIT_SECONDS", 15 * 60, minimum=0)
# Similarity (grading.similarity, docs/similarity.md), in percent: a pair of passing submissions at or above it is
# listed for instructors, and a learner whose pass matches the reference this much is asked to explain their approach.
LAB_SIMILARITY_THRESHOLD_PERCENT = env_int("LAB_SIMILARITY_THRESHOLD_PERCENT", 80, minimum=1, maximum=100)
# Other learners' passing submissions (their latest each) a new pass is compared with.
LAB_SIMILARITY_PEERS_MAX = env_int("LAB_SIMILARITY_PEERS_MAX", 2000, minimum=0)
LAB_TOOL_TIMEOUT_SECONDS = env_int("LAB_TOOL_TIMEOUT_SECONDS", 10, minimum=1)
LAB_EVENT_OUTPUT_MAX_CHARS = env_int("LAB_EVENT_OUTPUT_MAX_CHARS", 16 * 1024, minimum=256)
# Engine events stored per grading run (each is a row and part of every replay); past it, one summary event.
LAB_EVENTS_PER_SUBMISSION_MAX = env_int("LAB_EVENTS_PER_SUBMISSION_MAX", 2000, minimum=100)
# Warm pool (grading.engine.pool.LearnerPool), one per grading process (the runlab process in embedded mode, each
# Celery worker process in production): this many pre-started learner hosts and judges per runtime; 0 = cold
# starts only. A warm torch learner + judge pair holds ~620 MiB, a python pair ~50 MiB (per shape, see below).
GRADING_POOL_SIZE = env_int("GRADING_POOL_SIZE", 1, minimum=0, maximum=8)
GRADING_POOL_RUNTIMES = env_list("GRADING_POOL_RUNTIMES", ["python", "torch"])
if not GRADING_POOL_RUNTIMES or set(GRADING_POOL_RUNTIMES) - {"python", "torch"}:
    raise ImproperlyConfigured(
        f"GRADING_POOL_RUNTIMES={','.join(GRADING_POOL_RUNTIMES)!r}: expected a comma list of python, torch"
    )
# Shapes (runtime + limits) each pool keeps warm: it pre-warms every synced module's shape, in module order, up to
# this many (each torch shape holds ~620 MiB at size 1, a python one ~50 MiB); past it a module starts cold.
GRADING_POOL_MAX_SHAPES = env_int("GRADING_POOL_MAX_SHAPES", 4, minimum=1, maximum=16)
SANDBOX_BACKEND = env_str("SANDBOX_BACKEND", "docker" if PRODUCTION else "bwrap", choices=("bwrap", "docker"))
# The engine and sandbox read SANDBOX_* from the process environment; make the chosen backend visible to them.
os.environ.setdefault("SANDBOX_BACKEND", SANDBOX_BACKEND)

# --- celery (production) ------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "short"
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A job whose worker died is redelivered after this many seconds (kombu's Redis visibility timeout). It must exceed
# the longest grading job, or a slow job would be handed to a second worker while it still runs (harmless: the
# verdict is idempotent, but wasteful).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600, minimum=1),
}

# --- logging ------------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LAB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
