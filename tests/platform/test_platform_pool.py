"""The platform's grading path on the warm pool: the real engine, bubblewrap, the fixture course's ``01-hello``.

Warm service is asserted through the pool's own state, never a clock: ``LearnerPool.started`` counts processes the
refill thread started (it only refills what jobs took), and the idle processes a job can take are read from the
pool's slots (``_procs``, read-only here) so each can be followed: taken, served, dead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from celery import Celery
from celery.worker import WorkController
from platform_helpers import FIXTURE_CONTENT, GOOD_HELLO

from grading import tasks
from grading.models import Result
from modules.models import Module
from modules.services import content_sync, reflection_submit

pytestmark = pytest.mark.django_db

BAD_HELLO = "def greet(name):\n    return 'nope'\n"
GIB = 1024**3


@pytest.fixture
def course_1g(db, settings, tmp_path) -> dict[str, Module]:
    """The fixture course with ``01-hello`` asking for 1 GiB (not the 2 GiB default ``02-next`` runs with)."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    yaml = content / "01-hello" / "module.yaml"
    text = yaml.read_text()
    assert "limits: {wall_seconds: 30, gpu: false}" in text
    yaml.write_text(text.replace("gpu: false}", f"memory_bytes: {GIB}, gpu: false}}"))
    settings.LAB_CONTENT_DIR = content
    report = content_sync(content_dir=content)
    assert not report.errors, report.errors
    return {m.slug: m for m in Module.objects.all()}


@pytest.fixture
def course_gpu(course_1g, settings) -> dict[str, Module]:
    """``course_1g`` where ``02-next`` (2 GiB) asks for a GPU (queue ``gpu``); ``01-hello`` (1 GiB): short."""
    yaml = settings.LAB_CONTENT_DIR / "02-next" / "module.yaml"
    text = yaml.read_text()
    assert "limits:" not in text
    yaml.write_text(text + "limits: {gpu: true}\n")
    report = content_sync(content_dir=settings.LAB_CONTENT_DIR)
    assert not report.errors, report.errors
    modules = {m.slug: m for m in Module.objects.all()}
    assert [tasks.module_lane(m.metadata) for m in modules.values()] == ["short", "gpu"]
    return modules


def memory_shapes(pool) -> list[tuple[str, int]]:
    return [(runtime, limits.memory_bytes) for runtime, limits in pool.shapes()]


@pytest.fixture
def warm(course, settings):
    """Pool on (size 1, python runtime only: the fixture module's), started as runlab starts it."""
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    pool = tasks.start_grading_pool()
    assert pool is not None and pool.wait_ready(timeout=60), "the pool never filled"
    yield pool
    tasks.close_grading_pool()


def idle_procs(pool) -> set:
    """The processes waiting in the pool's slots (learner hosts and judges)."""
    with pool._lock:
        return {proc for entries in pool._procs.values() for _, proc in entries}


def grade(learner, submit, module, text) -> Result:
    submission = submit(learner, module, text)
    assert tasks.grade_next(lane="short") == "graded"
    return Result.objects.get(submission=submission)


@pytest.mark.slow
def test_two_consecutive_submissions_both_get_correct_verdicts_the_second_served_warm(
    course, learner, submit, warm
):
    module = course["01-hello"]
    first = grade(learner, submit, module, BAD_HELLO)
    assert (first.status, first.result["fault"]) == ("fail", "learner")

    assert warm.wait_ready(timeout=60)
    started, waiting = warm.started, idle_procs(warm)
    assert {p.role for p in waiting} == {"learner", "judge"} and all(p.ready.is_set() for p in waiting)

    second = grade(learner, submit, module, GOOD_HELLO)
    assert second.status == "pass", second.result["message"]
    assert second.result["score"] == second.result["max_score"] > 0
    # the warm learner host and judge were taken (the pool refills exactly those two) and not cold-started
    assert not waiting & idle_procs(warm)
    assert warm.wait_ready(timeout=60)
    assert warm.started == started + 2


@pytest.mark.slow
def test_a_warm_process_serves_one_submission_and_dies(course, learner, submit, warm):
    module = course["01-hello"]
    served: set = set()
    for _ in range(2):
        assert warm.wait_ready(timeout=60)
        waiting = idle_procs(warm)
        assert not waiting & served, "a process that served a submission went back to the pool"
        result = grade(learner, submit, module, BAD_HELLO)
        assert result.status == "fail"
        taken = waiting - idle_procs(warm)
        assert {p.role for p in taken} == {"learner", "judge"}
        assert not any(p.alive() for p in taken), "a process outlived its submission"
        served |= taken
    assert len(served) == 4


@pytest.mark.slow
def test_pool_size_zero_still_grades_cold(course, learner, submit, settings):
    settings.GRADING_POOL_SIZE = 0
    assert tasks.start_grading_pool() is None
    try:
        result = grade(learner, submit, course["01-hello"], GOOD_HELLO)
        assert result.status == "pass", result.result["message"]
        assert tasks.grading_pool() is None
    finally:
        tasks.close_grading_pool()


@pytest.mark.slow
def test_a_process_that_is_no_grading_worker_grades_cold_and_starts_no_pool(
    course, learner, submit, settings
):
    settings.GRADING_POOL_SIZE = 1
    tasks.close_grading_pool()
    result = grade(learner, submit, course["01-hello"], BAD_HELLO)
    assert result.status == "fail"
    assert tasks.grading_pool() is None


@pytest.mark.slow
def test_changing_the_pool_settings_replaces_the_pool_and_closing_kills_its_processes(course, settings):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    first = tasks.start_grading_pool()
    try:
        assert first.wait_ready(timeout=60)
        kept = idle_procs(first)
        settings.GRADING_POOL_SIZE = 2
        second = tasks.grading_pool()
        assert second is not first and second.size == 2
        assert not any(p.alive() for p in kept)
    finally:
        tasks.close_grading_pool()
    assert tasks.grading_pool() is None


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("GRADING_POOL_SIZE", "-1", "GRADING_POOL_SIZE=-1: must be >= 0"),
        ("GRADING_POOL_SIZE", "two", "GRADING_POOL_SIZE='two': expected an integer"),
        ("GRADING_POOL_RUNTIMES", "python,jax", "GRADING_POOL_RUNTIMES='python,jax'"),
    ],
)
def test_bad_pool_settings_stop_the_start(repo_root, name, value, complaint):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "DJANGO_", "GRADING_"))}
    env.update(
        {"LAB_VAR_DIR": tempfile.mkdtemp(), name: value, "DJANGO_SETTINGS_MODULE": "labplatform.settings"}
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and complaint in proc.stderr, proc.stderr[-2000:]


@pytest.mark.slow
def test_the_first_submission_of_a_module_with_its_own_limits_is_served_warm(
    course_1g, learner, submit, settings
):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    pool = tasks.start_grading_pool()
    try:
        assert sorted(memory_shapes(pool)) == [("python", GIB), ("python", 2 * GIB)]  # 01-hello's, 02-next's
        assert pool.wait_ready(timeout=60), "the pool never filled"
        result = grade(learner, submit, course_1g["01-hello"], GOOD_HELLO)
        assert result.status == "pass", result.result["message"]
        assert (pool.hits, pool.misses) == (2, 0)  # learner host and judge taken warm, none started cold
    finally:
        tasks.close_grading_pool()


@pytest.mark.slow
def test_shapes_past_grading_pool_max_shapes_are_not_warmed(
    course_1g, learner, submit, pass_module, settings
):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    settings.GRADING_POOL_MAX_SHAPES = 1
    pool = tasks.start_grading_pool()
    try:
        assert memory_shapes(pool) == [("python", GIB)]  # module order: 01-hello kept, 02-next past the cap
        assert pool.wait_ready(timeout=60)
        assert {p.limits.memory_bytes for p in idle_procs(pool)} == {GIB}
        pass_module(learner, course_1g["01-hello"])  # a recorded verdict, no grading job
        reflection_submit(user=learner.user, module=course_1g["01-hello"], answers={"q1": "a", "q2": "x"})
        submit(learner, course_1g["02-next"], "def step():\n    return 1\n")
        tasks.grade_next(lane="short")
        assert pool.misses == 2 and pool.hits == 0  # 02-next's first submission started cold
        assert memory_shapes(pool) == [("python", GIB)]  # and its shape is not learned past the cap
    finally:
        tasks.close_grading_pool()


def test_a_pool_without_synced_modules_keeps_its_base_shape_per_runtime(db, settings):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    pool = tasks.start_grading_pool()
    try:
        assert memory_shapes(pool) == [("python", pool.base_limits.memory_bytes)]
    finally:
        tasks.close_grading_pool()


@pytest.mark.parametrize(("queue", "memory"), [("short", GIB), ("gpu", 2 * GIB)])
def test_a_worker_pre_warms_only_the_shapes_of_the_modules_routed_to_its_queue(
    course_gpu, settings, queue, memory
):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    tasks.want_grading_pool(queues=[queue])  # worker_init, then worker_process_init starts the pool
    pool = tasks.start_grading_pool()
    try:
        assert memory_shapes(pool) == [("python", memory)]  # short: 01-hello's only; gpu: 02-next's only
    finally:
        tasks.close_grading_pool()


@pytest.mark.parametrize("queues", [None, ["short", "gpu"], ["celery"], ["short", "celery"]])
def test_the_embedded_worker_and_workers_on_both_or_foreign_queues_pre_warm_every_module(
    course_gpu, settings, queues
):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    if queues is not None:
        tasks.want_grading_pool(queues=queues)
    pool = tasks.start_grading_pool()  # None: as runlab starts it (no queues recorded)
    try:
        assert memory_shapes(pool) == [("python", GIB), ("python", 2 * GIB)]
    finally:
        tasks.close_grading_pool()


def test_a_worker_whose_queue_gets_no_module_keeps_nothing_warm(course_1g, settings):
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    tasks.want_grading_pool(queues=["gpu"])  # the fixture course has no GPU module
    pool = tasks.start_grading_pool()
    try:
        assert memory_shapes(pool) == []
        assert pool.wait_ready(timeout=5) and not idle_procs(pool)
    finally:
        tasks.close_grading_pool()


@pytest.mark.parametrize(("argv_queues", "memory"), [(["gpu"], 2 * GIB), (None, GIB)])
def test_a_celery_worker_records_the_queues_it_consumes_for_its_pool(
    course_gpu, settings, argv_queues, memory, monkeypatch
):
    """A real ``WorkController`` (``-Q gpu``, or no ``-Q``: default queue ``short``), solo pool: Celery sends
    ``worker_init`` (our handler reads the worker's queues) and ``worker_process_init`` (starts the pool).

    The app is configured like ``labplatform.celery.app`` but without the Django fix-up, which would close
    this test's database connection; the worker is constructed, never started (no broker).
    """
    settings.GRADING_POOL_SIZE = 1
    settings.GRADING_POOL_RUNTIMES = ["python"]
    # the worker's lane watch is a thread for the process's life: here it would outlive the test database
    watches: list[bool] = []
    monkeypatch.setattr(tasks, "lane_watch_start", lambda: watches.append(True) or True)
    app = Celery("pool-test", fixups=[], set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    try:
        WorkController(app=app, queues=argv_queues, pool_cls="solo", concurrency=1, hostname="pool-test@here")
        pool = tasks.grading_pool()
        assert pool is not None
        assert memory_shapes(pool) == [("python", memory)]
        assert watches == [True]  # and the process watches its lanes for lost wake-ups
    finally:
        tasks.close_grading_pool()


def test_the_pool_starts_after_receivers_connected_before_the_worker_started(monkeypatch):
    """Celery's Django fix-up connects its ``worker_process_init`` receiver while handling ``worker_init``, and that
    receiver closes inherited database sockets twice (a raw ``os.close``, then the connection's close): the pool's
    refill thread must not be opening pipes meanwhile. So ours is connected at ``worker_init``, after any receiver
    connected before it (here a stand-in for the fix-up's), and runs after them in the child."""
    from types import SimpleNamespace

    from celery.signals import worker_init, worker_process_init

    import labplatform.celery as lab_celery

    calls: list[str] = []
    worker_process_init.disconnect(dispatch_uid=lab_celery.POOL_RECEIVER_UID)
    monkeypatch.setattr(tasks, "start_grading_pool", lambda: calls.append("pool"))
    # the receiver starts the process's lane watch too: recorded, not started (a thread would outlive the test DB)
    monkeypatch.setattr(tasks, "lane_watch_start", lambda: calls.append("watch") or True)

    def fixup_stand_in(**_: object) -> None:
        calls.append("fixup")

    worker_process_init.connect(fixup_stand_in, weak=False)

    class Worker:  # what the handler reads of a WorkController (signal senders must be hashable)
        app = SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=["short"])))

    sender = Worker()
    try:
        worker_process_init.send(sender="before-worker-init")
        assert calls == ["fixup"]  # nothing starts a pool before worker_init
        worker_init.send(sender=sender)
        worker_init.send(sender=sender)  # a second worker_init connects nothing twice
        calls.clear()
        worker_process_init.send(sender="child")
        assert calls == ["fixup", "pool", "watch"]
    finally:
        worker_process_init.disconnect(fixup_stand_in)
        worker_process_init.disconnect(dispatch_uid=lab_celery.POOL_RECEIVER_UID)
        tasks.close_grading_pool()
