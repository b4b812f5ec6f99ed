"""The analytics app: the instructors' analytics page (modules, tests, cohorts, a learner's timeline, CSV) and the
learner's micro-survey. It sits on top of the apps it reads: grading (attempts), milestones and discussions
(a learner's threads), below ``labplatform``."""

from typing import ClassVar

from django.apps import AppConfig

from modules.roles import INSTRUCTOR_GROUP, RolePermissions


class AnalyticsConfig(AppConfig):
    name = "grading.analytics"
    label = "analytics"
    verbose_name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        INSTRUCTOR_GROUP: ("analytics.view_surveyresponse",),
    }

    def ready(self) -> None:
        from grading import services as grading_services
        from grading.analytics import services

        grading_services.verdict_recorded.register("analytics", services.verdict_count)
