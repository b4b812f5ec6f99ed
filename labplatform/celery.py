"""The Celery app (production mode): broker and task options come from Django settings (``CELERY_*``).

Workers consume the queue of one grading lane: ``short`` (ordinary tests), ``long`` (graded training runs) or
``gpu`` (modules whose limits ask for a GPU): ``celery -A labplatform worker -Q short`` / ``-Q long`` / ``-Q gpu``
(``grading.tasks.module_lane`` routes). A message only wakes a worker of its lane, which then claims the lane's
next run from the database, round-robin between learners (``grading.queues``). Tasks are discovered from each
app's ``tasks.py``.

Warm pool (``GRADING_POOL_SIZE``): each process that runs tasks owns one pool. ``worker_init`` (the main
process, before any fork) only marks the worker as a grading worker and records the queues it consumes (the
worker's own selection, ``sender.app.amqp.queues.consume_from``: ``-Q``/``-X`` applied, the default queue
``short`` without ``-Q``), so its pools pre-warm only the modules routed there; the pool is started on
``worker_process_init``, which Celery sends in each prefork child after the fork (and in a solo worker's own
process), so the parent never holds warm processes that a fork would copy. That receiver is connected during
``worker_init`` so it runs after the Django fix-up's own (which must finish closing inherited database sockets
before the pool's threads open any file descriptor; see ``_want_grading_pool``). A threads worker creates it on its
first job. It is closed on ``worker_process_shutdown`` (prefork children) and ``worker_shutdown`` (the main
process: solo/threads).

Lane watch: the same ``worker_process_init`` receiver starts the process's lane watch
(``grading.tasks.lane_watch_start``), which wakes the worker's lanes again when a run has waited
``LAB_GRADING_REWAKE_SECONDS`` (its wake-up was lost to a broker restart or a failed publish).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_shutdown

if TYPE_CHECKING:
    from celery.worker import WorkController

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labplatform.settings")

app = Celery("labplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


@worker_init.connect
def _want_grading_pool(sender: WorkController, **_: object) -> None:
    from grading.tasks import want_grading_pool

    want_grading_pool(queues=list(sender.app.amqp.queues.consume_from))
    # Connected now, not at import, so that it runs AFTER the receiver Celery's Django fix-up connects while
    # handling this same signal: in the child, that receiver closes inherited database sockets with a raw
    # ``os.close`` and then closes the connection again. Had the pool's refill thread already started, the
    # second close could hit an fd number just reused for a sandbox pipe (seen: warm learner hosts dying at
    # start with EBADF on their status pipe, ~1 worker start in 15). After it, the fix-up's closes are done.
    worker_process_init.connect(_start_grading_pool, dispatch_uid=POOL_RECEIVER_UID, weak=False)


POOL_RECEIVER_UID = "labplatform.celery.start_grading_pool"


def _start_grading_pool(**_: object) -> None:
    from grading.tasks import lane_watch_start, start_grading_pool

    try:
        start_grading_pool()
    except Exception:  # jobs still grade cold; the first one retries the pool
        log.exception("could not start the grading pool")
    lane_watch_start()  # wakes its lanes again when a run's wake-up was lost (grading.tasks)


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close_grading_pool(**_: object) -> None:
    from grading.tasks import close_grading_pool

    close_grading_pool()
