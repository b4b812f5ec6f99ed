"""The Celery app (production mode): broker and task options come from Django settings (``CELERY_*``).

Workers consume the ``cpu`` queue (every module) or the ``gpu`` queue (modules whose limits ask for a GPU):
``celery -A labplatform worker -Q cpu`` / ``-Q gpu``. Tasks are discovered from each app's ``tasks.py``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labplatform.settings")

app = Celery("labplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
