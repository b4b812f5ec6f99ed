"""Learner text on PostgreSQL: JSONB refuses ``\\u0000`` (and lone surrogates), so unclean text would turn a
learner's run into a platform error; cleaned, it is stored and every page that shows it answers.

Module 01-onboarding of the real course, graded by a Celery worker in the bubblewrap sandbox; the same pages on
SQLite (and rows stored before cleaning) are in tests/platform/test_platform_learner_text.py.
"""

import pytest
from lab_stack import REPO_ROOT

pytestmark = [pytest.mark.production, pytest.mark.slow]

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")
PRINTS_NUL = REFERENCE + '\nprint("imported\\0with a NUL")\n'
#: Writes an output frame whose JSON holds an escaped lone surrogate, straight into the host's channel.
SENDS_A_SURROGATE = (
    REFERENCE
    + """
import gc as _gc
import struct as _struct

from grading.engine.protocol import MAGIC as _MAGIC, Channel as _Channel

_channel = next(o for o in _gc.get_objects() if isinstance(o, _Channel))
_data = b'{"kind":"output","stream":"stdout","data":"half a pair \\\\ud800"}'
with _channel._lock:
    _channel.wfile.write(_struct.pack(">4sIIQ", _MAGIC, len(_data), 0, 0) + _data)
    _channel.wfile.flush()
"""
)


@pytest.fixture(scope="module")
def admin(stack):
    stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.create_superuser('root', 'root@example.invalid', 'correct horse battery')",
    )
    return stack.login("root", "correct horse battery")


@pytest.fixture(scope="module")
def worker(stack):
    proc = stack.start_worker("text")
    yield proc
    stack.kill(proc)


@pytest.mark.parametrize(
    ("source", "verdict"),
    [(PRINTS_NUL, ("pass", "ok")), (SENDS_A_SURROGATE, ("fail", "runtime_error"))],
    ids=["nul-in-output", "lone-surrogate-frame"],
)
def test_learner_text_is_graded_stored_and_shown_on_postgresql(stack, worker, admin, source, verdict):
    session = stack.login()
    submission_id = stack.submit(session, SLUG, {"hello.py": source})
    body = stack.wait_for(session, submission_id, "done", timeout=120)
    assert (body["result"]["status"], body["result"]["outcome"]) == verdict, body["result"]["message"]
    assert "\x00" not in str(body)
    (result_id,) = stack.sql("SELECT id FROM grading_result WHERE submission_id = %s", submission_id)[0]
    (event_id,) = stack.sql(
        "SELECT max(id) FROM grading_submissionevent WHERE submission_id = %s", submission_id
    )[0]
    for url in (
        f"/api/submissions/{submission_id}/",
        f"/admin/grading/submission/{submission_id}/change/",
        f"/admin/grading/result/{result_id}/change/",
        f"/admin/grading/submissionevent/{event_id}/change/",
    ):
        assert admin.get(f"{stack.base_url}{url}", timeout=10).status_code == 200, url
