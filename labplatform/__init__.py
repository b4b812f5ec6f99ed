"""Floor 3: settings, urls, asgi and the Celery app; no domain logic lives here."""

from .celery import app as celery_app

__all__ = ["celery_app"]
