"""``manage.py runlab --host --port``: serve the ASGI app with daphne plus the in-process grading worker.

Embedded mode's single process: daphne serves HTTP and websockets; ``grading.tasks.embedded_worker`` grades on
threads and first re-queues submissions a previous process left unfinished. In production mode (Celery queue) it
only serves; workers run separately.
"""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the lab: daphne (HTTP + websockets) and, in embedded mode, the grading worker threads."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--port", type=int, default=8000, help="port to bind")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        from daphne.cli import CommandLineInterface

        if settings.LAB_GRADING_QUEUE == "thread":
            from grading.tasks import embedded_worker

            embedded_worker.start(recover=True)
            self.stdout.write(f"grading: {settings.LAB_EMBEDDED_WORKERS} in-process worker thread(s)")
        self.stdout.write(f"serving http://{options['host']}:{options['port']}/")
        CommandLineInterface().run(
            ["--bind", options["host"], "--port", str(options["port"]), "labplatform.asgi:application"]
        )
