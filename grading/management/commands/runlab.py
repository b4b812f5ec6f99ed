"""``manage.py runlab --host --port``: serve the ASGI app with daphne plus the in-process grading worker.

Embedded mode's single process: daphne serves HTTP and websockets; ``grading.tasks.embedded_worker`` grades on
threads per lane and first puts runs a previous process left running back in the queue; the threads share this
process's warm pool (``GRADING_POOL_SIZE``), started here so the first job is already warm, and closed when daphne
stops. In production mode (Celery queue) it only serves; workers run separately and own their pools.
"""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the lab: daphne (HTTP + websockets) and, in embedded mode, the grading worker threads."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--port", type=int, default=8000, help="port to bind")

    def handle(self, *args, **options) -> None:
        from daphne.cli import CommandLineInterface

        embedded = settings.LAB_GRADING_QUEUE == "thread"
        if embedded:
            from grading.tasks import embedded_worker, start_grading_pool

            start_grading_pool()
            embedded_worker.start(recover=True)
            self.stdout.write(
                f"grading: {settings.LAB_EMBEDDED_WORKERS} in-process worker thread(s) for the short lane, one "
                f"each for long and gpu, warm pool size "
                f"{settings.GRADING_POOL_SIZE} ({','.join(settings.GRADING_POOL_RUNTIMES)})"
            )
        self.stdout.write(f"serving http://{options['host']}:{options['port']}/")
        try:
            CommandLineInterface().run(
                ["--bind", options["host"], "--port", str(options["port"]), "labplatform.asgi:application"]
            )
        finally:
            if embedded:
                from grading.tasks import close_grading_pool, embedded_worker

                embedded_worker.stop()
                close_grading_pool()
