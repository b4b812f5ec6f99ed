"""``manage.py sync_content``: load content/ into Module rows (idempotent, versioned by content hash).

Admin edits that are not exported are kept; a field both the admin and content/ changed is reported as a conflict
(the module, the field and a diff from the admin's version to the files') and left as the admin has it, unless
``--force`` (``modules.services.content_sync``)."""

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
            "--force",
            action="store_true",
            help="take content/'s version of everything edited in the admin and not exported, conflicts "
            "included (the admin's stays in the module's revisions)",
        )
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
            force=options["force"],
        )
        for label, slugs in (
            ("created", report.created),
            ("updated", report.updated),
            ("retired", report.retired),
        ):
            for slug in slugs:
                self.stdout.write(f"{label}: {slug}")
        for slug in report.kept:
            self.stdout.write(f"admin edits kept: {slug} (not in content/ yet: run manage.py export_content)")
        for slug, fields in report.conflicts.items():
            for name, diff in fields.items():
                self.stderr.write(
                    f"conflict: {slug} {name}: edited in the admin and in content/ (kept the admin's)"
                )
                self.stderr.write(diff)
            self.stderr.write(
                f"conflict: {slug}: resolve it in the admin, export the admin's version (export_content --force) "
                "or take content/'s (sync_content --force)"
            )
        for folder, problems in report.errors.items():
            for problem in problems:
                self.stderr.write(f"invalid {folder}: {problem}")
        self.stdout.write(report.summary())
        if options["strict"] and (report.errors or report.conflicts):
            raise CommandError(
                f"{len(report.errors)} invalid module folder(s), {len(report.conflicts)} conflict(s)"
            )
