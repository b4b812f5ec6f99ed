"""``manage.py ensure_demo_learner``: the demo learner (demo / nanochat-demo) exists with that password."""

from django.core.management.base import BaseCommand

from modules.services import demo_learner_ensure


class Command(BaseCommand):
    help = "Create or reset the demo learner account."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="nanochat-demo")

    def handle(self, *args, **options) -> None:
        user, created = demo_learner_ensure(username=options["username"], password=options["password"])
        self.stdout.write(f"{'created' if created else 'updated'}: {user.username}")
