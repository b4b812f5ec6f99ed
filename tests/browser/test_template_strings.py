"""The server-rendered half of the UI: every template string has a Chinese translation, and pages use it."""

from __future__ import annotations

import gettext
import re

import pytest

from tests.browser.lab import REPO

TEMPLATES = REPO / "modules" / "templates"
CATALOG = REPO / "modules" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"


def template_msgids() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"""\{%\s*translate\s+"([^"]+)"\s*%\}""", text))
        found |= set(re.findall(r"""\{%\s*translate\s+'([^']+)'\s*%\}""", text))
    return found


def test_every_template_string_has_a_chinese_translation_in_the_compiled_catalog():
    msgids = template_msgids()
    assert len(msgids) > 15
    with CATALOG.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    missing = sorted(m for m in msgids if catalog.gettext(m) == m)
    assert missing == [], f"add these to django.po and run msgfmt: {missing}"


@pytest.mark.django_db
def test_the_signup_page_renders_in_chinese_when_the_language_is_chinese(client):
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/accounts/signup/").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "创建你的账号" in html and "邮箱（可选）" in html
    assert 'aria-pressed="true">中文' in html


@pytest.mark.django_db
def test_the_login_page_renders_in_english_by_default(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<html lang="en">' in html
    assert "Welcome back" in html
    assert 'name="csrfmiddlewaretoken"' in html
