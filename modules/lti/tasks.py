"""The passback task (production): deliver one owed score; a refusal schedules the next try on the same queue."""

from __future__ import annotations

from celery import shared_task

from modules.lti import services


@shared_task(name="lti.passback_deliver", acks_late=True, ignore_result=True, queue="short")
def passback_deliver_task(passback_id: int) -> bool:
    outcome = services.passback_deliver(passback_id=passback_id)
    if outcome.retry_in is not None:
        services.passback_queue(passback_id, delay_seconds=outcome.retry_in)
    return outcome.sent
