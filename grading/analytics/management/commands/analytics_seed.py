"""``manage.py analytics_seed``: add a synthetic class for the analytics benchmark (``grading.analytics.seeding``)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from grading.analytics.seeding import class_seed


class Command(BaseCommand):
    help = "Add a synthetic class (learners × active modules × attempts) for the analytics benchmark."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--learners", type=int, default=10_000, help="learners to add (default 10,000)")
        parser.add_argument("--attempts", type=int, default=20, help="graded attempts per learner and module")
        parser.add_argument("--weeks", type=int, default=12, help="sign-ups spread over this many past weeks")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same class)")
        parser.add_argument("--prefix", default="seed-", help="usernames are <prefix><number>")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["learners"] < 1 or options["attempts"] < 1 or options["weeks"] < 1:
            raise CommandError("--learners, --attempts and --weeks must be at least 1")
        began = time.perf_counter()
        try:
            report = class_seed(
                learners=options["learners"],
                attempts=options["attempts"],
                weeks=options["weeks"],
                seed=options["seed"],
                prefix=options["prefix"],
                log=lambda line: self.stdout.write(line),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"seeded {report.learners} learners, {report.submissions} attempts, {report.progress} progress rows, "
            f"{report.surveys} survey answers in {time.perf_counter() - began:.1f} s"
        )
