"""The modules app: content as rows, progress, unlocks, hints, reflections, notes, drafts, pages."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs) -> None:  # noqa: ANN001 - Django signal signature
    from modules.services import roles_ensure

    roles_ensure()


class ModulesConfig(AppConfig):
    name = "modules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Groups need the permissions Django creates after migrating, so they are ensured after every migrate.
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="modules.roles_ensure")
