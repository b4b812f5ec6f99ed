"""The grading app: submissions, verdicts, streamed events, the API, tasks and websocket consumers."""

from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    default_auto_field = "django.db.models.BigAutoField"
