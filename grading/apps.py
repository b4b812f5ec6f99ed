"""The grading app: submissions, verdicts, streamed events, the API, tasks and websocket consumers."""

from typing import ClassVar

from django.apps import AppConfig

from modules.roles import INSTRUCTOR_GROUP, RolePermissions


class GradingConfig(AppConfig):
    name = "grading"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions: ClassVar[RolePermissions] = {
        INSTRUCTOR_GROUP: (
            "grading.view_learner",
            "grading.view_submission",
            "grading.view_result",
            "grading.view_submissionevent",
        ),
    }

    def ready(self) -> None:
        from grading import pages, queues, tasks
        from modules import pages as module_pages

        queues.sender_install(tasks.enqueue)
        queues.waker_install(tasks.wake)
        module_pages.module_page.register("grading", pages.module_page_data)
