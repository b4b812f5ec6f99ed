"""POST /api/tools/lint/ and /api/tools/format/ (ruff as a subprocess, argv list + stdin)."""

import pytest

from modules.spec import DEFAULT_FILE_BYTES

pytestmark = pytest.mark.django_db


def test_it_lints_python_and_reports_positions(learner):
    response = learner.post_json("/api/tools/lint/", {"path": "hello.py", "text": "x = undefined_name\n"})
    assert response.status_code == 200
    diagnostics = response.json()["diagnostics"]
    assert [(d["code"], d["line"], d["column"]) for d in diagnostics] == [("F821", 1, 5)]


def test_it_returns_no_diagnostics_for_clean_code(learner):
    response = learner.post_json("/api/tools/lint/", {"path": "hello.py", "text": "x = 1\n"})
    assert response.json() == {"diagnostics": []}


def test_it_formats_python(learner):
    response = learner.post_json("/api/tools/format/", {"path": "nanochat/gpt.py", "text": "x=[1,2]\n"})
    assert response.status_code == 200
    assert response.json() == {"text": "x = [1, 2]\n"}


def test_it_reports_code_it_cannot_format(learner):
    response = learner.post_json("/api/tools/format/", {"path": "a.py", "text": "def (:\n"})
    assert response.status_code == 400
    assert response.json()["code"] == "format_failed"


def test_it_treats_shell_metacharacters_as_plain_text(learner, tmp_path):
    marker = tmp_path / "pwned"
    text = f"x = 1  # $(touch {marker}) `touch {marker}`\n"
    response = learner.post_json("/api/tools/format/", {"path": f"a;touch {marker}.py", "text": text})
    assert response.status_code in (200, 400)
    assert not marker.exists()


def test_it_rejects_tool_input_over_the_per_file_cap(learner):
    response = learner.post_json("/api/tools/lint/", {"path": "a.py", "text": "#" * (DEFAULT_FILE_BYTES + 1)})
    assert response.status_code == 400 and response.json()["code"] == "too_large"


def test_it_rejects_binary_tool_input(learner):
    assert learner.post_json("/api/tools/lint/", {"path": "a.py", "text": "\x00"}).status_code == 400


def test_it_rejects_a_path_outside_the_workspace(learner):
    for path in ("../x.py", "/etc/x.py", "x.txt", "", None):
        assert learner.post_json("/api/tools/lint/", {"path": path, "text": "x = 1\n"}).status_code == 400


def test_it_rejects_malformed_tool_json(learner):
    assert learner.post("/api/tools/format/", b"{", content_type="application/json").status_code == 400


def test_it_refuses_tools_to_anonymous(anonymous):
    assert anonymous.post_json("/api/tools/lint/", {"path": "a.py", "text": "x = 1\n"}).status_code == 403


def test_it_rejects_get_on_tools(learner):
    assert learner.get("/api/tools/lint/").status_code == 405
    assert learner.get("/api/tools/format/").status_code == 405
