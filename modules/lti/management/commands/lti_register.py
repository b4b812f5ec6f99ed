"""Register (or update) an LMS platform from the command line, as the admin's form does (for scripted setups)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modules.lti import services


class Command(BaseCommand):
    help = (
        "Register an LTI 1.3 platform: issuer, client id, its endpoints, deployment ids and framing origins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="a name for the admin")
        parser.add_argument("--issuer", required=True, help="the platform's iss")
        parser.add_argument("--client-id", required=True, help="the client id the platform gave the lab")
        parser.add_argument(
            "--auth-login-url", required=True, help="the platform's OIDC authorization endpoint"
        )
        parser.add_argument("--auth-token-url", required=True, help="the platform's OAuth 2 token endpoint")
        parser.add_argument("--key-set-url", required=True, help="the platform's JWKS URL")
        parser.add_argument("--deployment", action="append", default=[], help="a deployment id (repeatable)")
        parser.add_argument(
            "--frame-origin", action="append", default=[], help="an origin that frames the lab"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        platform = services.platform_register(
            name=options["name"],
            issuer=options["issuer"],
            client_id=options["client_id"],
            auth_login_url=options["auth_login_url"],
            auth_token_url=options["auth_token_url"],
            key_set_url=options["key_set_url"],
            deployment_ids=options["deployment"],
            frame_origins=options["frame_origin"],
        )
        self.stdout.write(f"lti: registered platform {platform.pk} ({platform.issuer}, {platform.client_id})")
