"""``manage.py export_content``: write modules edited in the admin back into content/ (git stays the source of
truth), then check that the files read back as the admin's version (``modules.services.content_export``)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from modules.models import Module
from modules.services import ServiceError, content_export


class Command(BaseCommand):
    help = "Write admin edits (titles, summaries, guides, hints, reflection) back into content/NN-slug files."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "slugs", nargs="*", help="modules to export (default: every module with admin edits)"
        )
        parser.add_argument(
            "--content-dir", type=Path, default=None, help="content folder (default LAB_CONTENT_DIR)"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="export modules in conflict too, replacing content/'s concurrent change with the admin's version",
        )

    def handle(self, *args, **options) -> None:
        modules = Module.objects.filter(status=Module.Status.ACTIVE)
        if options["slugs"]:
            modules = modules.filter(slug__in=options["slugs"])
            missing = set(options["slugs"]) - set(modules.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"unknown module(s): {', '.join(sorted(missing))}")
        else:
            modules = modules.filter(files_document__isnull=False)
        failed = 0
        for module in modules:
            try:
                written = content_export(
                    module=module, content_dir=options["content_dir"], force=options["force"]
                )
            except ServiceError as exc:
                self.stderr.write(f"not exported {module.slug}: {exc}")
                failed += 1
                continue
            self.stdout.write(f"exported {module.slug}: {', '.join(written) or 'no file changed'}")
        if failed:
            raise CommandError(f"{failed} module(s) not exported")
