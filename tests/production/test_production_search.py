"""Global search on PostgreSQL (production): the same CJK bigram index as SQLite's FTS5, through a GIN index on a
tsvector of the stored tokens. A fresh database is migrated (the migration builds the index), the platform's
fixture course is synced (which indexes it), and a question is posted through the discussions service; searches
run in a ``manage.py shell`` against that database. SQLite: tests/platform/test_platform_search.py."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from lab_stack import PG_HOST, PG_PORT, REPO_ROOT, LabStack

pytestmark = [pytest.mark.production, pytest.mark.slow]

FIXTURE_CONTENT = REPO_ROOT / "tests" / "platform" / "fixtures" / "content"

SCRIPT = """
import json
from django.contrib.auth.models import User
from django.db import connection
from grading.discussions.services import thread_create
from modules import search
from modules.models import Module

hello = Module.objects.get(slug="01-hello")
ada = User.objects.create_user("ada", password="x")
thread_create(author=ada, module=hello, kind="question", title="为什么返回值是空的", body="我的 greet 返回 None")
def found(query, lang):
    return [[e.kind, e.lang, e.url] for e in search.search_entries(query=query, lang=lang)]
print(json.dumps({
    "vendor": connection.vendor,
    "zh_term": found("梯度", "zh"),
    "zh_one_char": found("梯", "zh"),
    "en_prefix": found("gradi", "en"),
    "glossary": found("问候语", "zh"),
    "thread": found("返回值", "en"),
    "nothing": found("梯子", "zh"),
    "quote": found("o'brien", "en"),
}, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    lab = LabStack(tmp_path_factory.mktemp("search-stack"))
    lab.env["LAB_CONTENT_DIR"] = str(FIXTURE_CONTENT)
    lab.db_name = f"lab_search_{uuid.uuid4().hex[:10]}"
    lab.env["DATABASE_URL"] = f"postgres://{lab.pg_user}@{PG_HOST}:{PG_PORT}/{lab.db_name}"
    admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user=lab.pg_user, dbname="test")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{lab.db_name}"')
    admin.close()
    try:
        lab.manage("migrate", "--noinput", "-v0")
        lab.manage("sync_content", "--content-dir", str(FIXTURE_CONTENT))
        yield lab
    finally:
        lab.teardown()


def test_postgres_search_finds_cjk_terms_mid_sentence_words_by_prefix_terms_and_posted_threads(stack):
    result = json.loads(stack.manage("shell", "-c", SCRIPT).strip().splitlines()[-1])
    assert result["vendor"] == "postgresql"
    assert result["zh_term"] == [["section", "zh", result["zh_term"][0][2]]]
    assert result["zh_term"][0][2].startswith("/modules/01-hello/#")
    assert ["section", "zh", result["zh_term"][0][2]] in result["zh_one_char"]
    assert [hit[:2] for hit in result["en_prefix"]] == [["section", "en"]]
    assert result["glossary"] == [["term", "zh", "/references/#01-hello"]]
    assert [hit[0] for hit in result["thread"]] == ["thread"] and "#thread-" in result["thread"][0][2]
    assert result["nothing"] == [] and result["quote"] == []


def test_postgres_text_search_alone_misses_a_chinese_term_mid_sentence(stack):
    """Why the bigrams: PostgreSQL's parser reads a whole CJK run as one word."""
    conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=stack.pg_user, dbname=stack.db_name)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT to_tsvector('simple', '训练时我们用梯度下降更新参数') @@ to_tsquery('simple', '梯度')"
            )
            assert cur.fetchone()[0] is False
            cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'modules_searchentry_tsv'")
            assert "gin" in cur.fetchone()[0].lower()
    finally:
        conn.close()
