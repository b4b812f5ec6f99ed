"""Rotate the lab's LTI signing key: a new key signs from now on, the previous one stays in the JWKS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from modules.lti.tool import tool_key_rotate


class Command(BaseCommand):
    help = "Make a new LTI signing key; keep the previous one published, retire older ones."

    def handle(self, *args: Any, **options: Any) -> None:
        key = tool_key_rotate()
        self.stdout.write(f"lti: signing with key {key.kid}")
