"""The grading task and the queues that feed it.

Design choices:
- ``grade_submission(id)`` is thin: load the row (``submission_start``), call the engine, hand every event to a
  service. It is a Celery task with ``acks_late`` + ``reject_on_worker_lost``: a worker killed mid-job leaves the
  message unacknowledged, the broker hands it to another worker, and the re-run is harmless because a submission
  with a verdict is skipped and ``verdict_record`` never writes a second one.
- Any failure of the engine (an exception, a stream without a verdict, an unreadable result) becomes a
  ``status: error`` / ``outcome: platform_error`` verdict: the learner always gets an answer, and it never blames
  them for our fault.
- Two queues, one task: ``enqueue`` sends to Celery (queues ``cpu`` and ``gpu``, by the module's
  ``limits.gpu``: ``module_queue``, the one routing rule, which the pre-warm uses too) in production, and to
  ``EmbeddedWorker`` (threads in the web process, same function) in embedded mode. ``GradingConfig.ready``
  installs it as the sender of ``grading.queues``, which the services enqueue through (they never import this
  module: it imports them).
- The engine is imported inside the task, so importing this module (the web process) never pulls it in.
- Warm pool: each grading process (runlab in embedded mode, each Celery worker process in production) owns one
  ``grading.engine.pool.LearnerPool``, built from settings (``GRADING_POOL_SIZE``, ``GRADING_POOL_RUNTIMES``,
  ``LAB_CONTENT_DIR`` for the judges; typed, validated, default size 1) read when a job asks for it, not at
  import. It is created only in a process marked as a grading worker (``start_grading_pool``: runlab, Celery
  ``worker_process_init``; ``want_grading_pool``: Celery ``worker_init``, which only marks, so a threads worker
  creates it on its first job). A one-off ``grade_submission`` call (a shell, a test) grades cold and leaves no
  processes behind. Never before a fork: a pool remembers its pid; one inherited by a forked child is dropped (its
  processes belong to the parent). A settings change (tests) replaces it; size 0 closes it and grades cold.
  ``close_grading_pool`` at shutdown (runlab exit, Celery ``worker_process_shutdown`` / ``worker_shutdown``).
- Pre-warm: when the pool is created (not at import) it reads the active modules' runtime + ``limits`` from
  their rows (module.yaml as synced) and asks the pool to keep each distinct shape warm, in module order, at most
  ``GRADING_POOL_MAX_SHAPES`` (memory bound: a torch shape is ~620 MiB idle at size 1), so a module's first
  submission after a worker starts is warm too. No module rows (or an unreadable table) means the pool keeps
  its base shape per runtime, as before. Modules synced later are learned on demand (one cold start each).
- Queue-aware pre-warm: a Celery worker records the queues it consumes at ``worker_init``
  (``want_grading_pool(queues=...)``, before the fork, so prefork children inherit them) and pre-warms only
  the modules ``module_queue`` routes there: a ``cpu`` worker never holds a GPU module's shape, a ``gpu``
  worker no CPU module's; one whose queues get no module keeps nothing warm (it learns on demand). The
  embedded worker serves every module (no queues), and so does a worker that also consumes a queue that is
  not ours (we cannot know what it is sent): both pre-warm every module. Queues added to a running worker
  are not seen.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections

from grading import selectors, services
from grading.models import Submission

log = logging.getLogger(__name__)


# --- warm pool ----------------------------------------------------------------------------------------------------
_pool_lock = threading.Lock()
_pool: Any = None
_pool_config: tuple[int, tuple[str, ...], Path, int, frozenset[str] | None] | None = None
_pool_pid: int | None = None
_pool_wanted = False
_pool_queues: frozenset[str] | None = None  # the queues this grading worker serves; None: every module's

#: The Celery queues ``enqueue`` routes grading jobs to (``module_queue``).
QUEUES = frozenset({"cpu", "gpu"})


def module_queue(metadata: dict[str, Any] | None) -> str:
    """The Celery queue for a module's jobs (its synced metadata): ``gpu`` if ``limits.gpu``, else ``cpu``.

    The one routing rule: ``enqueue`` sends by it, and a worker's pool pre-warms the modules it routes there.
    """
    return "gpu" if ((metadata or {}).get("limits") or {}).get("gpu") else "cpu"


def want_grading_pool(*, queues: Iterable[str] | None = None) -> None:
    """Mark this process (and children it forks) as a grading worker: jobs use a warm pool, created on demand.

    ``queues``: the Celery queues the worker consumes; its pool pre-warms only the modules routed to them.
    ``None`` (embedded mode), none given, or any name that is not one of ``QUEUES``: every module.
    """
    global _pool_wanted, _pool_queues
    names = frozenset(queues or ())
    _pool_wanted = True
    _pool_queues = names if names and names <= QUEUES else None


def start_grading_pool() -> Any:
    """Mark this process as a grading worker and start its pool now (so the first job is warm); see grading_pool.

    Keeps the queues ``want_grading_pool`` recorded (Celery: ``worker_init``, in the parent before the fork).
    First sweeps the job dirs that dead workers left (``sweep_stale_job_dirs``).
    """
    global _pool_wanted
    sweep_stale_job_dirs()
    _pool_wanted = True
    return grading_pool()


def sweep_stale_job_dirs() -> list[Path]:
    """Remove the job dirs that grading workers which died left in the temp dir; return them.

    Dirs a live worker holds (any process on this host) are kept: see ``sandbox.jobdirs``. A failure is logged,
    never raised: the worker starts anyway.
    """
    from grading.engine.procs import JOB_DIR_PREFIXES
    from sandbox.jobdirs import sweep_stale

    try:
        removed = sweep_stale(JOB_DIR_PREFIXES)
    except OSError:
        log.warning("could not sweep stale job dirs", exc_info=True)
        return []
    if removed:
        log.info("swept %d job dir(s) left by dead grading workers", len(removed))
    return removed


def grading_pool() -> Any:
    """This grading worker's warm ``LearnerPool`` per current settings (created on first use), or ``None``.

    ``None`` when ``GRADING_POOL_SIZE`` is 0 or this process is no grading worker (see ``start_grading_pool``).
    """
    global _pool, _pool_config, _pool_pid
    size = int(settings.GRADING_POOL_SIZE) if _pool_wanted else 0
    config = (
        size,
        tuple(settings.GRADING_POOL_RUNTIMES),
        Path(settings.LAB_CONTENT_DIR).resolve(),
        int(settings.GRADING_POOL_MAX_SHAPES),
        _pool_queues,
    )
    retired = None
    with _pool_lock:
        if _pool is not None and _pool_pid != os.getpid():
            _pool = _pool_config = _pool_pid = (
                None  # inherited across a fork: the parent's processes, not ours
            )
        if _pool is not None and _pool_config != config:
            retired, _pool, _pool_config, _pool_pid = _pool, None, None, None
        if _pool is None and size > 0:
            from grading.engine.pool import LearnerPool  # imported lazily: the web process stays light

            _pool = LearnerPool(
                size=size, runtimes=config[1], content_root=config[2], max_shapes=config[3], warm_base=False
            )
            shapes = _module_shapes(config[4])
            kept = _pool.prewarm(shapes or [])
            if not kept and shapes != []:
                # no module rows (None), or none of our modules' shapes kept: the base shapes, as before;
                # modules but none routed to our queues ([]): nothing warm
                kept = _pool.prewarm([(runtime, _pool.base_limits) for runtime in config[1]])
            _pool_config, _pool_pid = config, os.getpid()
            log.info(
                "grading pool: %d warm process(es) per role for %d shape(s) (queues: %s): %s",
                size,
                len(kept),
                ", ".join(sorted(config[4])) if config[4] is not None else "all",
                ", ".join(f"{runtime}/{limits.memory_bytes // 2**20} MiB" for runtime, limits in kept),
            )
        pool = _pool
    if retired is not None:
        retired.close()
    return pool


def _module_shapes(queues: frozenset[str] | None) -> list[tuple[str, dict[str, Any]]] | None:
    """``(runtime, module.yaml limits)`` of the active modules routed to ``queues`` (``None``: all), in order.

    ``None`` when there is no active module (or the table is unreadable): the caller keeps the base shapes.
    Runtimes the pool does not keep are left in; ``LearnerPool.prewarm`` skips them.
    """
    from modules.models import Module

    try:
        rows = list(Module.objects.filter(status=Module.Status.ACTIVE).values_list("metadata", flat=True))
    except Exception:  # no module table (yet): keep the base shapes warm, learn the rest
        log.warning("grading pool: modules unreadable, pre-warming the base shapes only", exc_info=True)
        return None
    if not rows:
        return None
    return [
        ((metadata or {}).get("runtime", "python"), dict((metadata or {}).get("limits") or {}))
        for metadata in rows
        if queues is None or module_queue(metadata) in queues
    ]


def close_grading_pool() -> None:
    """Stop this process's warm pool (kills its idle processes) and stop wanting one; no-op when there is none."""
    global _pool, _pool_config, _pool_pid, _pool_wanted, _pool_queues
    with _pool_lock:
        _pool_wanted, _pool_queues = False, None
        pool = _pool if _pool_pid == os.getpid() else None
        _pool = _pool_config = _pool_pid = None
    if pool is not None:
        pool.close()


def _engine_grade(
    module_dir: Path,
    files: dict[str, bytes],
    *,
    submission_id: str,
    done: set[str] | None = None,
    provided: dict[str, bytes] | None = None,
) -> Any:
    from grading.engine import runner  # imported lazily: the web process stays light

    try:
        pool = grading_pool()
    except Exception:  # no warm pool is no reason to refuse a job: grade it cold
        log.exception("grading pool unavailable; cold start")
        pool = None
    return runner.grade(
        module_dir, files, limits=None, pool=pool, submission_id=submission_id, done=done, provided=provided
    )


@shared_task(name="grading.grade_submission", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def grade_submission(submission_id: int) -> str:
    """Grade one submission; returns "graded", "skipped" (already has a verdict / missing) or "platform_error"."""
    submission = services.submission_start(submission_id=submission_id)
    if submission is None:
        return "skipped"
    module_dir = Path(settings.LAB_CONTENT_DIR) / submission.module.slug
    files = {path: text.encode("utf-8") for path, text in submission.files.items()}
    failure = "the grader stopped without a verdict"
    try:
        done, provided = selectors.workspace_inputs(submission=submission)
        events = _engine_grade(
            module_dir, files, submission_id=str(submission.pk), done=done, provided=provided
        )
        for event in events:
            if not isinstance(event, dict):
                continue
            if event.get("type") == "verdict":
                # not a dict: verdict_record rejects it (InvalidInput), which becomes a platform_error below
                result = event.get("result")
                services.verdict_record(
                    submission_id=submission.pk, result=result if isinstance(result, dict) else {}
                )
                return "graded"
            services.submission_event_record(submission=submission, event=event)
    except Exception as exc:  # every engine failure becomes a platform_error verdict
        log.exception("grading submission %s failed", submission_id)
        failure = f"the grader failed: {type(exc).__name__}"
    services.verdict_record(
        submission_id=submission.pk,
        result=services.platform_error_result(submission=submission, message=failure),
    )
    return "platform_error"


# --- queues -------------------------------------------------------------------------------------------------------
class EmbeddedWorker:
    """Grading threads inside the web process (embedded mode): a FIFO of submission ids."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, *, threads: int | None = None, recover: bool = False) -> None:
        with self._lock:
            if self._threads:
                return
            for index in range(threads or settings.LAB_EMBEDDED_WORKERS):
                thread = threading.Thread(target=self._loop, name=f"grading-worker-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)
        if recover:
            # Jobs a previous process accepted but never finished (queued, or running when it stopped).
            pending = Submission.objects.exclude(status=Submission.Status.DONE).order_by("created_at")
            for submission_id in pending.values_list("pk", flat=True):
                self._queue.put(submission_id)

    def submit(self, submission_id: int) -> None:
        self.start()
        self._queue.put(submission_id)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout)

    def join(self) -> None:
        """Block until every submitted job is done (tests, benchmarks)."""
        self._queue.join()

    def _loop(self) -> None:
        while True:
            submission_id = self._queue.get()
            try:
                if submission_id is None:
                    return
                close_old_connections()
                grade_submission(submission_id)
            except Exception:  # one bad job must not kill the worker thread
                log.exception("embedded worker: submission %s", submission_id)
            finally:
                close_old_connections()
                self._queue.task_done()


embedded_worker = EmbeddedWorker()


def enqueue(submission_id: int) -> None:
    """Hand a committed submission to the configured queue."""
    if settings.LAB_GRADING_QUEUE == "celery":
        metadata = (
            Submission.objects.filter(pk=submission_id).values_list("module__metadata", flat=True).first()
        )
        grade_submission.apply_async(args=[submission_id], queue=module_queue(metadata))
    else:
        embedded_worker.submit(submission_id)
