"""Sending owed scores: the Celery task (production) or a timer thread (embedded mode); a refusal schedules the
next try the same way (``services.passback_deliver`` says when)."""

from __future__ import annotations

import threading

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections

from modules.lti import services


def _deliver(passback_id: int) -> bool:
    outcome = services.passback_deliver(passback_id=passback_id)
    if outcome.retry_in is not None:
        enqueue(passback_id, outcome.retry_in)
    return outcome.sent


@shared_task(name="lti.passback_deliver", acks_late=True, ignore_result=True, queue="short")
def passback_deliver_task(passback_id: int) -> bool:
    return _deliver(passback_id)


def _deliver_in_thread(passback_id: int) -> None:
    close_old_connections()
    try:
        _deliver(passback_id)
    except Exception:  # the row stays pending; manage.py lti_passback picks it up
        services.log.exception("lti passback %s", passback_id)
    finally:
        close_old_connections()


def enqueue(passback_id: int, delay_seconds: float = 0) -> None:
    """Send the owed score ``passback_id`` in ``delay_seconds``: on the ``short`` Celery queue in production, on a
    timer thread in embedded mode."""
    if settings.LAB_GRADING_QUEUE == "celery":
        passback_deliver_task.apply_async(args=[passback_id], countdown=delay_seconds)
        return
    timer = threading.Timer(delay_seconds, _deliver_in_thread, args=(passback_id,))
    timer.daemon = True
    timer.start()
