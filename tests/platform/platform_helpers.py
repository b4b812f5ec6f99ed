"""Helpers shared by the platform tests (imported by name; the personas themselves are fixtures in conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

FIXTURE_CONTENT = Path(__file__).resolve().parent / "fixtures" / "content"
GOOD_HELLO = 'def greet(name):\n    return f"Hello, {name}!"\n'


class Persona(Client):
    """A test client that knows who it is and speaks JSON."""

    def __init__(self, user: User | None) -> None:
        super().__init__(enforce_csrf_checks=False)
        self.user = user
        if user is not None:
            self.force_login(user)

    def get_json(self, url: str, **kwargs: Any):
        return self.get(url, **kwargs)

    def post_json(self, url: str, data: Any, **kwargs: Any):
        return self.post(url, json.dumps(data), content_type="application/json", **kwargs)

    def put_json(self, url: str, data: Any, **kwargs: Any):
        return self.put(url, json.dumps(data), content_type="application/json", **kwargs)


def pass_result(slug: str, *, status: str = "pass", message: str = "All tests passed.") -> dict[str, Any]:
    """A schema-1 result as the engine produces it (one visible and one hidden test)."""
    ok = status == "pass"
    return {
        "schema_version": 1,
        "status": status,
        "outcome": "ok" if ok else "tests_failed",
        "fault": None if ok else "learner",
        "message": message,
        "score": 2 if ok else 0,
        "max_score": 2,
        "tests": [
            {
                "id": "visible/test_hello.py::test_greet_greets_by_name",
                "name": "test_greet_greets_by_name",
                "step": "step1",
                "status": "pass" if ok else "fail",
                "message": message,
                "output": "visible out",
                "duration_seconds": 0.01,
                "visibility": "visible",
                "hint": "h1",
                "metrics": {},
            },
            {
                "id": "hidden/test_hello_hidden.py::test_greet_handles_another_name",
                "name": "test_greet_handles_another_name",
                "step": "step1",
                "status": "pass" if ok else "fail",
                "message": "Hidden test.",
                "output": "secret hidden output",
                "duration_seconds": 0.01,
                "visibility": "hidden",
                "hint": None,
                "metrics": {"secret": 1.0},
            },
        ],
        "metrics": {},
        "usage": {"wall_seconds": 0.1, "cpu_seconds": 0.1, "max_rss_bytes": 1},
        "timestamps": {"queued": None, "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:01Z"},
        "module": slug,
        "submission_id": None,
    }


GOOD_HELLO = 'def greet(name):\n    return f"Hello, {name}!"\n'


def reflection_answers(module: Any) -> dict[str, str]:
    """Answers to every reflection question of a synced module (a choice question: its first choice)."""
    return {
        q["id"]: (q["choices"][0]["id"] if q["kind"] == "choice" else "What I learned, in my own words.")
        for q in module.payload.get("reflection", [])
    }


def complete_module(user: User, module: Any, files: dict[str, str] | None = None, *, score: float = 2) -> Any:
    """Pass and complete ``module`` for ``user`` through the real services (``verdict_record``, then
    ``reflection_submit``); the submission holds ``files`` (default: the module's reference files)."""
    from django.utils import timezone

    from grading.models import Submission
    from grading.services import verdict_record
    from modules.selectors import module_spec_of
    from modules.services import reflection_submit

    if files is None:
        spec = module_spec_of(module=module)
        files = {e.path: e.reference_path(spec.root).read_text(encoding="utf-8") for e in spec.files}
    submission = Submission.objects.create(
        user=user, module=module, files=files, content_hash=module.content_hash, created_at=timezone.now()
    )
    result = pass_result(module.slug)
    result["score"] = score
    verdict_record(submission_id=submission.pk, result=result)
    reflection_submit(user=user, module=module, answers=reflection_answers(module))
    return submission
