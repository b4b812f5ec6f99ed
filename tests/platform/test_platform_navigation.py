"""The learner navigation: the left nav on every learner page, my progress, references, discussions across modules,
settings (route, language, editor preferences, e-mail, password) and routes that the dashboard follows."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import User

from grading.discussions.services import thread_create
from modules.models import LearnerSettings, Route
from modules.selectors import route_module_slugs
from modules.services import tracks_ensure

NAV = ["/", "/progress/", "/measurements/", "/references/", "/discussions/", "/settings/"]


def page_data(response) -> dict:
    match = re.search(
        r'<script id="page-data" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, "no page data"
    return json.loads(match.group(1))


@pytest.mark.parametrize("url", [*NAV, "/search/?q=hello", "/modules/01-hello/"])
def test_every_learner_page_has_the_left_navigation_with_every_link(course, learner, url):
    body = learner.get(url).content.decode()
    nav = body[body.index('data-testid="sidenav"') :]
    for href in NAV:
        assert f'href="{href}"' in nav
    assert 'action="/search/"' in nav and 'aria-controls="sidenav"' in body


@pytest.mark.parametrize("url", NAV[1:] + ["/search/"])
def test_navigation_pages_need_a_login(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_login_page_has_no_navigation(anonymous):
    assert 'data-testid="sidenav"' not in anonymous.get("/accounts/login/").content.decode()


def test_my_progress_lists_states_best_scores_and_the_summary(course, learner, pass_module):
    pass_module(learner, course["01-hello"])
    body = learner.get("/progress/").content.decode()
    assert re.search(r'data-module="01-hello" data-state="passed"', body)
    assert re.search(r'data-module="02-next" data-state="locked"', body)
    assert "100%" in body and "0 of 2 modules completed" in body


def test_references_list_source_links_glossary_and_speak_chinese(course, learner):
    body = learner.get("/references/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    section = body[body.index('id="01-hello"') :]
    assert "<dt>问候语</dt>" in section and "greet 返回的内容" in section
    assert "术语表" in body


def test_a_module_rebuilding_nanochat_files_links_them_at_the_pinned_commit(course):
    from modules.selectors import module_references

    module = course["01-hello"]
    module.metadata = {**module.metadata, "files": [{"path": "nanochat/gpt.py"}, {"path": "hello.py"}]}
    assert module_references(module=module, lang="en")["source"] == [
        {
            "path": "nanochat/gpt.py",
            "url": "https://github.com/karpathy/nanochat/blob/48abd7d/nanochat/gpt.py",
        }
    ]


def test_discussions_across_modules_show_questions_and_only_own_reviews(
    course, learner, other_learner, pass_module
):
    hello = course["01-hello"]
    thread_create(author=learner.user, module=hello, kind="question", title="Why None?", body="help")
    submission = pass_module(other_learner, hello)
    thread_create(
        author=other_learner.user,
        module=hello,
        kind="review",
        title="Bo's review",
        body="look",
        submission=submission.pk,
    )
    mine = learner.get("/discussions/").content.decode()
    assert "Why None?" in mine and "Bo&#x27;s review" not in mine and "Bo's review" not in mine
    theirs = other_learner.get("/discussions/").content.decode()
    assert "Why None?" in theirs and "review" in theirs
    assert "/modules/01-hello/#thread-" in theirs


def test_settings_save_editor_preferences_route_and_language(course, learner):
    response = learner.post(
        "/settings/",
        {
            "action": "preferences",
            "route": "nanochat",
            "language": "zh-hans",
            "editor_font_size": "18",
            "editor_tab_size": "2",
            "editor_minimap": "on",
        },
    )
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "zh-hans"
    row = LearnerSettings.objects.get(user=learner.user)
    assert (row.editor_font_size, row.editor_tab_size, row.editor_minimap, row.route.slug) == (
        18,
        2,
        True,
        "nanochat",
    )
    editor = page_data(learner.get("/modules/01-hello/"))["editor"]
    assert editor == {"font_size": 18, "tab_size": 2, "minimap": True}
    assert '<html lang="zh-hans">' in learner.get("/settings/").content.decode()


def test_settings_refuse_a_font_size_not_offered(course, learner):
    response = learner.post(
        "/settings/",
        {
            "action": "preferences",
            "route": "nanochat",
            "language": "en",
            "editor_font_size": "99",
            "editor_tab_size": "4",
        },
    )
    assert response.status_code == 400
    assert not LearnerSettings.objects.filter(user=learner.user).exists()


def test_the_module_page_opens_the_editor_with_defaults_before_any_settings(course, learner):
    assert page_data(learner.get("/modules/01-hello/"))["editor"] == {
        "font_size": 14,
        "tab_size": 4,
        "minimap": False,
    }


def test_changing_the_email_needs_the_current_password(learner):
    wrong = learner.post("/settings/", {"action": "email", "email": "ada@example.org", "password": "nope"})
    assert wrong.status_code == 400 and "not your current password" in wrong.content.decode()
    right = learner.post(
        "/settings/", {"action": "email", "email": "ada@example.org", "password": "correct horse battery"}
    )
    assert right.status_code == 302
    assert User.objects.get(pk=learner.user.pk).email == "ada@example.org"


def test_changing_the_password_keeps_the_session(learner):
    response = learner.post(
        "/settings/",
        {
            "action": "password",
            "old_password": "correct horse battery",
            "new_password1": "a much longer passphrase 42",
            "new_password2": "a much longer passphrase 42",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(pk=learner.user.pk).check_password("a much longer passphrase 42")
    assert learner.get("/settings/").status_code == 200


def test_a_track_shows_its_modules_and_their_prerequisites(course):
    track = Route.objects.create(slug="second", title={"en": "Second only"})
    track.members.set([course["02-next"]])
    modules = list(course.values())
    assert route_module_slugs(route=track, modules=modules) == {"01-hello", "02-next"}
    only_first = Route.objects.create(slug="first", title={"en": "First only"})
    only_first.members.set([course["01-hello"]])
    assert route_module_slugs(route=only_first, modules=modules) == {"01-hello"}


def test_the_dashboard_follows_the_chosen_route(course, learner):
    track = Route.objects.create(slug="first", title={"en": "First only", "zh": "只学第一个"}, position=1)
    track.members.set([course["01-hello"]])
    assert [m["slug"] for m in page_data(learner.get("/"))["modules"]] == ["01-hello", "02-next"]
    response = learner.post("/settings/route/", {"route": "first", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = learner.get("/")
    assert [m["slug"] for m in page_data(dashboard)["modules"]] == ["01-hello"]
    assert '<option value="first" selected>' in dashboard.content.decode()
    assert "02-next" not in learner.get("/progress/").content.decode()


def test_choosing_an_unknown_route_is_refused(course, learner):
    assert learner.post("/settings/route/", {"route": "nope"}).status_code == 400
    assert learner.get("/settings/route/").status_code == 405


def test_sync_creates_the_tracks_of_routes_yaml_once_and_never_overwrites_them(course, tmp_path, settings):
    (tmp_path / "routes.yaml").write_text(
        "routes:\n  - slug: mini\n    title: {en: Mini, zh: 迷你}\n    modules: [02-next]\n", encoding="utf-8"
    )
    [created] = tracks_ensure(content_dir=tmp_path)
    assert [m.slug for m in created.members.all()] == ["02-next"]
    created.members.set([course["01-hello"]])  # an author's edit in the admin
    assert tracks_ensure(content_dir=tmp_path) == []
    assert [m.slug for m in Route.objects.get(slug="mini").members.all()] == ["01-hello"]


def test_the_real_course_tracks_name_existing_modules(repo_root):
    import yaml

    routes = yaml.safe_load((repo_root / "content" / "routes.yaml").read_text(encoding="utf-8"))["routes"]
    folders = {p.name for p in (repo_root / "content").iterdir() if p.is_dir()}
    assert {r["slug"] for r in routes} == {"inference", "training"}
    for route in routes:
        assert set(route["modules"]) <= folders, route["slug"]
