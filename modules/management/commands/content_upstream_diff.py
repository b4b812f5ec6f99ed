"""``manage.py content_upstream_diff --from 48abd7d --to <commit> --repo <nanochat checkout>``: which modules,
steps, guide sections and tests a newer nanochat commit affects (``modules/upstream.py``).

Markdown on stdout by default (``--format json`` for the JSON); ``--markdown FILE`` and ``--json FILE`` write either
to a file; ``--save`` keeps the run for the admin's dashboard. ``--fail-on-change`` exits 1 when any module is
affected, for a scheduled sync job. The repository is only read (``git show``), never changed or copied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from modules import spec, upstream


class Command(BaseCommand):
    help = "Report which modules, steps, guide sections and tests a range of nanochat commits affects."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--from", dest="old", default=spec.UPSTREAM_COMMIT, help="older commit (the pin)")
        parser.add_argument("--to", dest="new", required=True, help="newer commit")
        parser.add_argument(
            "--repo", type=Path, required=True, help="a nanochat git repository (work tree or bare)"
        )
        parser.add_argument("--module", action="append", default=None, help="only this module (repeatable)")
        parser.add_argument(
            "--format", choices=("markdown", "json"), default="markdown", help="what stdout gets"
        )
        parser.add_argument("--markdown", type=Path, default=None, help="also write the Markdown report here")
        parser.add_argument("--json", type=Path, default=None, help="also write the JSON report here")
        parser.add_argument("--save", action="store_true", help="keep the run for the admin dashboard")
        parser.add_argument(
            "--content-dir", type=Path, default=None, help="content folder (default LAB_CONTENT_DIR)"
        )
        parser.add_argument(
            "--fail-on-change", action="store_true", help="exit 1 when any module is affected"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        repo: Path = options["repo"]
        if not repo.exists():
            raise CommandError(f"--repo {repo}: no such directory")
        content_dir = options["content_dir"] or settings.LAB_CONTENT_DIR
        try:
            specs = spec.course(Path(content_dir))
            report = upstream.diff_report(
                repo, options["old"], options["new"], specs, modules=options["module"]
            )
        except (upstream.UpstreamError, spec.SpecError) as exc:
            raise CommandError(str(exc)) from None
        markdown = upstream.to_markdown(report)
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        if options["markdown"]:
            options["markdown"].write_text(markdown, encoding="utf-8")
        if options["json"]:
            options["json"].write_text(text + "\n", encoding="utf-8")
        if options["save"]:
            from modules.models import UpstreamReport

            saved = UpstreamReport.objects.create(
                from_ref=options["old"],
                to_ref=options["new"],
                from_commit=report["from_commit"],
                to_commit=report["to_commit"],
                modules_affected=report["modules_affected"],
                modules_checked=report["modules_checked"],
                report=json.loads(text),
                markdown=markdown,
            )
            self.stderr.write(f"saved as upstream report {saved.pk}")
        self.stdout.write(markdown if options["format"] == "markdown" else text)
        if options["fail_on_change"] and report["modules_affected"]:
            raise SystemExit(1)
