"""runlab's choice of web processes (grading/management/commands/runlab.py): production runs LAB_WEB_WORKERS
uvicorn processes (default one per CPU); embedded mode stays one process, since its grading worker lives in it.
The several processes serving for real are tested on the production stack (tests/production)."""

from __future__ import annotations

import os

import pytest
from django.core.management import CommandError, call_command

from grading.management.commands.runlab import web_workers


def test_the_flag_wins_then_the_environment_then_the_cpu_count(monkeypatch):
    monkeypatch.setenv("LAB_WEB_WORKERS", "3")
    assert web_workers(5) == 5
    assert web_workers(None) == 3
    monkeypatch.delenv("LAB_WEB_WORKERS")
    assert web_workers(None) == (os.cpu_count() or 1)


@pytest.mark.parametrize(("raw", "requested"), [("two", None), ("", 0), ("", 65), ("-1", None)])
def test_a_bad_count_is_a_clear_error(monkeypatch, raw, requested):
    monkeypatch.setenv("LAB_WEB_WORKERS", raw)
    with pytest.raises(CommandError, match="whole number|between 1 and 64"):
        web_workers(requested)


def test_embedded_mode_refuses_several_processes(settings):
    settings.LAB_GRADING_QUEUE = "thread"
    with pytest.raises(CommandError, match="one process"):
        call_command("runlab", "--workers", "2")
