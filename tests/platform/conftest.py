"""Shared base for the platform tests: named personas and a synced fixture course.

Personas (each a Django test client, logged in through the session like a browser):
``anonymous``, ``learner``, ``other_learner``, ``instructor`` (group instructor). The course is
``tests/platform/fixtures/content``: ``01-hello`` (no prerequisites; hints, reflection, feedback, real tests the
grading engine can run) and ``02-next`` (locked until 01-hello passes).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, User
from platform_helpers import FIXTURE_CONTENT, GOOD_HELLO, Persona, pass_result

from modules.models import Module
from modules.services import content_sync, learner_create, roles_ensure

# The fixture course contains grader tests of its own; they run inside the engine, never in this suite.
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture(scope="session", autouse=True)
def private_temp_dir(tmp_path_factory) -> Iterator[None]:
    """Temp files of this session (the engine's job dirs among them) live in a dir of its own, so the sweep a
    grading worker does when it starts never touches the job dirs of other runs on this machine."""
    base = tmp_path_factory.mktemp("tmp")
    saved, tempfile.tempdir = tempfile.tempdir, str(base)
    yield
    tempfile.tempdir = saved


@pytest.fixture(autouse=True)
def no_lane_watch_left() -> Iterator[None]:
    """No test leaves a lane watch behind: that thread lives as long as the process and, once the test's database
    is gone, logs "no such table" tracebacks into whatever runs next (seen at the end of CI's rest-fast area).
    A test that fires ``worker_process_init`` records the call instead (monkeypatch ``tasks.lane_watch_start``)."""
    before = {t.ident for t in threading.enumerate() if t.name == "grading-lane-watch"}
    yield
    left = [t for t in threading.enumerate() if t.name == "grading-lane-watch" and t.ident not in before]
    assert not left, (
        "the test started a lane-watch thread that outlives it (monkeypatch tasks.lane_watch_start)"
    )


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[int]:
    """Submission ids handed to the grading queue; the queue itself is exercised by its own tests."""
    from grading import queues

    ids: list[int] = []
    monkeypatch.setattr(queues, "enqueue", ids.append)
    return ids


@pytest.fixture
def course(db, settings) -> dict[str, Module]:
    settings.LAB_CONTENT_DIR = FIXTURE_CONTENT
    report = content_sync(content_dir=FIXTURE_CONTENT)
    assert not report.errors, report.errors
    return {m.slug: m for m in Module.objects.all()}


@pytest.fixture
def hello(course) -> Module:
    return course["01-hello"]


@pytest.fixture
def anonymous(db) -> Persona:
    return Persona(None)


@pytest.fixture
def learner(db) -> Persona:
    return Persona(learner_create(username="ada", password="correct horse battery"))


@pytest.fixture
def other_learner(db) -> Persona:
    return Persona(learner_create(username="bo", password="correct horse battery"))


@pytest.fixture
def instructor(db) -> Persona:
    roles_ensure()
    user = User.objects.create_user(username="prof", password="correct horse battery", is_staff=True)
    user.groups.add(Group.objects.get(name="instructor"))
    return Persona(user)


@pytest.fixture
def submit():
    """Create a submission through the service (its on_commit enqueue does not run inside a test transaction)."""
    from grading.services import submission_create

    def _submit(persona: Persona, module: Module, text: str = GOOD_HELLO):
        path = module.metadata["files"][0]["path"]
        return submission_create(user=persona.user, module=module, files={path: text})

    return _submit


@pytest.fixture
def pass_module(submit):
    """Give ``persona`` a passing verdict on ``module`` (what a finished grading job records)."""
    from grading.services import verdict_record

    def _pass(persona: Persona, module: Module, status: str = "pass"):
        submission = submit(persona, module)
        verdict_record(submission_id=submission.pk, result=pass_result(module.slug, status=status))
        submission.refresh_from_db()
        return submission

    return _pass
