"""The engine's messages to learners come from one table in English and Chinese (grading/engine/messages.py); a
Chinese page shows the Chinese of every engine sentence in a stored (English) message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grading.engine import messages
from grading.engine.messages import localize, say, table

RUNNER = Path(messages.__file__).with_name("runner.py")


def _sample(name: str) -> str:
    pattern = messages._document()["values"].get(name)
    if pattern is None:
        return "ValueError: bad (input) 3."
    fits = [v for v in ("12.5", "tokenizer.encode", " (killed)") if re.fullmatch(f"(?:{pattern})", v)]
    assert fits, f"no sample value for {{{name}}}"
    return fits[0]


def _filled(template: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: _sample(m.group(1)), template)


@pytest.mark.parametrize("key", sorted(table()))
def test_each_message_reads_back_in_chinese_with_its_values(key):
    en, zh = table()[key]["en"], table()[key]["zh"]
    names = sorted(re.findall(r"\{(\w+)", en))
    assert sorted(re.findall(r"\{(\w+)", zh)) == names and zh != en
    assert localize(_filled(en), "zh-hans") == _filled(zh)
    assert localize(_filled(en), "en") == _filled(en)


def test_every_message_the_runner_writes_is_in_the_table():
    used = set(re.findall(r'say\(\s*"([\w.]+)"', RUNNER.read_text()))
    used |= {f"hidden.{s}" for s in ("pass", "fail", "error", "skip")}  # built from the status
    used |= {"summary.syntax_hidden", "summary.import_hidden"}  # label + "_hidden"
    assert used <= set(table()), used - set(table())
    assert len(used) >= 30
    # no learner-facing English sentence is left as a literal in the runner
    assert not re.search(r'(?:notes\.append|_platform)\(\s*f?"[A-Z]', RUNNER.read_text())


def test_a_composed_report_keeps_the_learners_own_text():
    text = (
        f"{say('call.timeout_function', function='greet', seconds=10.0)} {say('summary.count', passed=3, total=5)}\n"
        "AssertionError: expected 'Hello, Ada!' -- 3 of 5 tests passed? no"
    )
    assert localize(text, "zh-hans") == (
        "greet() 超时：一次调用超过了 10 秒，已被停止。 5 个测试中通过了 3 个。\n"
        "AssertionError: expected 'Hello, Ada!' -- 3 of 5 tests passed? no"
    )
    # the longer sentence wins over one it contains
    assert localize(say("hidden.error"), "zh-hans") == "隐藏测试未通过：你的代码抛出了错误或中途停止。"
