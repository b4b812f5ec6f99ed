"""The discussions app: threads and posts on a module, mentor review of one attempt, the mentors' queue."""

from django.apps import AppConfig


class DiscussionsConfig(AppConfig):
    name = "grading.discussions"
    label = "discussions"
    verbose_name = "discussions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from grading.discussions import pages
        from modules import pages as module_pages

        module_pages.dashboard.register("discussions", pages.dashboard_data)
