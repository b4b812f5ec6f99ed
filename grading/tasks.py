"""The grading task and the workers that run it.

Design choices:
- Grading is thin: ``grade_next(lane)`` takes the lane's next run (``services.submission_claim``: round-robin
  between learners, ``grading.queues``), calls the engine and hands every event to a service.
- Three lanes (``short``, ``long``, ``gpu``: ``module_lane``, the one routing rule, which the pre-warm uses too),
  one task: ``enqueue`` wakes a worker of the submission's lane — in production a Celery message
  ``grading.grade_lane(lane)`` on the queue of that name, in embedded mode ``EmbeddedWorker``'s threads of that
  lane. The message says which lane, not which run: the run is claimed from the database when a worker is free,
  so a learner who floods a lane cannot push their runs ahead of anyone's. ``GradingConfig.ready`` installs
  ``enqueue`` as the sender of ``grading.queues``, which the services enqueue through (they never import this
  module: it imports them).
- Exactly one verdict, and a killed worker loses nothing: ``grade_lane`` has ``acks_late`` +
  ``reject_on_worker_lost``, and stores its message id on the run it claims. A worker killed mid-job leaves the
  message unacknowledged; the broker redelivers it (same id) to another worker, which finds the interrupted run by
  that id (``services.submission_resume``) and grades it again as run 2; a submission with a verdict is skipped
  and ``verdict_record`` never writes a second one. A message that finds nothing to do (its run was superseded, or
  another message's worker took it first) just ends.
- Any failure of the engine (an exception, a stream without a verdict, an unreadable result) becomes a
  ``status: error`` / ``outcome: platform_error`` verdict: the learner always gets an answer, and it never blames
  them for our fault. Losing the database (a restart of PostgreSQL: ``OperationalError``/``InterfaceError``) is no
  fault of the job: ``grade_lane`` retries its message, same id, ``LAB_GRADING_DB_RETRY_SECONDS`` later, so the
  run it claimed is found again (``submission_resume``) and graded as the next run once the database is back.
- A lost wake-up loses no run: publishing one that fails (the broker is restarting) is logged, not raised (the
  submission is committed and the learner gets their 201), and every Celery worker process runs a lane watch
  (``lane_watch_start``) that wakes a lane again when a run has waited ``LAB_GRADING_REWAKE_SECONDS`` while
  no run of the lane started (a message that finds nothing to do just ends, so a spare wake-up costs one query).
- The engine is imported inside the task, so importing this module (the web process) never pulls it in.
- Warm pool: each grading process (runlab in embedded mode, each Celery worker process in production) owns one
  ``grading.engine.pool.LearnerPool``, built from settings (``GRADING_POOL_SIZE``, ``GRADING_POOL_RUNTIMES``,
  ``LAB_CONTENT_DIR`` for the judges; typed, validated, default size 1) read when a job asks for it, not at
  import. It is created only in a process marked as a grading worker (``start_grading_pool``: runlab, Celery
  ``worker_process_init``; ``want_grading_pool``: Celery ``worker_init``, which only marks, so a threads worker
  creates it on its first job). A one-off ``grade_next`` call (a shell, a test) grades cold and leaves no
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
  the modules ``module_lane`` routes there: a ``short`` worker never holds a GPU module's shape, a ``gpu``
  worker no CPU module's; one whose queues get no module keeps nothing warm (it learns on demand). The
  embedded worker serves every module (no queues), and so does a worker that also consumes a queue that is
  not ours (we cannot know what it is sent): both pre-warm every module. Queues added to a running worker
  are not seen.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone

from grading import queues, selectors, services
from grading.models import Submission
from grading.similarity import services as similarity
from modules.spec import DEFAULT_LANE, LANES, lane_of

log = logging.getLogger(__name__)


# --- warm pool ----------------------------------------------------------------------------------------------------
_pool_lock = threading.Lock()
_pool: Any = None
_pool_config: tuple[int, tuple[str, ...], Path, int, frozenset[str] | None] | None = None
_pool_pid: int | None = None
_pool_wanted = False
_pool_queues: frozenset[str] | None = None  # the queues this grading worker serves; None: every module's

#: The Celery queues ``enqueue`` routes grading jobs to: one per lane (``module_lane``).
QUEUES = frozenset(LANES)


def module_lane(metadata: dict[str, Any] | None) -> str:
    """The lane (and Celery queue) of a module's jobs, from its synced metadata (``modules.spec.lane_of``).

    The one routing rule: submissions record it, ``enqueue`` wakes its workers, and a worker's pool pre-warms the
    modules it routes to the queues the worker consumes.
    """
    return lane_of(metadata)


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
        if queues is None or module_lane(metadata) in queues
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


def grade_next(*, lane: str, token: str = "") -> str:
    """Grade the next run of ``lane``: "graded", "platform_error" (it got an error verdict), or "idle" (none waits).

    ``token``: the queue message's id. A run it claimed earlier and never finished (the broker redelivered the
    message after its worker died) goes first.
    """
    submission = services.submission_resume(token=token) or services.submission_claim(lane=lane, token=token)
    if submission is None:
        for source in queues.sources():  # other work of the lane (grading.assemble), when no submission waits
            outcome = source(lane=lane, token=token)
            if outcome != "idle":
                return outcome
        return "idle"
    return _grade(submission)


#: The database is gone (restarting): the job is retried, never given a verdict for it.
DATABASE_LOST = (OperationalError, InterfaceError)


@shared_task(
    name="grading.grade_lane",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
)
def grade_lane(self: Any, lane: str) -> str:
    """The Celery task: a wake-up for ``lane``; grades its next run (``grade_next``) under this message's id.

    Without a database it is retried (same id) until the database is back: the run it had claimed is then
    resumed, and one that was never claimed still waits in the queue.
    """
    try:
        return grade_next(lane=lane, token=str(self.request.id or ""))
    except DATABASE_LOST as exc:
        log.warning("grading lane %s: database unavailable, retrying the job: %s", lane, exc)
        raise self.retry(exc=exc, countdown=settings.LAB_GRADING_DB_RETRY_SECONDS) from exc


def _grade(submission: Submission) -> str:
    """Run the engine on a started submission and record its events and its one verdict."""
    module_dir = Path(settings.LAB_CONTENT_DIR) / submission.module.slug
    files = {path: text.encode("utf-8") for path, text in submission.files.items()}
    failure = "the grader stopped without a verdict"
    events: Any = None
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
                _similarity_record(submission.pk)
                return "graded"
            services.submission_event_record(submission=submission, event=event)
    except DATABASE_LOST:
        # Not the job's fault nor the engine's: grade_lane retries it once the database is back. This run's
        # sandbox is stopped now (the stream's own cleanup), not whenever the abandoned stream is collected:
        # the retried run must not meet its leftovers.
        close = getattr(events, "close", None)
        if close is not None:
            close()
        raise
    except Exception as exc:  # every engine failure becomes a platform_error verdict
        log.exception("grading submission %s failed", submission.pk)
        failure = f"the grader failed: {type(exc).__name__}"
    services.verdict_record(
        submission_id=submission.pk,
        result=services.platform_error_result(submission=submission, message=failure),
    )
    return "platform_error"


def _similarity_record(submission_id: int) -> None:
    """After the verdict is committed: fingerprint a pass and record its matches (``grading.similarity``). A
    failure here is logged and never touches the verdict."""
    try:
        similarity.submission_similarity_record(submission_id=submission_id)
    except Exception:
        log.exception("similarity of submission %s failed", submission_id)


# --- embedded worker ----------------------------------------------------------------------------------------------
class EmbeddedWorker:
    """Grading threads inside the web process (embedded mode): per lane, taking runs from the database queue.

    The ``short`` lane gets ``LAB_EMBEDDED_WORKERS`` threads, ``long`` and ``gpu`` one each, so a training run never
    holds up a quick test. Each thread grades ``grade_next(lane)`` until the lane is empty, then sleeps until
    ``wake(lane)`` (a new submission) or ``IDLE_POLL_SECONDS``. Nothing is held in memory: the order is the
    scheduler's (round-robin between learners), and ``start(recover=True)`` puts the runs a stopped process left
    running back in the queue (``services.submissions_recover``).
    """

    #: An idle thread looks at its lane this often even without a wake-up (a submission made by another process).
    IDLE_POLL_SECONDS = 30.0

    def __init__(self) -> None:
        self._threads: list[tuple[threading.Thread, str]] = []  # (thread, its lane)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wakes: Counter[str] = Counter()  # per lane: wake-ups so far
        self._idle: dict[str, int] = {}  # thread name -> the wake count of its lane it went idle at
        self._stopping = False

    def start(self, *, threads: int | None = None, recover: bool = False) -> None:
        """Start the lanes' threads (``threads``: how many for ``short``; default ``LAB_EMBEDDED_WORKERS``)."""
        with self._lock:
            if self._threads:
                return
            self._stopping = False
            counts = {"short": threads or settings.LAB_EMBEDDED_WORKERS, "long": 1, "gpu": 1}
            if recover:
                # Runs a previous process started but never finished go back in the queue before any thread reads it.
                services.submissions_recover()
            for lane in LANES:
                for index in range(counts[lane]):
                    thread = threading.Thread(
                        target=self._loop, args=(lane,), name=f"grading-{lane}-{index}", daemon=True
                    )
                    self._threads.append((thread, lane))
            for thread, _ in self._threads:
                thread.start()

    def wake(self, lane: str) -> None:
        """A run waits in ``lane``: wake its threads (starting the worker if needed)."""
        self.start()
        with self._changed:
            self._wakes[lane] += 1
            self._changed.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        with self._changed:
            threads, self._threads = self._threads, []
            self._stopping = True
            self._changed.notify_all()
        for thread, _ in threads:
            thread.join(timeout)

    def join(self, timeout: float = 60.0, *, lanes: Iterable[str] | None = None) -> bool:
        """Block until every thread (of ``lanes``, default all) has found its lane empty since the last wake-up
        (tests, benchmarks); False on timeout."""
        wanted = None if lanes is None else set(lanes)
        with self._changed:
            return self._changed.wait_for(
                lambda: all(
                    self._idle.get(thread.name) == self._wakes[lane]
                    for thread, lane in self._threads
                    if wanted is None or lane in wanted
                ),
                timeout,
            )

    def _loop(self, lane: str) -> None:
        name = threading.current_thread().name
        while True:
            with self._changed:
                if self._stopping:
                    return
                seen = self._wakes[lane]
                self._idle.pop(name, None)
            outcome = "error"
            try:
                close_old_connections()
                outcome = grade_next(lane=lane)
            except Exception:  # one bad job must not kill the worker thread
                log.exception("embedded worker: lane %s", lane)
            finally:
                close_old_connections()
            if outcome != "idle":
                continue
            with self._changed:
                self._idle[name] = seen
                self._changed.notify_all()
                self._changed.wait_for(partial(self._woken, lane, seen), self.IDLE_POLL_SECONDS)

    def _woken(self, lane: str, seen: int) -> bool:
        """Called with the lock held: stop, or a wake-up of ``lane`` since the thread saw ``seen`` of them."""
        return self._stopping or self._wakes[lane] != seen


embedded_worker = EmbeddedWorker()


def enqueue(submission_id: int) -> None:
    """Wake a worker of the committed submission's lane (a Celery message, or the embedded threads)."""
    wake(Submission.objects.filter(pk=submission_id).values_list("lane", flat=True).first() or DEFAULT_LANE)


def wake(lane: str) -> None:
    """Wake a worker of ``lane`` (a Celery message on the lane's queue, or the embedded threads).

    A message that cannot be sent (the broker is down) is logged, not raised: the run waits in the database, and
    the workers' lane watch wakes the lane again (``lane_watch_start``).
    """
    if settings.LAB_GRADING_QUEUE != "celery":
        embedded_worker.wake(lane)
        return
    try:
        grade_lane.apply_async(args=[lane], queue=lane)
    except Exception:  # kombu/redis connection errors: whatever the transport raises
        log.warning("could not wake the %s lane; the lane watch will", lane, exc_info=True)


def publisher_warm() -> bool:
    """Open this process's connection to the broker before its first wake-up needs it: a web process's first
    publish otherwise sets up the producer and connects inside a learner's submit request (measured 0.40 s of a
    0.56 s first publish on this machine; later ones 1–2 ms). Returns whether the broker answered; a broker that
    is away costs nothing here (the first wake-up connects, or the lane watch wakes the lane)."""
    try:
        with grade_lane.app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
    except Exception:  # kombu/redis connection errors: whatever the transport raises
        log.info("the broker did not answer the web process's warm-up", exc_info=True)
        return False
    return True


def publisher_warm_start() -> None:
    """``publisher_warm`` on a daemon thread, so the web process serves at once (production mode only)."""
    if settings.LAB_GRADING_QUEUE == "celery":
        threading.Thread(target=publisher_warm, name="grading-publisher-warm", daemon=True).start()


# --- lane watch (Celery workers) ----------------------------------------------------------------------------------
_watch_pid: int | None = None


def lanes_rewake() -> list[str]:
    """Wake each lane of this worker that stalled: a run has waited ``LAB_GRADING_REWAKE_SECONDS`` or more and no
    run of the lane started meanwhile (``selectors.lanes_stalled``); return them.

    Its wake-ups were lost (a broker restart, a failed publish). A lane whose workers are busy is left alone; a
    spare message costs little anyway: one that finds no run just ends.
    """
    since = timezone.now() - timedelta(seconds=settings.LAB_GRADING_REWAKE_SECONDS)
    lanes = selectors.lanes_stalled(lanes=sorted(_pool_queues or QUEUES), since=since)
    for lane in lanes:
        grade_lane.apply_async(args=[lane], queue=lane)
    return lanes


def lane_watch_start() -> bool:
    """Start this worker process's lane watch (a daemon thread calling ``lanes_rewake`` every
    ``LAB_GRADING_REWAKE_SECONDS``); once per process. Celery ``worker_process_init`` calls it (prefork children,
    a solo worker's own process). False when it already runs here."""
    global _watch_pid
    with _pool_lock:
        if _watch_pid == os.getpid():
            return False
        _watch_pid = os.getpid()
    threading.Thread(target=_lane_watch, name="grading-lane-watch", daemon=True).start()
    return True


def _lane_watch() -> None:
    while True:
        time.sleep(settings.LAB_GRADING_REWAKE_SECONDS)
        try:
            woken = lanes_rewake()
            if woken:
                log.info(
                    "lane watch: woke %s (a run waited %d s)",
                    ", ".join(woken),
                    settings.LAB_GRADING_REWAKE_SECONDS,
                )
        except Exception:  # the database or the broker is away: look again next time
            log.warning("lane watch: could not look at the lanes", exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections: a fresh one next round
