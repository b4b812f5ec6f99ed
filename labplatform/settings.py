"""Placeholder settings; the platform engineer replaces this file."""

SECRET_KEY = "placeholder-not-secret"
INSTALLED_APPS: list[str] = []
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
