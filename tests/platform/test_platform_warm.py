"""A web process renders every module's guides as it starts, so no learner's first visit pays for a render."""

from __future__ import annotations

import pytest

from modules import handouts, selectors


@pytest.fixture
def cold_cache(monkeypatch):
    monkeypatch.setattr(handouts, "_cache", type(handouts._cache)())
    return handouts._cache


def renders_counted(monkeypatch) -> list[str]:
    rendered: list[str] = []
    real = handouts.guide_to_html
    monkeypatch.setattr(
        handouts, "guide_to_html", lambda text, context=None: rendered.append(text) or real(text, context)
    )
    return rendered


def test_after_the_warm_up_a_module_page_renders_no_guide(course, learner, cold_cache, monkeypatch):
    rendered = renders_counted(monkeypatch)
    # each active module in each language it has a guide in (the fixture's 02-next has only an English one)
    assert selectors.guides_warm() == len(rendered) == 3
    rendered.clear()
    for lang in ("en", "zh-hans"):
        response = learner.get("/modules/01-hello/", HTTP_ACCEPT_LANGUAGE=lang)
        assert response.status_code == 200
        assert "guide_html" in response.content.decode()
    assert rendered == []  # both languages came from the cache


def test_without_the_warm_up_the_first_visit_renders_its_guide(course, learner, cold_cache, monkeypatch):
    rendered = renders_counted(monkeypatch)
    assert learner.get("/modules/01-hello/").status_code == 200
    assert len(rendered) == 1  # what the warm-up saves a learner (20-50 ms a guide on the real course)


@pytest.mark.django_db(transaction=True)
def test_the_web_process_warms_the_guides_on_a_thread_of_its_own(course, cold_cache):
    from labplatform import asgi

    thread = asgi.guides_warm_start()
    thread.join(60)
    assert not thread.is_alive()
    hello, following = course["01-hello"], course["02-next"]
    assert sorted(cold_cache) == sorted(
        [(hello.content_hash, "en"), (hello.content_hash, "zh"), (following.content_hash, "en")]
    )
