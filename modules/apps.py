"""The modules app: content as rows, progress, unlocks, hints, reflections, notes, drafts, roles, the pages."""

from typing import Any, ClassVar

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from modules.roles import AUTHOR_GROUP, INSTRUCTOR_GROUP, LEARNER_GROUP, RolePermissions


def _ensure_roles(sender: AppConfig, **kwargs: Any) -> None:
    """After an app's migrate (its permissions exist from then on), grant what it declares to the roles."""
    if getattr(sender, "role_permissions", None):
        from modules.services import roles_ensure

        roles_ensure(app_configs=[sender])


class ModulesConfig(AppConfig):
    name = "modules"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        LEARNER_GROUP: ("modules.view_module",),
        INSTRUCTOR_GROUP: (
            "auth.view_user",
            "modules.view_module",
            "modules.view_route",
            "modules.view_progress",
            "modules.view_unlock",
            "modules.add_unlock",
            "modules.delete_unlock",
            "modules.view_reflection",
            "modules.view_hintreveal",
        ),
        AUTHOR_GROUP: (
            "modules.view_module",
            "modules.change_module",
            "modules.view_route",
            "modules.add_route",
            "modules.change_route",
            "modules.view_upstreamreport",
        ),
    }

    def ready(self) -> None:
        # Groups need the permissions Django creates after migrating each app, so every app's grants are applied
        # right after its own post-migrate step (an app later in INSTALLED_APPS has no permissions before that).
        post_migrate.connect(_ensure_roles, dispatch_uid="modules.roles_ensure")
