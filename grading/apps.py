"""The grading app: submissions, verdicts, streamed events, the API, tasks and websocket consumers."""

from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from grading import pages
        from modules import pages as module_pages

        module_pages.module_page.register("grading", pages.module_page_data)
