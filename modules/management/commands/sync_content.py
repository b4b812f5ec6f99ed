"""``manage.py sync_content``: load content/ into Module rows (idempotent, versioned by content hash)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from modules.services import content_sync


class Command(BaseCommand):
    help = "Load content/NN-slug folders into the database; prints created/updated/unchanged/retired counts."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--content-dir", type=Path, default=None, help="content folder (default LAB_CONTENT_DIR)"
        )
        parser.add_argument(
            "--include-drafts", action="store_true", help="also load modules marked status: draft"
        )
        parser.add_argument("--strict", action="store_true", help="fail when any module folder is invalid")
        parser.add_argument(
            "--starters-dir",
            type=Path,
            default=None,
            help="where to write the generated starters as files (default LAB_STARTERS_DIR, var/starters)",
        )
        parser.add_argument(
            "--figures-dir",
            type=Path,
            default=None,
            help="the generated handout figures, regenerated when stale (default LAB_FIGURES_DIR, var/figures)",
        )

    def handle(self, *args, **options) -> None:
        report = content_sync(
            content_dir=options["content_dir"],
            include_drafts=options["include_drafts"],
            starters_dir=options["starters_dir"] or settings.LAB_STARTERS_DIR,
            figures_dir=options["figures_dir"],
        )
        for label, slugs in (
            ("created", report.created),
            ("updated", report.updated),
            ("retired", report.retired),
        ):
            for slug in slugs:
                self.stdout.write(f"{label}: {slug}")
        for folder, problems in report.errors.items():
            for problem in problems:
                self.stderr.write(f"invalid {folder}: {problem}")
        self.stdout.write(report.summary())
        if options["strict"] and report.errors:
            raise CommandError(f"{len(report.errors)} invalid module folder(s)")
