"""The discussions app: threads and posts on a module, mentor review of one attempt, the mentors' queue."""

from typing import ClassVar

from django.apps import AppConfig

from modules.roles import INSTRUCTOR_GROUP, RolePermissions


class DiscussionsConfig(AppConfig):
    name = "grading.discussions"
    label = "discussions"
    verbose_name = "discussions"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        INSTRUCTOR_GROUP: ("discussions.view_thread", "discussions.change_thread", "discussions.view_post"),
    }

    def ready(self) -> None:
        from grading.discussions import pages
        from modules import pages as module_pages

        module_pages.dashboard.register("discussions", pages.dashboard_data)
