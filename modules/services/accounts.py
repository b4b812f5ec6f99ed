"""Accounts and roles: groups and their permissions, learners, sign-in attempts, the demo learner, a learner's
settings and e-mail.

Part of ``modules.services`` (its docstring holds the design choices); import from there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.apps import AppConfig
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from modules.models import (
    AuthAttempt,
    LearnerSettings,
    Route,
)
from modules.roles import GROUPS, LEARNER_GROUP, RolePermissions
from modules.selectors import username_lookalike_exists
from modules.services.errors import InvalidInput

log = logging.getLogger(__name__)


# --- roles --------------------------------------------------------------------------------------------------------
def roles_ensure(*, app_configs: Iterable[AppConfig] | None = None) -> None:
    """The learner/instructor/author groups exist and hold what ``app_configs`` (default: every installed app)
    grant them in their ``role_permissions`` (idempotent; ``modules.apps`` runs it after each app's migrate).

    Permissions that do not exist yet (their app is not migrated) are skipped; the app's own migrate grants them.
    """
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in GROUPS}
    for config in django_apps.get_app_configs() if app_configs is None else app_configs:
        granted: RolePermissions = getattr(config, "role_permissions", {})
        for group_name, perms in granted.items():
            wanted = Q(pk__in=[])
            for perm in perms:
                app_label, codename = perm.split(".", 1)
                wanted |= Q(content_type__app_label=app_label, codename=codename)
            groups[group_name].permissions.add(*Permission.objects.filter(wanted))


def learner_create(*, username: str, password: str, email: str = "") -> User:
    """A new learner account (the signup page's service); a name that looks like an existing one (same confusable
    skeleton, ``modules.usernames``) is refused, so nobody can pose as another learner or a mentor."""
    if username_lookalike_exists(username=username):
        raise InvalidInput(
            _("This username looks too much like an existing username. Please choose another."),
            code="username_lookalike",
        )
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, email=email)
        roles_ensure()
        user.groups.add(Group.objects.get(name=LEARNER_GROUP))
    return user


def _auth_attempt_record(*, kind: str, username: str, address: str | None) -> None:
    """One more row for the throttles, and rows older than any throttle looks back are dropped."""
    now = timezone.now()
    AuthAttempt.objects.create(kind=kind, username=username[:150], address=address, created_at=now)
    horizon = max(settings.LAB_LOGIN_FAILURE_WINDOW_SECONDS, 3600)
    AuthAttempt.objects.filter(created_at__lt=now - timedelta(seconds=horizon)).delete()


def login_failure_record(*, username: str, address: str | None) -> None:
    """A failed login as ``username`` (an account or not) from ``address``."""
    _auth_attempt_record(kind=AuthAttempt.Kind.LOGIN_FAILED, username=username, address=address)


def login_failures_clear(*, username: str) -> None:
    """A successful login: the account's earlier failures no longer count towards its lock."""
    AuthAttempt.objects.filter(kind=AuthAttempt.Kind.LOGIN_FAILED, username=username).delete()


def signup_attempt_record(*, address: str | None) -> None:
    """A sign-up request from ``address`` (whether or not it creates an account)."""
    _auth_attempt_record(kind=AuthAttempt.Kind.SIGNUP, username="", address=address)


def demo_learner_ensure(*, username: str = "demo", password: str = "nanochat-demo") -> tuple[User, bool]:
    """The demo learner exists, is active, is a learner and has the documented password."""
    roles_ensure()
    user, created = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    user.groups.add(Group.objects.get(name=LEARNER_GROUP))
    return user, created


EDITOR_FONT_SIZES = (12, 13, 14, 15, 16, 18, 20)
EDITOR_TAB_SIZES = (2, 4, 8)


def learner_settings_update(
    *,
    user: User,
    route_slug: str | None = None,
    editor_font_size: int | None = None,
    editor_tab_size: int | None = None,
    editor_minimap: bool | None = None,
) -> LearnerSettings:
    """Save what is given of the learner's settings (``None`` leaves a field as it is); an unknown route or a size
    outside the offered ones is refused."""
    route = None
    if route_slug is not None:
        route = Route.objects.filter(slug=route_slug).first()
        if route is None:
            raise InvalidInput(_("unknown route"), code="route_unknown")
    if editor_font_size is not None and editor_font_size not in EDITOR_FONT_SIZES:
        raise InvalidInput(_("unsupported font size"), code="font_size_invalid")
    if editor_tab_size is not None and editor_tab_size not in EDITOR_TAB_SIZES:
        raise InvalidInput(_("unsupported tab width"), code="tab_size_invalid")
    with transaction.atomic():
        row, _created = LearnerSettings.objects.select_for_update().get_or_create(
            user=user, defaults={"updated_at": timezone.now()}
        )
        fields = ["updated_at"]
        if route is not None:
            row.route, fields = route, [*fields, "route"]
        if editor_font_size is not None:
            row.editor_font_size, fields = editor_font_size, [*fields, "editor_font_size"]
        if editor_tab_size is not None:
            row.editor_tab_size, fields = editor_tab_size, [*fields, "editor_tab_size"]
        if editor_minimap is not None:
            row.editor_minimap, fields = editor_minimap, [*fields, "editor_minimap"]
        row.updated_at = timezone.now()
        row.save(update_fields=fields)
    return row


def learner_email_set(*, user: User, email: str) -> User:
    user.email = email
    user.save(update_fields=["email"])
    return user
