"""LTI writes: accept a validated launch, answer a deep-linking request, owe and deliver scores, sync roles.

Design choices:
- ``launch_validate`` runs every pylti1p3 check (state, signature, audience, expiry, nonce, deployment, message)
  and the lab's own (roles present, nonce unused). Nothing is written before every check has passed: a refused
  launch leaves no account, identity, link or membership behind (``LaunchRefused`` carries the reason shown).
- ``launch_accept`` maps the launch onto lab rows: one account per platform identity (``iss`` + ``sub``), made on
  the first launch with an unusable password and a generated name, never matched to an existing local account;
  instructor-like LTI roles (Instructor, Administrator, TeachingAssistant, ContentDeveloper) put the account in the
  ``instructor`` group, any other role in ``learner``; roles only add (an account that teaches one course and
  takes another is an instructor). Admin access (``is_staff``) is never granted by a launch: the lab's roles are
  site-wide, so an operator decides who sees every learner. The same mapping serves Names and Role Provisioning
  (``roster_sync``).
- Grade passback follows ``DECISIONS.md``: a module's score goes to the platform when the module becomes
  *completed* (passed + reflection). ``passback_owe`` writes one ``Passback`` row per link the learner launched
  that places that module (or the whole route) and hands the ids to ``passback_queue`` after commit.
  ``passback_deliver`` posts the AGS score; a failure keeps the row pending with an exponential ``next_attempt_at``
  and the queue retries it (Celery ``countdown`` in production, a timer thread in embedded mode,
  ``manage.py lti_passback`` for anything a restart dropped) until the platform accepts it; a sent row is never
  sent again, so each score reaches the platform exactly once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import jwt
import requests
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from pylti1p3.contrib.django import DjangoOIDCLogin
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector

from modules.lti.models import Deployment, Identity, LinkMember, Passback, Platform, ResourceLink
from modules.lti.tool import (
    CachedKeysMessageLaunch,
    DatabaseLaunchStorage,
    PlatformToolConf,
    launch_states_purge,
    registration_of,
)
from modules.models import Module, Progress
from modules.roles import INSTRUCTOR_GROUP, LEARNER_GROUP

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLES_CLAIM = CLAIM + "roles"
CUSTOM_CLAIM = CLAIM + "custom"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
#: LTI role names (the last part of the role URI) that make an account an instructor of the lab.
INSTRUCTOR_ROLES = frozenset({"Instructor", "Administrator", "TeachingAssistant", "ContentDeveloper"})
#: Retry delays of a pending score: doubling from the first, capped.
RETRY_FIRST_SECONDS = 30
RETRY_MAX_SECONDS = 3600


class LaunchRefused(Exception):
    """A launch (or login initiation) that failed a check; ``code`` names the check, the message says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


#: pylti1p3's messages -> the refusal they mean.
_LIBRARY_REFUSALS = (
    ("Signature has expired", "expired"),
    ("Signature verification failed", "bad_signature"),
    ("Unable to find public key", "bad_signature"),
    ("Registration not found", "unknown_platform"),
    ("Client id not registered", "wrong_audience"),
    ("Unable to find deployment", "unknown_deployment"),
    ("Invalid Nonce", "replayed"),
    ("State not found", "bad_state"),
    ("Missing Roles Claim", "missing_roles"),
    ("Missing state", "bad_state"),
)


def _refusal(exc: Exception) -> LaunchRefused:
    text = str(exc)
    for needle, code in _LIBRARY_REFUSALS:
        if needle in text:
            return LaunchRefused(code, text)
    return LaunchRefused("invalid", text)


# --- registration -------------------------------------------------------------------------------------------------
def platform_register(
    *,
    name: str,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    deployment_ids: Iterable[str],
    frame_origins: Iterable[str] = (),
) -> Platform:
    """Register a platform (or update the one with this issuer and client id) with its deployments; validated as
    the admin's form validates it."""
    with transaction.atomic():
        platform = Platform.objects.filter(issuer=issuer, client_id=client_id).first() or Platform(
            issuer=issuer, client_id=client_id
        )
        platform.name = name
        platform.auth_login_url = auth_login_url
        platform.auth_token_url = auth_token_url
        platform.key_set_url = key_set_url
        platform.frame_origins = ",".join(frame_origins)
        platform.is_active = True
        platform.full_clean(validate_unique=False)
        platform.save()
        for deployment_id in deployment_ids:
            Deployment.objects.get_or_create(platform=platform, deployment_id=deployment_id)
    return platform


# --- login and launch ---------------------------------------------------------------------------------------------
def login_redirect(*, request: HttpRequest, launch_url: str) -> Any:
    """Answer an OIDC third-party login initiation: the redirect to the platform's authorization endpoint."""
    launch_states_purge()  # logins that were never completed leave their state behind
    try:
        login = DjangoOIDCLogin(request, PlatformToolConf(), launch_data_storage=DatabaseLaunchStorage())
        return login.disable_check_cookies().redirect(launch_url)
    except (LtiException, OIDCException) as exc:
        raise LaunchRefused("unknown_platform", str(exc)) from exc


@dataclass(frozen=True)
class Launch:
    """A launch that passed every check."""

    platform: Platform
    data: dict[str, Any]
    message: CachedKeysMessageLaunch

    @property
    def roles(self) -> list[str]:
        return list(self.data.get(ROLES_CLAIM) or [])

    @property
    def is_deep_link(self) -> bool:
        return bool(self.message.is_deep_link_launch())


def launch_validate(*, request: HttpRequest) -> Launch:
    """Run every check of a launch POST; raise ``LaunchRefused`` on the first that fails. Writes nothing but the
    nonce's consumption (and pylti1p3's own record of the validated launch), and only once all checks passed."""
    storage = DatabaseLaunchStorage()
    message = CachedKeysMessageLaunch(request, PlatformToolConf(), launch_data_storage=storage)
    try:
        data = dict(message.get_launch_data())
    except LtiException as exc:
        refusal = _refusal(exc)
        if (
            refusal.code == "unknown_platform"
            and Platform.objects.filter(issuer=_unverified_issuer(request)).exists()
        ):
            refusal = LaunchRefused("wrong_audience", str(exc))
        raise refusal from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a malformed token or claim
        raise LaunchRefused("invalid", str(exc) or type(exc).__name__) from exc
    if not isinstance(data.get(ROLES_CLAIM), list):  # an empty list is allowed: no role, a learner
        raise LaunchRefused("missing_roles", "the launch carries no roles claim")
    if not isinstance(data.get("sub"), str) or not data["sub"]:
        raise LaunchRefused("invalid", "an anonymous launch (no sub) cannot have a lab account")
    aud = data.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and data.get("azp") != message.get_client_id():
        raise LaunchRefused("wrong_audience", "several audiences and no authorized party naming the lab")
    platform = PlatformToolConf.platform(str(data["iss"]), message.get_client_id())
    if platform is None:  # deactivated between the checks
        raise LaunchRefused("unknown_platform", "platform not registered")
    if not storage.nonce_consume(str(data["nonce"])):
        raise LaunchRefused("replayed", "this launch was already used")
    return Launch(platform=platform, data=data, message=message)


def _unverified_issuer(request: HttpRequest) -> str:
    """The ``iss`` a refused token claims (only to tell a wrong audience from an unknown platform)."""
    try:
        return str(
            jwt.decode(request.POST.get("id_token", ""), options={"verify_signature": False}).get("iss")
        )
    except jwt.InvalidTokenError:
        return ""


def _role_names(roles: Iterable[str]) -> set[str]:
    return {str(r).rsplit("#", 1)[-1].rsplit("/", 1)[-1] for r in roles}


def role_group(roles: Iterable[str]) -> str:
    """The lab role an LTI role list maps onto."""
    return INSTRUCTOR_GROUP if _role_names(roles) & INSTRUCTOR_ROLES else LEARNER_GROUP


def _username(platform: Platform, sub: str) -> str:
    digest = hashlib.sha256(f"{platform.pk}:{sub}".encode()).hexdigest()[:12]
    return f"lti-{platform.pk}-{digest}"


def _user_roles_apply(user: User, group_name: str) -> None:
    group, _ = Group.objects.get_or_create(name=group_name)
    user.groups.add(group)


def identity_ensure(*, platform: Platform, sub: str, data: dict[str, Any]) -> User:
    """The lab account of a platform user: found by (platform, sub), or made, never merged with another."""
    identity = Identity.objects.select_related("user").filter(platform=platform, sub=sub).first()
    if identity:
        return identity.user
    user = User(
        username=_username(platform, sub),
        first_name=str(data.get("given_name") or "")[:150],
        last_name=str(data.get("family_name") or "")[:150],
        email=str(data.get("email") or "")[:254],
    )
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
            Identity.objects.create(platform=platform, sub=sub, user=user, created_at=timezone.now())
    except IntegrityError:  # a concurrent first launch of the same identity
        return Identity.objects.select_related("user").get(platform=platform, sub=sub).user
    return user


def launch_accept(*, launch: Launch) -> tuple[User, ResourceLink | None]:
    """Write what a validated launch means: the account, its roles, the link placed in the course and its member."""
    data = launch.data
    now = timezone.now()
    with transaction.atomic():
        user = identity_ensure(platform=launch.platform, sub=str(data.get("sub") or ""), data=data)
        _user_roles_apply(user, role_group(launch.roles))
        link = None
        resource = data.get(CLAIM + "resource_link") or {}
        if not launch.is_deep_link and resource.get("id"):
            custom = data.get(CUSTOM_CLAIM) or {}
            context = data.get(CLAIM + "context") or {}
            ags = data.get(AGS_CLAIM) or {}
            nrps = data.get(NRPS_CLAIM) or {}
            module = Module.objects.filter(slug=str(custom.get("module") or ""), status="active").first()
            link, _ = ResourceLink.objects.update_or_create(
                platform=launch.platform,
                resource_link_id=str(resource["id"]),
                defaults={
                    "deployment_id": str(data.get(CLAIM + "deployment_id") or ""),
                    "context_id": str(context.get("id") or "")[:255],
                    "context_title": str(context.get("title") or "")[:500],
                    "module": module,
                    "lineitem_url": str(ags.get("lineitem") or "")[:1000],
                    "ags_scopes": list(ags.get("scope") or []),
                    "memberships_url": str(nrps.get("context_memberships_url") or "")[:1000],
                },
            )
            LinkMember.objects.update_or_create(
                link=link, user=user, defaults={"roles": launch.roles, "last_launch_at": now}
            )
    return user, link


# --- deep linking -------------------------------------------------------------------------------------------------
def deep_link_choices(*, launch: Launch, modules: Iterable[Module], launch_url: str) -> list[dict[str, Any]]:
    """One signed deep-linking response per choice (each module, then the whole route), for the instructor to pick:
    the page posts the chosen one straight back to the platform, no script needed."""
    deep_link = launch.message.get_deep_link()
    settings_claim = (
        launch.data.get("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings") or {}
    )
    choices = []
    for module in modules:
        title = module.title.get("en") or module.slug
        resource = (
            DeepLinkResource()
            .set_url(launch_url)
            .set_title(title)
            .set_custom_params({"module": module.slug})
            .set_lineitem(
                LineItem()
                .set_score_maximum(100)
                .set_label(title)
                .set_resource_id(module.slug)
                .set_tag("module")
            )
        )
        choices.append({"module": module, "jwt": deep_link.get_response_jwt([resource])})
    route = DeepLinkResource().set_url(launch_url).set_title("nanochat Lab").set_custom_params({"module": ""})
    route.set_lineitem(LineItem().set_score_maximum(100).set_label("nanochat Lab").set_resource_id("route"))
    choices.append({"module": None, "jwt": deep_link.get_response_jwt([route])})
    return [{**c, "return_url": settings_claim.get("deep_link_return_url", "")} for c in choices]


# --- names and roles ----------------------------------------------------------------------------------------------
def roster_sync(*, link: ResourceLink, session: requests.Session | None = None) -> int:
    """Read the course roster (NRPS) of ``link`` and map the roles of members who have a lab account; returns how
    many accounts were updated. Members who never launched get no account (made at their first launch)."""
    if not link.memberships_url:
        return 0
    connector = ServiceConnector(registration_of(link.platform), requests_session=session)
    url: str | None = link.memberships_url
    updated = 0
    while url:
        page = connector.make_service_request(
            [NRPS_SCOPE], url, accept="application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        )
        body: Any = page["body"] or {}
        for member in body.get("members", []):
            identity = Identity.objects.filter(platform=link.platform, sub=str(member.get("user_id"))).first()
            if identity:
                _user_roles_apply(identity.user, role_group(member.get("roles") or []))
                updated += 1
        url = page.get("next_page_url")
    return updated


# --- grade passback -----------------------------------------------------------------------------------------------
Sender = Callable[[int, float], None]
_sender: Sender | None = None


def passback_sender_install(sender: Sender) -> None:
    """``LtiConfig.ready`` installs ``tasks.enqueue``: what sends a pending score after ``delay`` seconds (the tasks
    call the services, so the services do not import the tasks)."""
    global _sender
    _sender = sender


def passback_queue(passback_id: int, *, delay_seconds: float = 0) -> None:
    if _sender is None:
        raise RuntimeError("no passback queue installed: LtiConfig.ready installs modules.lti.tasks.enqueue")
    _sender(passback_id, delay_seconds)


def passback_owe(*, user: User, module: Module) -> list[int]:
    """``module`` became completed for ``user``: owe its score to every link of theirs that places it (or the
    route); the rows go to the queue after commit. Idempotent: a score already owed is not owed twice."""
    progress = Progress.objects.filter(user=user, module=module).first()
    if progress is None:
        return []
    links = ResourceLink.objects.filter(linkmember__user=user).exclude(lineitem_url="")
    links = links.filter(module=module) | links.filter(module=None)
    completed = Progress.objects.filter(user=user, status=Progress.Status.COMPLETED).count()
    total = Module.objects.filter(status="active").count() or 1
    now = timezone.now()
    ids = []
    for link in links.distinct():
        if link.module_id is None:
            given, maximum = 100.0 * completed / total, 100.0
        else:
            given, maximum = progress.best_score, progress.max_score or 1.0
        passback, created = Passback.objects.get_or_create(
            link=link,
            user=user,
            module=module,
            defaults={
                "score_given": given,
                "score_maximum": maximum,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
        if created:
            ids.append(passback.pk)
    for passback_id in ids:
        transaction.on_commit(partial(passback_queue, passback_id))
    return ids


@dataclass(frozen=True)
class Delivery:
    sent: bool
    retry_in: float | None = None  # seconds until the next try, when the platform did not accept it


def passback_deliver(*, passback_id: int, session: requests.Session | None = None) -> Delivery:
    """Post one owed score to the platform's AGS line item. Sent rows are skipped; a failure is recorded and a
    retry delay returned."""
    with transaction.atomic():
        passback = (
            Passback.objects.select_for_update()
            .select_related("link__platform", "user__lti_identity")
            .filter(pk=passback_id)
            .first()
        )
        if passback is None or passback.status == Passback.Status.SENT:
            return Delivery(sent=False)
        link = passback.link
        grade = (
            Grade()
            .set_score_given(passback.score_given)
            .set_score_maximum(passback.score_maximum)
            .set_activity_progress("Completed")
            .set_grading_progress("FullyGraded")
            .set_timestamp(timezone.now().isoformat())
            .set_user_id(Identity.objects.get(user=passback.user).sub)
        )
        connector = ServiceConnector(registration_of(link.platform), requests_session=session)
        url = link.lineitem_url.split("?", 1)
        score_url = url[0].rstrip("/") + "/scores" + (f"?{url[1]}" if len(url) > 1 else "")
        try:
            connector.make_service_request(
                [SCORE_SCOPE],
                score_url,
                is_post=True,
                data=grade.get_value(),
                content_type="application/vnd.ims.lis.v1.score+json",
            )
        except Exception as exc:  # the platform is down, refuses the token, answers 5xx: try again later
            passback.attempts += 1
            delay = min(RETRY_FIRST_SECONDS * 2 ** (passback.attempts - 1), RETRY_MAX_SECONDS)
            passback.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            passback.last_error = str(exc)[:2000]
            passback.save(update_fields=["attempts", "next_attempt_at", "last_error"])
            log.warning("lti passback %s failed (attempt %s): %s", passback.pk, passback.attempts, exc)
            return Delivery(sent=False, retry_in=delay)
        passback.attempts += 1
        passback.status = Passback.Status.SENT
        passback.sent_at = timezone.now()
        passback.last_error = ""
        passback.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    return Delivery(sent=True)


def passbacks_due() -> list[int]:
    """Pending scores whose retry time has come (``manage.py lti_passback``)."""
    return list(
        Passback.objects.filter(status=Passback.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)
    )
