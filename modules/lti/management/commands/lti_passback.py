"""Send every owed LMS score whose retry time has come (run from cron, or after a restart)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from modules.lti import services


class Command(BaseCommand):
    help = "Deliver the pending LTI grade passbacks that are due."

    def handle(self, *args: Any, **options: Any) -> None:
        due = services.passbacks_due()
        sent = sum(services.passback_deliver(passback_id=pk).sent for pk in due)
        self.stdout.write(f"lti passback: {sent} sent, {len(due) - sent} still pending")
