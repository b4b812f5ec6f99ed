"""Global search on SQLite (FTS5, the embedded mode): CJK bigrams, per-section guide hits, glossary terms,
discussions indexed when posted, and access (a locked module's guide is not searchable). The same matching on
PostgreSQL: tests/production/test_production_search.py."""

from __future__ import annotations

import pytest
from django.db import connection
from platform_helpers import FIXTURE_CONTENT

from grading.discussions.services import post_create, thread_create
from modules import search
from modules.models import SearchEntry
from modules.services import content_sync

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_cjk_text_is_indexed_as_characters_and_bigrams():
    assert search.index_tokens("用梯度下降 Adam") == [
        "用",
        "梯",
        "度",
        "下",
        "降",
        "用梯",
        "梯度",
        "度下",
        "下降",
        "adam",
    ]


def test_a_query_matches_bigrams_of_cjk_runs_single_characters_and_word_prefixes():
    terms = search.query_terms("梯度下降 grad 度")
    assert [(t.text, t.prefix) for t in terms] == [
        ("梯度", False),
        ("度下", False),
        ("下降", False),
        ("grad", True),
        ("度", False),
    ]


def test_sync_indexes_titles_guide_sections_and_glossary_in_both_languages(course):
    rows = SearchEntry.objects.filter(module=course["01-hello"])
    assert set(rows.values_list("kind", "lang")) >= {
        ("module", "en"),
        ("module", "zh"),
        ("section", "en"),
        ("section", "zh"),
        ("term", "en"),
        ("term", "zh"),
    }
    assert connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {search.FTS_TABLE}")
        assert cursor.fetchone()[0] == SearchEntry.objects.count()


def test_a_second_sync_of_unchanged_content_keeps_the_index(course):
    before = list(SearchEntry.objects.order_by("id").values_list("id", flat=True))
    content_sync(content_dir=FIXTURE_CONTENT)
    assert list(SearchEntry.objects.order_by("id").values_list("id", flat=True)) == before


def test_a_two_character_chinese_term_mid_sentence_finds_its_guide_section(course, learner):
    response = learner.get("/search/", {"q": "梯度"}, **ZH)
    assert response.status_code == 200
    body = response.content.decode()
    section = SearchEntry.objects.get(kind="section", lang="zh", module=course["01-hello"])
    assert section.title == "为什么要问候"
    assert f'href="/modules/01-hello/#{section.key}"' in body
    assert "梯度下降" in body  # the excerpt around the hit


def test_fts5_alone_misses_a_chinese_term_mid_sentence(course):
    """Why the bigrams: FTS5's unicode61 tokenizer reads a whole CJK run as one token, so 梯度 inside 用梯度下降
    is not found when the raw text is indexed."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE VIRTUAL TABLE temp.raw_fts USING fts5(body)")
        cursor.execute("INSERT INTO temp.raw_fts(body) VALUES ('训练时我们用梯度下降更新参数')")
        cursor.execute("SELECT count(*) FROM temp.raw_fts WHERE raw_fts MATCH '梯度'")
        assert cursor.fetchone()[0] == 0
    assert [e.kind for e in search.search_entries(query="梯度", lang="zh")] == ["section"]


def test_english_words_match_as_prefixes_and_the_own_language_comes_first(course):
    hits = search.search_entries(query="gradi", lang="en")
    assert [(e.kind, e.lang) for e in hits] == [("section", "en")]
    both = search.search_entries(query="greet", lang="zh")
    assert both and all(e.lang == "zh" for e in both[:1])


def test_a_glossary_term_is_found_in_chinese(course, learner):
    response = learner.get("/search/", {"q": "问候语"}, **ZH)
    assert 'href="/references/#01-hello"' in response.content.decode()


def test_a_locked_module_shows_its_title_but_not_its_guide_or_glossary(course, learner):
    body = learner.get("/search/", {"q": "续篇"}, **ZH).content.decode()
    assert "/references/#02-next" not in body
    title = course["02-next"].title["en"]
    hits = learner.get("/search/", {"q": title}).content.decode()
    assert 'href="/modules/02-next/"' in hits


def test_a_question_is_searchable_once_posted_and_a_reply_updates_it(course, learner, other_learner):
    thread = thread_create(
        author=learner.user,
        module=course["01-hello"],
        kind="question",
        title="为什么返回值是空的",
        body="我的 greet 返回 None",
    )
    body = other_learner.get("/search/", {"q": "返回值"}, **ZH).content.decode()
    assert f"#thread-{thread.pk}" in body
    post_create(author=other_learner.user, thread=thread, body="检查一下缩进和 return 语句")
    assert any(e.key == str(thread.pk) for e in search.search_entries(query="缩进", lang="en"))


def test_a_review_request_is_never_indexed(course, learner, pass_module):
    submission = pass_module(learner, course["01-hello"])
    thread_create(
        author=learner.user,
        module=course["01-hello"],
        kind="review",
        title="请看看我的私人作业",
        body="私人内容",
        submission=submission.pk,
    )
    assert not SearchEntry.objects.filter(kind="thread").exists()


@pytest.mark.parametrize("query", ["", "   ", "!!!", "\"'*"])
def test_an_empty_or_punctuation_query_answers_no_hits(course, learner, query):
    response = learner.get("/search/", {"q": query})
    assert response.status_code == 200
    assert 'data-testid="search-hit"' not in response.content.decode()


def test_search_needs_a_login(anonymous):
    response = anonymous.get("/search/", {"q": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
