"""Authoring in the admin, in English and in Chinese: an author edits module 1's guide, watches the live preview
typeset a new formula with KaTeX, saves; a learner reads the new guide; the author reverts and the learner reads
the old one again.

The author is a staff account of the author group, made with ``manage.py shell`` against the server's own database, as an operator would.
Each language edits its own guide and reverts it, so the two tests leave the module as they found it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import FIRST_MODULE, REPO, LabServer, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "author-the-lab-42"
MAKE_AUTHOR = """
from django.contrib.auth.models import Group, User
from modules.services import roles_ensure
roles_ensure()
user = User.objects.create_user(username={name!r}, password={password!r}, is_staff=True)
user.groups.add(Group.objects.get(name="author"))
"""
SAVED = {"en": r"Saved as revision (\d+)\.", "zh-hans": r"已保存为第 (\d+) 版。"}
REVERTED = {"en": "Reverted to revision", "zh-hans": "已恢复到第"}
FORMULA = r"\frac{a_i}{\sqrt{d}}"


def make_author(server: LabServer, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LAB_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "labplatform.settings",
        "LAB_VAR_DIR": str(server.var_dir),
        "LAB_CONTENT_DIR": str(server.content_dir),
        "LAB_MODE": "embedded",
    }
    code = MAKE_AUTHOR.format(name=name, password=PASSWORD)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env, check=True, timeout=120
    )


def login(page: Any, server: LabServer, name: str, lang: str) -> None:
    page.goto(f"{server.base_url}/accounts/login/")
    if lang != "en":
        page.click(f"[data-testid=lang-switch] button[value='{lang}']")
        page.wait_for_selector(f"html[lang='{lang}']")
    page.fill("#id_username", name)
    page.fill("#id_password", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(f"{server.base_url}/")


def learner_guide(page: Any, server: LabServer) -> str:
    page.goto(f"{server.base_url}/modules/{FIRST_MODULE}/")
    page.wait_for_selector("body[data-ready='1']", timeout=90_000)
    page.wait_for_selector("[data-testid=guide] h1, [data-testid=guide] h2")
    return str(page.inner_text("[data-testid=guide]"))


def formula_typeset(page: Any, root: str) -> None:
    """Wait until KaTeX has typeset ``FORMULA`` under ``root`` (its MathML annotation holds the TeX)."""
    page.wait_for_function(
        """([root, tex]) => [...document.querySelectorAll(`${root} .arithmatex[data-maths=ok] annotation`)]
             .some((a) => a.textContent.trim() === tex)""",
        arg=[root, FORMULA],
        timeout=30_000,
    )


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_an_author_edits_a_guide_with_a_live_preview_and_reverts_it(
    lab_server: LabServer, chromium: Any, screenshots: Path, lang: str
):
    stamp = int(time.time() * 1000) % 10**8
    author_name, learner_name = f"author-{lang}-{stamp}", f"reader-{lang}-{stamp}"
    guide = "en" if lang == "en" else "zh"
    marker = f"Authoring check {stamp}" if lang == "en" else f"编写检查 {stamp}"
    make_author(lab_server, author_name)
    author_ctx = chromium.new_context(viewport={"width": 1440, "height": 1000})
    learner_ctx = chromium.new_context(viewport={"width": 1440, "height": 900})
    for ctx in (author_ctx, learner_ctx):
        ctx.set_default_timeout(60_000)  # pages load KaTeX and Plotly (and Monaco on the module page)
    errors: list[str] = []
    try:
        author = author_ctx.new_page()
        author.on("pageerror", lambda e: errors.append(str(e)))
        login(author, lab_server, author_name, lang)

        # the module's change page links to its authoring page
        author.goto(f"{lab_server.base_url}/admin/modules/module/?q={FIRST_MODULE}")
        author.click(f"#result_list a:text-is('{FIRST_MODULE}')")
        author.click("a.button[href$='/authoring/']")
        author.wait_for_selector("[data-testid=authoring]")
        assert author.get_attribute("html", "lang") == lang
        preview = f"[data-testid=preview-{guide}]"
        author.wait_for_selector(f"{preview}[data-preview-state=rendered]")
        assert author.locator("[data-testid=hints] select").count() >= 3  # hints are forms, not JSON

        # typing updates the preview: the learners' renderer, KaTeX included
        source = f"#id_text-guide_{guide}"
        original = author.input_value(source)
        author.fill(source, original + f"\n{marker}: ${FORMULA}$\n")
        author.wait_for_function(
            "([sel, text]) => document.querySelector(sel).innerText.includes(text)", arg=[preview, marker]
        )
        formula_typeset(author, preview)
        author.locator(preview).locator(f"text={marker}").scroll_into_view_if_needed()
        author.screenshot(path=str(screenshots / "01-live-preview.png"))

        # save: a new revision, with its diff
        author.click("[data-testid=save]")
        author.wait_for_selector(".messagelist")
        saved = re.search(SAVED[lang], author.inner_text(".messagelist"))
        assert saved is not None, author.inner_text(".messagelist")
        number = int(saved.group(1))
        author.click(f"[data-revision='{number}'] summary")
        assert f"+{marker}: ${FORMULA}$" in author.inner_text(f"[data-revision='{number}'] .authoring-diff")
        author.screenshot(path=str(screenshots / "02-saved-revision.png"), full_page=True)

        # a learner reads the new guide, formula typeset
        learner = learner_ctx.new_page()
        learner.on("pageerror", lambda e: errors.append(str(e)))
        signup(learner, lab_server, lang, learner_name)
        assert marker in learner_guide(learner, lab_server)
        formula_typeset(learner, "[data-testid=guide]")
        learner.locator("[data-testid=guide]").locator(f"text={marker}").scroll_into_view_if_needed()
        learner.screenshot(path=str(screenshots / "03-learner-sees-edit.png"))

        # one click reverts to the version before the edit (itself a new revision)
        author.click(f"[data-revision='{number - 1}'] summary")
        author.click(f"[data-testid=revert-{number - 1}]")
        author.wait_for_selector(".messagelist")
        assert REVERTED[lang] in author.inner_text(".messagelist")
        assert author.get_attribute(".authoring-revision >> nth=0", "data-revision") == str(number + 1)
        assert marker not in author.input_value(source)
        author.wait_for_selector(f"{preview}[data-preview-state=rendered]")
        assert marker not in author.inner_text(preview)
        author.screenshot(path=str(screenshots / "04-reverted.png"))

        assert marker not in learner_guide(learner, lab_server)
        learner.screenshot(path=str(screenshots / "05-learner-sees-revert.png"))
        assert errors == []
    finally:
        author_ctx.close()
        learner_ctx.close()
