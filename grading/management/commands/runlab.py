"""``manage.py runlab --host --port [--workers N]``: serve the ASGI app, plus the in-process grading worker.

Embedded mode's single process: daphne serves HTTP and websockets; ``grading.tasks.embedded_worker`` grades on
threads per lane and first puts runs a previous process left running back in the queue; the threads share this
process's warm pool (``GRADING_POOL_SIZE``), started here so the first job is already warm, and closed when daphne
stops. It must stay one process: the queue's wake-ups, the warm pool and the in-memory channel layer live in it.

In production mode (Celery queue) it only serves, with uvicorn and ``--workers`` processes (``LAB_WEB_WORKERS``,
default one per CPU): the channel layer is Redis, so a socket served by one process gets the events another
published. Why uvicorn there (docs/operations.md, "Web tier"): one Python process is bound by the GIL, and daphne
has no worker processes of its own; uvicorn supervises N processes on one socket (a dead one is replaced), parses
HTTP in C (httptools) on uvloop, and speaks websockets, with nothing else to install or configure.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def web_workers(requested: int | None) -> int:
    """How many web processes production runs: ``--workers``, else ``LAB_WEB_WORKERS``, else one per CPU."""
    if requested is None:
        raw = os.environ.get("LAB_WEB_WORKERS", "")
        try:
            requested = int(raw) if raw else (os.cpu_count() or 1)
        except ValueError:
            raise CommandError(f"LAB_WEB_WORKERS must be a whole number, not {raw!r}") from None
    if not 1 <= requested <= 64:
        raise CommandError(f"web workers must be between 1 and 64, not {requested}")
    return requested


def serve_uvicorn(host: str, port: int, workers: int) -> None:
    """Serve the ASGI app from ``workers`` uvicorn processes on one socket, supervised (one that dies is replaced,
    even when there is only one), each with a PostgreSQL connection pool of its own (``LAB_DATABASE_POOL``,
    ``labplatform.settings``: under ASGI, Django's persistent connections would open one session per request).
    The processes are spawned, not forked: each reads the settings afresh, with the pool."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ.setdefault("LAB_DATABASE_POOL", "1")
    os.environ.setdefault("LAB_WEB_WARM", "1")  # each process warms up as it starts (labplatform.asgi)
    config = uvicorn.Config(
        "labplatform.asgi:application",
        host=host,
        port=port,
        workers=workers,
        lifespan="off",  # Channels' router has no lifespan protocol
        proxy_headers=False,  # forwarded headers are Django's to judge (LAB_TRUSTED_PROXIES), once
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


class Command(BaseCommand):
    help = (
        "Run the lab: daphne (HTTP + websockets) and the grading worker threads in embedded mode; uvicorn with "
        "several processes in production mode."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--port", type=int, default=8000, help="port to bind")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="production mode: web processes (default LAB_WEB_WORKERS or CPUs)",
        )

    def handle(self, *args, **options) -> None:
        embedded = settings.LAB_GRADING_QUEUE == "thread"
        if not embedded:
            workers = web_workers(options["workers"])
            self.stdout.write(
                f"serving http://{options['host']}:{options['port']}/ with {workers} uvicorn process(es)"
            )
            self.stdout.flush()
            serve_uvicorn(options["host"], options["port"], workers)
            return
        if options["workers"] not in (None, 1):
            raise CommandError(
                "embedded mode serves from one process (its grading worker lives in it): no --workers"
            )
        from daphne.cli import CommandLineInterface

        from grading.tasks import embedded_worker, start_grading_pool

        start_grading_pool()
        embedded_worker.start(recover=True)
        self.stdout.write(
            f"grading: {settings.LAB_EMBEDDED_WORKERS} in-process worker thread(s) for the short lane, one "
            f"each for long and gpu, warm pool size "
            f"{settings.GRADING_POOL_SIZE} ({','.join(settings.GRADING_POOL_RUNTIMES)})"
        )
        self.stdout.write(f"serving http://{options['host']}:{options['port']}/")
        os.environ.setdefault("LAB_WEB_WARM", "1")  # it warms up as it imports the app (labplatform.asgi)
        try:
            CommandLineInterface().run(
                ["--bind", options["host"], "--port", str(options["port"]), "labplatform.asgi:application"]
            )
        finally:
            from grading.tasks import close_grading_pool, embedded_worker

            embedded_worker.stop()
            close_grading_pool()
