"""The LTI 1.3 app: the lab as an external tool of a university LMS (launch, deep linking, roles, grade passback)."""

from typing import ClassVar

from django.apps import AppConfig

from modules.roles import INSTRUCTOR_GROUP, RolePermissions


class LtiConfig(AppConfig):
    name = "modules.lti"
    label = "lti"
    verbose_name = "LTI 1.3"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        INSTRUCTOR_GROUP: ("lti.view_platform", "lti.view_resourcelink", "lti.view_passback"),
    }

    def ready(self) -> None:
        from modules.lti import services, tasks

        services.passback_sender_install(tasks.enqueue)
