"""The platform's zh-hans catalog: complete for every translatable string of its code, compiled, and used."""

import ast
import re

import pytest
from django.utils import translation

PLATFORM_SOURCES = [
    "modules/services/accounts.py",
    "modules/services/content.py",
    "modules/services/learning.py",
    "modules/views.py",
    "modules/site_views.py",
    "modules/parsers.py",
    "grading/services.py",
    "grading/views.py",
]


def catalog_ids(repo_root) -> set[str]:
    text = (repo_root / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    return {m for m in re.findall(r'^msgid "(.*)"$', text, flags=re.M) if m}


def test_every_translatable_message_has_a_chinese_entry(repo_root):
    used = set()
    for source in PLATFORM_SOURCES:
        used |= set(
            re.findall(
                r'\b(?:_|ngettext)\(\s*"((?:[^"\\]|\\.)*)"', (repo_root / source).read_text(encoding="utf-8")
            )
        )
    for template in (repo_root / "labplatform" / "templates").rglob("*.html"):
        used |= set(re.findall(r'{% translate "([^"]+)" %}', template.read_text(encoding="utf-8")))
    assert used - catalog_ids(repo_root) == set()


def test_every_refusal_of_the_module_spec_has_a_chinese_entry(repo_root):
    """``modules.spec`` is Django-free, so its learner-facing templates are translated by the platform by code."""
    tree = ast.parse((repo_root / "modules" / "spec.py").read_text(encoding="utf-8"))
    templates = {
        node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SubmissionError"
    }
    assert len(templates) >= 8
    assert templates - catalog_ids(repo_root) == set()


def test_the_compiled_catalog_is_loaded():
    with translation.override("zh-hans"):
        assert translation.gettext("this module is locked") == "该模块尚未解锁"


@pytest.mark.django_db
def test_api_errors_speak_the_learners_language(course, learner):
    response = learner.get("/api/modules/02-next/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 403
    assert response.json()["detail"] == "该模块尚未解锁"


@pytest.mark.django_db
def test_file_refusals_speak_the_learners_language(course, learner):
    response = learner.post_json(
        "/api/modules/01-hello/submissions/", {"files": {"other.py": "x"}}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "other.py 不是本模块可编辑的文件（可编辑：hello.py）",
        "code": "unknown_file",
    }
