"""Fair queues on the production path: runs claimed from PostgreSQL round-robin, Celery messages only wake workers.

One solo worker on the ``short`` queue grades module 1 of the real course; "slow" runs sleep 5 s when imported,
well inside the module's limits. Order is asserted from the database (which run started first), never a clock.
"""

from __future__ import annotations

import pytest
from lab_stack import REPO_ROOT

pytestmark = [pytest.mark.production, pytest.mark.slow]

SLUG = "01-onboarding"
REFERENCE = (REPO_ROOT / "content" / SLUG / "reference" / "hello.py").read_text(encoding="utf-8")
SLOW = REFERENCE + "\nimport time\n\ntime.sleep(5)\n"
PASSWORD = "correct horse battery staple"


def test_a_second_learners_run_is_taken_before_the_first_learners_third(stack):
    stack.manage(
        "shell",
        "-c",
        f"from modules.services import learner_create; learner_create(username='bo', password='{PASSWORD}')",
    )
    ada, bo = stack.login(), stack.login("bo", PASSWORD)
    worker = stack.start_worker("fair")
    try:
        first = stack.submit(ada, SLUG, {"hello.py": SLOW})
        stack.wait_for(ada, first, "running", timeout=60)
        second = stack.submit(ada, SLUG, {"hello.py": SLOW})  # waits; ada is at the cap (2) now
        theirs = stack.submit(bo, SLUG, {"hello.py": REFERENCE})
        third = stack.submit(ada, SLUG, {"hello.py": SLOW})  # past the cap: replaces ada's waiting run

        replaced = stack.wait_for(ada, second, "superseded", timeout=5)
        assert (replaced["superseded_by"], replaced["result"]) == (third, None)
        waiting = stack.wait_for(bo, theirs, "queued", timeout=5)["queue"]
        assert (waiting["position"], waiting["learners_ahead"], waiting["waiting_for_own"]) == (1, 0, False)
        mine = stack.wait_for(ada, third, "queued", timeout=5)["queue"]
        assert (mine["position"], mine["waiting_for_own"], mine["next_run_replaces"]) == (2, True, True)

        for session, submission_id in ((ada, first), (bo, theirs), (ada, third)):
            body = stack.wait_for(session, submission_id, "done", timeout=120)
            assert body["result"]["status"] == "pass", body["result"]["message"]
    finally:
        stack.kill(worker)

    started = stack.sql(
        "SELECT id FROM grading_submission WHERE id IN (%s, %s, %s) ORDER BY started_at", first, theirs, third
    )
    assert [row[0] for row in started] == [first, theirs, third]
    verdicts = dict(
        stack.sql(
            "SELECT s.id, count(r.id) FROM grading_submission s LEFT JOIN grading_result r ON r.submission_id = s.id"
            " WHERE s.id IN (%s, %s, %s, %s) GROUP BY s.id",
            first,
            second,
            theirs,
            third,
        )
    )
    assert verdicts == {first: 1, second: 0, theirs: 1, third: 1}
    assert stack.sql("SELECT status, runs FROM grading_submission WHERE id = %s", second) == [
        ("superseded", 0)
    ]
