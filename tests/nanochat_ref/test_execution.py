"""Tests for nanochat_ref.execution: the guarded code runner used to grade HumanEval-style tasks."""

import os

import pytest

from nanochat_ref.execution import execute_code


def test_it_runs_simple_code_and_captures_stdout():
    r = execute_code("print('hello', 1 + 2)")
    assert r.success and r.stdout == "hello 3\n" and r.error is None


def test_it_reports_exceptions_as_errors():
    r = execute_code("raise ValueError('boom')")
    assert not r.success and r.error == "ValueError: boom"


def test_it_reports_assertion_failures_as_errors():
    r = execute_code("def f(x):\n    return x + 1\nassert f(1) == 3")
    assert not r.success and r.error.startswith("AssertionError")


def test_it_times_out_an_infinite_loop():
    r = execute_code("while True:\n    pass", timeout=0.5)
    assert not r.success and r.timeout


def test_it_kills_code_that_blocks_the_alarm_signal():
    code = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"
    r = execute_code(code, timeout=0.5)
    assert not r.success and r.timeout


def test_it_stops_a_memory_bomb():
    r = execute_code("x = bytearray(2 * 1024 ** 3)", maximum_memory_bytes=256 * 1024 * 1024)
    assert not r.success and r.memory_exceeded


def test_it_disables_file_deletion(tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    r = execute_code(f"import os\nos.remove({str(victim)!r})")
    assert not r.success and victim.exists()


def test_it_runs_file_writes_in_a_throwaway_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = execute_code("open('scratch.txt', 'w').write('x')\nprint(open('scratch.txt').read())")
    assert r.success and r.stdout == "x\n"
    assert os.listdir(tmp_path) == []


def test_it_blocks_subprocesses():
    r = execute_code("import subprocess\nsubprocess.run(['echo', 'hi'])")
    assert not r.success and "TypeError" in r.error


def test_it_makes_stdin_unreadable():
    r = execute_code("input()")
    assert not r.success


@pytest.mark.parametrize("code", ["exit(0)", "quit()"])
def test_it_disables_exit_builtins(code):
    r = execute_code(code)
    assert not r.success and "TypeError" in r.error
