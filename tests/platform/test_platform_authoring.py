"""Authoring in the admin: edits as forms, validated like the sync; every edit a revision with a diff and a revert;
the export back to content/ round-trips through sync_content; sync and admin never disagree silently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from platform_helpers import FIXTURE_CONTENT, Persona

from modules.models import ContentRevision, Module
from modules.services import AuthoringInvalid, content_document, content_revise, content_sync, roles_ensure

pytestmark = pytest.mark.django_db

MATHS_GUIDE = "# Hello\n\nThe loss is $\\mathcal{L} = -\\log p$.\n\n$$\nx_i^2\n$$\n"


@pytest.fixture
def content(tmp_path, settings) -> Path:
    """A private copy of the fixture course, synced: exports write into it, never into the repository."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    settings.LAB_CONTENT_DIR = target
    settings.LAB_STARTERS_DIR = tmp_path / "starters"
    report = content_sync(content_dir=target)
    assert not report.errors, report.errors
    return target


@pytest.fixture
def module(content) -> Module:
    return Module.objects.get(slug="01-hello")


@pytest.fixture
def author(db) -> Persona:
    """Staff in the author group (which may change modules), as ``modules.apps`` grants it."""
    roles_ensure()
    user = User.objects.create_user(username="writer", password="correct horse battery", is_staff=True)
    user.groups.add(Group.objects.get(name="author"))
    return Persona(user)


def edited(module: Module, **changes: Any) -> dict[str, Any]:
    return {**content_document(module=module), **changes}


def authoring_post(module: Module, **overrides: str) -> dict[str, str]:
    """The authoring form as the page posts it: every current value, with ``overrides``."""
    doc = content_document(module=module)
    data = {
        "text-title_en": doc["title"]["en"],
        "text-title_zh": doc["title"]["zh"],
        "text-summary_en": doc["summary"]["en"],
        "text-summary_zh": doc["summary"]["zh"],
        "text-guide_en": doc["guide.en"].replace("\n", "\r\n"),  # browsers send CRLF
        "text-guide_zh": doc["guide.zh"].replace("\n", "\r\n"),
        "hints-TOTAL_FORMS": str(len(doc["hints"]) + 1),
        "hints-INITIAL_FORMS": str(len(doc["hints"])),
        "reflection-TOTAL_FORMS": str(len(doc["reflection"]) + 1),
        "reflection-INITIAL_FORMS": str(len(doc["reflection"])),
    }
    steps = [h["step"] for h in doc["hints"]]
    for i, hint in enumerate(
        [*doc["hints"], {"id": "", "step": steps[0], "level": 1, "text": {"en": "", "zh": ""}}]
    ):
        data |= {
            f"hints-{i}-id": hint["id"],
            f"hints-{i}-step": hint["step"],
            f"hints-{i}-level": str(hint["level"]),
            f"hints-{i}-text_en": hint["text"]["en"],
            f"hints-{i}-text_zh": hint["text"]["zh"],
        }
    blank = {"id": "", "kind": "text", "prompt": {"en": "", "zh": ""}}
    for i, q in enumerate([*doc["reflection"], blank]):
        data |= {
            f"reflection-{i}-id": q["id"],
            f"reflection-{i}-kind": q["kind"],
            f"reflection-{i}-prompt_en": q["prompt"]["en"],
            f"reflection-{i}-prompt_zh": q["prompt"]["zh"],
            f"reflection-{i}-choices": "\r\n".join(
                f"{c['id']} | {c['text']['en']} | {c['text']['zh']}" for c in q.get("choices") or []
            ),
            f"reflection-{i}-answer": q.get("answer", ""),
        }
    return data | overrides


def url(module: Module, tail: str = "") -> str:
    return f"/admin/modules/module/{module.pk}/authoring/{tail}"


# --- versions and revert -------------------------------------------------------------------------------------------
def test_an_edit_is_what_learners_read_next(module, author, learner):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    html = learner.get("/api/modules/01-hello/").json()["guide_html"]
    assert '<span class="arithmatex">\\(\\mathcal{L} = -\\log p\\)</span>' in html


def test_an_edit_is_a_revision_with_its_author_and_a_diff_per_field(module, author):
    revision = content_revise(
        module=module,
        author=author.user,
        document=edited(module, **{"guide.en": MATHS_GUIDE, "title": {"en": "Hi", "zh": "你好"}}),
    )
    assert revision is not None and revision.number == 2 and revision.author == author.user
    assert set(revision.diff) == {"title", "guide.en"}
    assert "+The loss is $\\mathcal{L} = -\\log p$.\n" in revision.diff["guide.en"]
    assert '-en: "Hello"\n+en: "Hi"\n zh: "你好"\n' in revision.diff["title"]
    first = ContentRevision.objects.get(module=module, number=1)
    assert (
        first.source == "sync" and first.author is None and first.document["guide.en"].startswith("# Hello\n")
    )


def test_saving_the_same_document_makes_no_revision(module, author):
    assert content_revise(module=module, author=author.user, document=edited(module)) is None
    assert not ContentRevision.objects.exists()


def test_a_revert_restores_a_version_as_a_new_revision(module, author):
    original = content_document(module=module)
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    response = author.post(url(module, "revert/1/"))
    assert response.status_code == 302
    module.refresh_from_db()
    assert content_document(module=module) == original
    latest = module.revisions.first()
    assert (latest.number, latest.source, latest.reverted_from.number) == (3, "revert", 1)
    # back to the files' version: the admin copy and content/ agree again
    assert module.files_document is None and module.content_hash == module.files_hash


def test_an_edit_the_sync_would_refuse_is_refused_with_every_problem(module, author):
    doc = edited(
        module,
        **{
            "guide.en": "# Hi\n\n{{fact:nope}}\n",
            "hints": [{"id": "h1", "step": "step9", "level": 1, "text": {"en": "x", "zh": "x"}}],
        },
    )
    with pytest.raises(AuthoringInvalid) as caught:
        content_revise(module=module, author=author.user, document=doc)
    problems = "\n".join(caught.value.problems)
    assert "guide.en.md: unknown fact" in problems
    assert "hints.yaml h1: unknown step 'step9'" in problems
    assert "hints.yaml hints: [" in problems  # the schema: at least three hints
    assert not ContentRevision.objects.exists()


# --- the admin page ------------------------------------------------------------------------------------------------
def test_the_authoring_page_saves_forms_and_shows_the_revision(module, author):
    page = author.get(url(module))
    assert (
        page.status_code == 200
        and b'name="text-guide_en"' in page.content
        and b"hints-0-step" in page.content
    )
    data = authoring_post(
        module,
        **{"text-guide_en": MATHS_GUIDE.replace("\n", "\r\n"), "hints-1-text_en": "Mind the ! at the end."},
    )
    response = author.post(url(module), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    module.refresh_from_db()
    assert module.payload["guides"]["en"] == MATHS_GUIDE  # stored with LF, as in content/
    assert module.payload["hints"][1]["text"]["en"] == "Mind the ! at the end."
    assert [h["id"] for h in module.payload["hints"]] == [
        "h1",
        "h2",
        "h3",
    ]  # the untouched extra row adds nothing
    assert len(module.payload["reflection"]) == 2
    page = author.get(url(module))
    assert b"Saved as revision 2" in page.content and b"#2" in page.content and b"writer" in page.content


def test_the_authoring_page_adds_and_deletes_hints(module, author):
    data = authoring_post(
        module,
        **{
            "hints-2-DELETE": "on",
            "hints-3-id": "h4",
            "hints-3-level": "3",
            "hints-3-text_en": "return f'Hello, {name}!'",
            "hints-3-text_zh": "返回问候。",
        },
    )
    assert author.post(url(module), data).status_code == 302
    module.refresh_from_db()
    assert [(h["id"], h["level"]) for h in module.payload["hints"]] == [("h1", 1), ("h2", 2), ("h4", 3)]


def test_the_authoring_page_shows_the_loaders_problems(module, author):
    response = author.post(
        url(module), authoring_post(module, **{"text-guide_en": "# Hi\n\n{{fact:nope}}\n"})
    )
    assert response.status_code == 200
    assert "guide.en.md: unknown fact" in response.content.decode()
    module.refresh_from_db()
    assert "{{fact:nope}}" not in module.payload["guides"]["en"]


def test_two_hints_cannot_share_an_id(module, author):
    response = author.post(url(module), authoring_post(module, **{"hints-1-id": "h1"}))
    assert response.status_code == 200
    assert "Each id may be used once: h1" in response.content.decode()
    module.refresh_from_db()
    assert [h["id"] for h in module.payload["hints"]] == ["h1", "h2", "h3"]


def test_a_choice_question_needs_two_choices(module, author):
    response = author.post(
        url(module), authoring_post(module, **{"reflection-0-choices": "a | a string | 字符串"})
    )
    assert response.status_code == 200
    assert "A choice question needs at least two choices." in response.content.decode()


def test_the_preview_renders_like_the_module_page(module, author):
    response = author.post(
        url(module, "preview/"), {"lang": "en", "text": MATHS_GUIDE + "\n<script>x()</script>\n"}
    )
    assert response.status_code == 200
    body = response.json()
    assert '<span class="arithmatex">\\(\\mathcal{L} = -\\log p\\)</span>' in body["html"]
    assert '<div class="arithmatex">\\[' in body["html"] and "<script" not in body["html"]
    assert body["problems"] == []
    problems = author.post(url(module, "preview/"), {"lang": "en", "text": "{{fact:nope}}"}).json()[
        "problems"
    ]
    assert problems == ["unknown fact 'nope'"]


SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def test_a_guide_may_show_any_generated_figure_in_the_preview_and_for_learners(
    module, author, learner, tmp_path, settings
):
    figures = tmp_path / "figures"
    (figures / "01-hello").mkdir(parents=True)
    (figures / "01-hello" / "square.en.svg").write_text(SVG, encoding="utf-8")
    manifest = {"01-hello/square": {"kind": "svg", "files": {"en": "01-hello/square.en.svg"}, "inputs": {}}}
    (figures / "manifest.json").write_text(json.dumps({"version": 1, "figures": manifest}), encoding="utf-8")
    settings.LAB_FIGURES_DIR = figures
    guide = "# Hello\n\n![A black square](figure:square)\n"
    body = author.post(url(module, "preview/"), {"lang": "en", "text": guide}).json()
    assert body["problems"] == [] and 'src="data:image/svg+xml;base64,' in body["html"]
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": guide}))
    html = learner.get("/api/modules/01-hello/").json()["guide_html"]
    assert 'src="data:image/svg+xml;base64,' in html and "A black square" in html


def test_the_preview_is_for_staff_only_and_post_only(module, author, learner):
    assert (
        learner.post(url(module, "preview/"), {"lang": "en", "text": "x"}).status_code == 302
    )  # to the login
    assert author.get(url(module, "preview/")).status_code == 405
    assert author.post(url(module, "preview/"), {"lang": "fr", "text": "x"}).status_code == 400
    assert author.post("/admin/modules/module/999999/authoring/preview/", {"lang": "en"}).status_code == 404


def test_the_preview_needs_the_csrf_token(module, author):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(author.user)
    assert strict.post(url(module, "preview/"), {"lang": "en", "text": "x"}).status_code == 403


def test_instructors_who_may_only_view_modules_cannot_edit_them(module, instructor):
    assert instructor.get(f"/admin/modules/module/{module.pk}/change/").status_code == 200
    assert instructor.get(url(module)).status_code == 403
    assert instructor.post(url(module, "preview/"), {"lang": "en", "text": "x"}).status_code == 403
    assert instructor.post(url(module, "revert/1/")).status_code == 403
    assert instructor.post(url(module, "export/")).status_code == 403
    assert b"export_to_content" not in instructor.get("/admin/modules/module/").content


# --- export to content/ --------------------------------------------------------------------------------------------
def test_the_export_round_trips_through_the_sync(module, author, content, capsys):
    folder = content / "01-hello"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    doc = edited(
        module,
        **{
            "guide.en": MATHS_GUIDE,
            "title": {"en": 'Hello, "world"', "zh": "你好：世界"},
            "hints": [
                *module.payload["hints"][:2],
                {"id": "h3", "step": "step1", "level": 3, "text": {"en": "a: b # c", "zh": "第三"}},
            ],
        },
    )
    content_revise(module=module, author=author.user, document=doc)
    call_command("export_content")
    assert "exported 01-hello: module.yaml, guide.en.md, hints.yaml" in capsys.readouterr().out
    assert (folder / "guide.en.md").read_text(encoding="utf-8") == MATHS_GUIDE  # byte for byte
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    untouched = {"guide.zh.md", "reflection.yaml", "feedback.yaml", "references.yaml"}
    assert {name for name in before if after[name] == before[name]} == untouched
    meta_before = before["module.yaml"].decode().splitlines()
    meta_after = after["module.yaml"].decode().splitlines()
    assert [line for line in meta_after if not line.startswith("title:")] == [
        line for line in meta_before if not line.startswith("title:")
    ]  # only the title line changed
    assert yaml.safe_load(after["hints.yaml"])["hints"][2]["text"]["en"] == "a: b # c"
    module.refresh_from_db()
    assert module.files_document is None and module.content_hash == module.files_hash
    assert content_document(module=module) == doc
    call_command("sync_content", "--content-dir", str(content))
    assert "created: 0, updated: 0, unchanged: 2" in capsys.readouterr().out


def test_an_untouched_module_exports_no_file(module, content, capsys):
    call_command("export_content", "01-hello")
    assert "exported 01-hello: no file changed" in capsys.readouterr().out


def test_the_admin_action_exports(module, author, content):
    content_revise(
        module=module, author=author.user, document=edited(module, **{"guide.zh": "# 你好\n\n新的。\n"})
    )
    response = author.post(
        "/admin/modules/module/",
        {"action": "export_to_content", "_selected_action": [module.pk]},
        follow=True,
    )
    assert "01-hello: guide.zh.md" in response.content.decode()
    assert (content / "01-hello" / "guide.zh.md").read_text(encoding="utf-8") == "# 你好\n\n新的。\n"


# --- sync and admin never disagree silently ------------------------------------------------------------------------
def test_the_sync_keeps_admin_edits_when_the_files_did_not_change(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    call_command("sync_content", "--content-dir", str(content))
    out = capsys.readouterr().out
    assert "admin edits kept: 01-hello (not in content/ yet: run manage.py export_content)" in out
    module.refresh_from_db()
    assert module.payload["guides"]["en"] == MATHS_GUIDE


def test_a_field_changed_on_both_sides_is_a_conflict_and_the_admin_copy_stays(
    module, author, content, capsys
):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    (content / "01-hello" / "guide.en.md").write_text("# Hello from git\n", encoding="utf-8")
    call_command("sync_content", "--content-dir", str(content))
    captured = capsys.readouterr()
    assert "conflicts: 1" in captured.out
    assert "conflict: 01-hello guide.en: edited in the admin and in content/" in captured.err
    assert "-The loss is $\\mathcal{L} = -\\log p$." in captured.err and "+# Hello from git" in captured.err
    module.refresh_from_db()
    assert module.payload["guides"]["en"] == MATHS_GUIDE
    assert module.conflict["fields"]["guide.en"]["files"] == "# Hello from git\n"
    assert module.conflict["fields"]["guide.en"]["admin"] == MATHS_GUIDE
    page = author.get(url(module)).content.decode()
    assert 'data-testid="authoring-conflict"' in page and "# Hello from git" in page
    with pytest.raises(Exception, match="1 conflict"):
        call_command("sync_content", "--content-dir", str(content), "--strict")


def test_the_sync_takes_fields_only_the_files_changed(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    (content / "01-hello" / "guide.zh.md").write_text("# 你好（来自 git）\n", encoding="utf-8")
    call_command("sync_content", "--content-dir", str(content))
    assert "updated: 1" in capsys.readouterr().out
    module.refresh_from_db()
    assert module.payload["guides"] == {"en": MATHS_GUIDE, "zh": "# 你好（来自 git）\n"}
    assert module.conflict is None and module.files_document["guide.zh"] == "# 你好（来自 git）\n"
    assert module.revisions.first().source == "sync"


def test_force_takes_the_files_and_keeps_the_admin_version_in_the_revisions(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    (content / "01-hello" / "guide.en.md").write_text("# Hello from git\n", encoding="utf-8")
    call_command("sync_content", "--content-dir", str(content), "--force")
    module.refresh_from_db()
    assert module.payload["guides"]["en"] == "# Hello from git\n" and module.conflict is None
    assert module.content_hash == module.files_hash
    assert ContentRevision.objects.get(module=module, number=2).document["guide.en"] == MATHS_GUIDE


def test_a_conflict_blocks_the_export_until_the_author_chooses(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    (content / "01-hello" / "guide.en.md").write_text("# Hello from git\n", encoding="utf-8")
    call_command("sync_content", "--content-dir", str(content))
    with pytest.raises(Exception, match="not exported"):
        call_command("export_content")
    assert (content / "01-hello" / "guide.en.md").read_text(encoding="utf-8") == "# Hello from git\n"
    author.post(url(module, "export/"), {"force": "1"})  # "keep the admin version"
    assert (content / "01-hello" / "guide.en.md").read_text(encoding="utf-8") == MATHS_GUIDE
    module.refresh_from_db()
    assert module.conflict is None and module.files_document is None


def test_taking_the_files_resolves_a_conflict(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    (content / "01-hello" / "guide.en.md").write_text("# Hello from git\n", encoding="utf-8")
    call_command("sync_content", "--content-dir", str(content))
    assert author.post(url(module, "take-files/")).status_code == 302
    module.refresh_from_db()
    assert module.payload["guides"]["en"] == "# Hello from git\n"
    assert module.conflict is None and module.content_hash == module.files_hash


def test_a_conflict_goes_away_when_the_files_go_back(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    path = content / "01-hello" / "guide.en.md"
    original = path.read_bytes()
    path.write_text("# Hello from git\n", encoding="utf-8")
    call_command("sync_content", "--content-dir", str(content))
    path.write_bytes(original)
    call_command("sync_content", "--content-dir", str(content))
    assert "admin edits kept: 1, conflicts: 0" in capsys.readouterr().out.splitlines()[-1]
    module.refresh_from_db()
    assert module.conflict is None and module.payload["guides"]["en"] == MATHS_GUIDE


def test_force_drops_unexported_admin_edits_too(module, author, content, capsys):
    content_revise(module=module, author=author.user, document=edited(module, **{"guide.en": MATHS_GUIDE}))
    call_command("sync_content", "--content-dir", str(content), "--force")
    assert "updated: 1" in capsys.readouterr().out
    module.refresh_from_db()
    assert module.payload["guides"]["en"].startswith("# Hello\n") and module.content_hash == module.files_hash
    assert module.revisions.first().document["guide.en"] == module.payload["guides"]["en"]
