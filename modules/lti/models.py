"""What the lab keeps about LMS platforms, their launches and the scores it owes them.

Design choices:
- ``Platform`` is one registration (issuer + client id) made in the admin; ``Deployment`` rows are the deployment
  ids it may launch with. An unknown deployment is refused.
- ``ToolKey`` holds the lab's own signing keys. The newest live key signs; every live key is published in the JWKS,
  so a rotation (``manage.py lti_rotate_key``) keeps the previous key verifiable until the one after.
- ``Identity`` is one platform user (``iss`` + ``sub``) and its own lab account, made at the first launch and never
  matched to a local account by name or e-mail.
- ``ResourceLink`` is a placement of the lab in a course (a module, or the whole route when ``module`` is empty),
  with the AGS line item its scores go to; ``LinkMember`` says who launched it, with which roles.
- ``Passback`` is the outbox of scores owed: one row per (link, learner, module), sent until the platform accepts
  it, never twice (``services.passback_deliver``).
- ``LaunchState`` holds the OIDC state/nonce between the login initiation and the launch, across processes.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

#: A web origin as CSP takes it (``https://host[:port]``, ``https://*.domain``): a path, space or quote could
#: rewrite the policy, so nothing else is accepted.
ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def origins_validate(value: str) -> None:
    for origin in (o.strip() for o in value.split(",")):
        if origin and not ORIGIN.fullmatch(origin):
            raise ValidationError(f"{origin!r} is not an origin like https://school.instructure.com")


class Platform(models.Model):
    name = models.CharField(max_length=200)
    issuer = models.CharField(
        max_length=255, help_text="The platform's iss, e.g. https://canvas.instructure.com"
    )
    client_id = models.CharField(max_length=255, help_text="The client id the platform gave the lab")
    auth_login_url = models.URLField(max_length=500, help_text="OIDC authorization endpoint of the platform")
    auth_token_url = models.URLField(max_length=500, help_text="OAuth 2 token endpoint (for grade passback)")
    auth_audience = models.CharField(
        max_length=500, blank=True, help_text="Token audience, if not the token URL"
    )
    key_set_url = models.URLField(max_length=500, help_text="The platform's public JWKS")
    frame_origins = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Comma list of origins that frame the lab for this platform (https://school.instructure.com)",
        validators=[origins_validate],
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"


class Deployment(models.Model):
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "deployment_id"], name="lti_deployment_unique")
        ]

    def __str__(self) -> str:
        return self.deployment_id


class ToolKey(models.Model):
    kid = models.CharField(max_length=100, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.kid


class Identity(models.Model):
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="identities")
    sub = models.CharField(max_length=255)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_identity"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "sub"], name="lti_identity_unique")]


class ResourceLink(models.Model):
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="links")
    deployment_id = models.CharField(max_length=255)
    context_id = models.CharField(max_length=255, blank=True)
    context_title = models.CharField(max_length=500, blank=True)
    resource_link_id = models.CharField(max_length=255)
    module = models.ForeignKey("modules.Module", null=True, blank=True, on_delete=models.SET_NULL)
    lineitem_url = models.URLField(max_length=1000, blank=True)
    ags_scopes = models.JSONField(default=list, blank=True)
    memberships_url = models.URLField(max_length=1000, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="LinkMember", related_name="lti_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "resource_link_id"], name="lti_resource_link_unique")
        ]

    def __str__(self) -> str:
        return f"{self.context_title or self.context_id} / {self.module or 'route'}"


class LinkMember(models.Model):
    link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    roles = models.JSONField(default=list)
    last_launch_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "user"], name="lti_link_member_unique")]


class Passback(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"

    link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE, related_name="passbacks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    module = models.ForeignKey("modules.Module", on_delete=models.CASCADE)
    score_given = models.FloatField()
    score_maximum = models.FloatField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "user", "module"], name="lti_passback_unique"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]


class LaunchState(models.Model):
    key = models.CharField(max_length=255, unique=True)
    value = models.JSONField()
    expires_at = models.DateTimeField(db_index=True)
