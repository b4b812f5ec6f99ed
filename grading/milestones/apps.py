"""The milestones app: notifications in the page, certificates anyone can verify, study time and the weekly
report. It sits above grading (attempts are submissions) and below discussions (which tells it about replies)."""

from typing import ClassVar

from django.apps import AppConfig

from modules.roles import INSTRUCTOR_GROUP, RolePermissions


class MilestonesConfig(AppConfig):
    name = "grading.milestones"
    label = "milestones"
    verbose_name = "milestones"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        INSTRUCTOR_GROUP: ("milestones.view_certificate", "milestones.view_studyday"),
    }

    def ready(self) -> None:
        from grading.milestones import pages, services
        from modules import listeners
        from modules import pages as module_pages

        module_pages.dashboard.register("milestones", pages.dashboard_data)
        listeners.standing_changed.register("milestones", services.milestones_sync)
