"""pylti1p3 wired to the lab's rows: the tool configuration, the OIDC state store and the tool's signing keys.

Design choices:
- pylti1p3 does the LTI work (OIDC login, signature, state, nonce, deployment and message checks, deep-linking
  and service JWTs); this module only tells it where things are: ``PlatformToolConf`` reads ``Platform`` and
  ``Deployment`` rows (always by issuer *and* client id, so a token for another audience finds no registration),
  ``DatabaseLaunchStorage`` keeps state and nonce in ``LaunchState`` (the login initiation and the launch may hit
  different web processes) and lets ``nonce_consume`` delete a nonce once used, so a replayed token is refused.
- The platform's keys: ``CachedKeysMessageLaunch`` keeps a platform's JWKS for ten minutes in ``LaunchState``
  (not fetched on every launch) and fetches it again once when a token names a key it lacks.
- Signing keys: ``tool_key_current`` is the newest live ``ToolKey`` (one is made on first use); ``tool_keys_jwks``
  publishes every live key; ``tool_key_rotate`` adds a key and retires all but the two newest.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone
from jwcrypto.jwk import JWK
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.exception import LtiException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from modules.lti.models import Deployment, LaunchState, Platform, ToolKey

#: Live keys kept after a rotation: the new one and the one before, which platforms may still have cached.
LIVE_KEYS = 2


# --- keys ---------------------------------------------------------------------------------------------------------
def _key_make() -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = JWK.from_pem(pem.encode())
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return ToolKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=public, created_at=timezone.now())


def tool_key_current() -> ToolKey:
    """The key the lab signs with now: the newest live one (made on first use)."""
    key = ToolKey.objects.filter(retired_at=None).order_by("-created_at", "-id").first()
    if key is None:
        with transaction.atomic():
            key = _key_make()
    return key


def tool_key_rotate() -> ToolKey:
    """Make a new signing key; keep the previous one published, retire the older ones."""
    with transaction.atomic():
        key = _key_make()
        live = list(ToolKey.objects.filter(retired_at=None).order_by("-created_at", "-id"))
        ToolKey.objects.filter(pk__in=[k.pk for k in live[LIVE_KEYS:]]).update(retired_at=timezone.now())
    return key


def tool_keys_jwks() -> dict[str, list[dict[str, Any]]]:
    """The JWKS platforms verify the lab's JWTs with (deep-linking responses, service token requests)."""
    tool_key_current()
    keys = ToolKey.objects.filter(retired_at=None).order_by("-created_at", "-id")
    return {"keys": [dict(k.public_jwk) for k in keys]}


def registration_of(platform: Platform) -> Registration:
    key = tool_key_current()
    public_pem = (
        serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    registration = (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_key_set_url(platform.key_set_url)
        .set_tool_private_key(key.private_key_pem)
        .set_tool_public_key(public_pem)
    )
    if platform.auth_audience:
        registration.set_auth_audience(platform.auth_audience)
    return registration


# --- tool configuration -------------------------------------------------------------------------------------------
class PlatformToolConf(ToolConfAbstract):
    """Registrations from ``Platform`` rows, always looked up by issuer and client id."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    @staticmethod
    def platform(iss: str, client_id: str | None) -> Platform | None:
        platforms = Platform.objects.filter(issuer=iss, is_active=True)
        if client_id:
            return platforms.filter(client_id=client_id).first()
        # The login initiation may leave client_id out: only an issuer with one registration is unambiguous.
        found = list(platforms[:2])
        return found[0] if len(found) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        raise NotImplementedError

    def find_registration_by_params(
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Registration:
        platform = self.platform(iss, client_id)
        # pylti1p3 treats a falsy answer as "registration not found".
        return registration_of(platform) if platform else None  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        raise NotImplementedError

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = self.platform(iss, client_id)
        if platform is None or not deployment_id:
            return None
        if not Deployment.objects.filter(platform=platform, deployment_id=deployment_id).exists():
            return None
        return LtiDeployment().set_deployment_id(deployment_id)


# --- OIDC state and nonce -----------------------------------------------------------------------------------------
class DatabaseLaunchStorage(LaunchDataStorage[Any]):
    """pylti1p3's launch data store over ``LaunchState`` rows (shared by every web process; expired rows ignored)."""

    #: How long a login initiation's state and nonce stay valid.
    DEFAULT_SECONDS = 600

    def get_session_cookie_name(self) -> str | None:
        # State and nonce are random and single-use; the state cookie set at login binds the launch to the browser.
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        row = LaunchState.objects.filter(key=self._prepare_key(key), expires_at__gt=timezone.now()).first()
        return row.value if row else None

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        seconds = min(exp or self.DEFAULT_SECONDS, self.DEFAULT_SECONDS)
        LaunchState.objects.update_or_create(
            key=self._prepare_key(key),
            defaults={"value": value, "expires_at": timezone.now() + timedelta(seconds=seconds)},
        )

    def check_value(self, key: str) -> bool:
        return LaunchState.objects.filter(key=self._prepare_key(key), expires_at__gt=timezone.now()).exists()

    def nonce_consume(self, nonce: str) -> bool:
        """Delete a launch's nonce; False when it was already used (or never issued): a replay."""
        deleted, _ = LaunchState.objects.filter(
            key=self._prepare_key(f"lti1p3-nonce-{nonce}"), expires_at__gt=timezone.now()
        ).delete()
        return deleted > 0


def launch_states_purge() -> int:
    deleted, _ = LaunchState.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


# --- the platform's keys ------------------------------------------------------------------------------------------
class CachedKeysMessageLaunch(DjangoMessageLaunch):
    """A launch that reads the platform's JWKS from a shared cache (``KEY_SET_CACHE_SECONDS``), fetching it again
    once when the token names a key the cached set lacks (the platform rotated its keys since)."""

    #: How long a platform's key set is reused before it is fetched again.
    KEY_SET_CACHE_SECONDS = 600

    def __init__(self, request: Any, tool_config: Any, *, launch_data_storage: DatabaseLaunchStorage) -> None:
        super().__init__(request, tool_config, launch_data_storage=launch_data_storage)
        self._key_cache = DatabaseLaunchStorage()
        self.set_public_key_caching(self._key_cache, cache_lifetime=self.KEY_SET_CACHE_SECONDS)

    def get_public_key(self) -> tuple[str, str]:
        try:
            return super().get_public_key()
        except LtiException as exc:
            if "Unable to find public key" not in str(exc) or self._registration is None:
                raise
            url = self._registration.get_key_set_url() or ""
            digest = hashlib.md5(url.encode("utf-8")).hexdigest()  # pylti1p3's cache key
            LaunchState.objects.filter(key=self._key_cache._prepare_key(f"key-set-url-{digest}")).delete()
            self._registration.set_key_set(None)
            return super().get_public_key()
