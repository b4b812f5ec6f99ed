"""Global search over module titles, guide sections, glossary terms and discussions, in English and Chinese.

Design choices:
- One tokenizer for both backends, in Python (:func:`index_tokens`, :func:`query_terms`): words (letters, digits,
  ``_``) are lower-cased; CJK text, which has no spaces, becomes every single character and every overlapping
  character bigram ("梯度下降" → 梯 度 下 降 梯度 度下 下降). A query's CJK run of two or more characters must match
  all of its bigrams, a one-character run its character; a query word matches as a prefix ("grad" finds
  "gradient"). So 梯度 in the middle of a sentence is found, which neither FTS5's default or trigram tokenizer nor
  PostgreSQL's parsers do. The bigrams of a query need not be adjacent in the text (梯度下降 matches a text that
  holds 梯度, 度下 and 下降 anywhere), so a rare false hit is possible; it ranks low.
- The index stores the tokens as space-separated text in ``SearchEntry.tokens``; each backend indexes that text as
  terms, so the backends' own word splitting decides (almost) nothing:
  - SQLite (embedded): an external-content FTS5 table ``modules_searchentry_fts`` (``unicode61`` splits on the
    spaces, and also inside ``snake_case`` words, which a quoted query splits the same way, as a phrase) kept in
    step with the rows by triggers, so every ORM write updates it; ranked by ``bm25``.
  - PostgreSQL (production): a GIN index on ``array_to_tsvector(string_to_array(tokens, ' '))``; queries are
    ``tsquery`` values built from quoted lexemes (``'梯度' & 'grad':*``), which skip the text-search parser too;
    ranked by ``ts_rank``.
- ``sync_content`` rebuilds the entries of every module whose content changed (:func:`module_index`; the module
  entry's ``key`` is the content hash it was built from); discussions index a thread when it is created or answered (``grading.discussions.services``), through :func:`entry_put`.
- Results are only what the learner may read (``modules.selectors.search_results``): entries of modules they can
  open (a locked module's title is still found, its guide, glossary and threads are not). Only question threads
  are indexed, which everyone who may open the module reads; review requests are private and never indexed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

from django.db import connection, transaction

from modules.models import Module, SearchEntry

#: Han (with extensions and compatibility ideographs), kana, Hangul, CJK punctuation-free letters.
_CJK = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U00030000-\U0003134f"
)
_PIECE = re.compile(rf"([{_CJK}]+)|([^\W{_CJK}]+)")
#: At most this many query terms reach the backend (a pasted paragraph is not a query).
MAX_QUERY_TERMS = 24
MAX_BODY_CHARS = 20_000


def _pieces(text: str) -> Iterable[tuple[str, str]]:
    """("cjk" | "word", text) runs of ``text`` after NFKC and lower-casing."""
    for match in _PIECE.finditer(unicodedata.normalize("NFKC", text).lower()):
        if match.group(1):
            yield "cjk", match.group(1)
        else:
            yield "word", match.group(2)


def index_tokens(text: str) -> list[str]:
    """The terms ``text`` is indexed under: words, and each CJK character and character bigram."""
    tokens: list[str] = []
    for kind, piece in _pieces(text):
        if kind == "word":
            tokens.append(piece)
        else:
            tokens.extend(piece)
            tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
    return tokens


@dataclass(frozen=True)
class QueryTerm:
    text: str
    prefix: bool  # a word: matches every term it starts


def query_terms(query: str) -> list[QueryTerm]:
    """What a query must match, all of it: each word as a prefix, each CJK run as its bigrams (or its character)."""
    terms: list[QueryTerm] = []
    for kind, piece in _pieces(query):
        if kind == "word":
            terms.append(QueryTerm(piece, prefix=True))
        elif len(piece) == 1:
            terms.append(QueryTerm(piece, prefix=False))
        else:
            terms.extend(QueryTerm(piece[i : i + 2], prefix=False) for i in range(len(piece) - 1))
    unique = list(dict.fromkeys(terms))
    return unique[:MAX_QUERY_TERMS]


def _fts5_query(terms: list[QueryTerm]) -> str:
    return " AND ".join('"' + t.text.replace('"', '""') + '"' + ("*" if t.prefix else "") for t in terms)


def _tsquery(terms: list[QueryTerm]) -> str:
    def lexeme(t: QueryTerm) -> str:
        quoted = "'" + t.text.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + (":*" if t.prefix else "")

    return " & ".join(lexeme(t) for t in terms)


# --- the two backends ---------------------------------------------------------------------------------------------
FTS_TABLE = "modules_searchentry_fts"

POSTGRES_VECTOR = "array_to_tsvector(string_to_array(tokens, ' '))"


def _matching_ids(terms: list[QueryTerm], *, langs: list[str], limit: int) -> list[int]:
    """Ids of the entries in ``langs`` that match every term, best first."""
    placeholders = ", ".join(["%s"] * len(langs))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT id FROM modules_searchentry WHERE {POSTGRES_VECTOR} @@ %s::tsquery "
                f"AND lang IN ({placeholders}) "
                f"ORDER BY ts_rank({POSTGRES_VECTOR}, %s::tsquery) DESC, id LIMIT %s",
                [_tsquery(terms), *langs, _tsquery(terms), limit],
            )
        else:
            cursor.execute(
                f"SELECT e.id FROM {FTS_TABLE} f JOIN modules_searchentry e ON e.id = f.rowid "
                f"WHERE {FTS_TABLE} MATCH %s AND e.lang IN ({placeholders}) "
                f"ORDER BY bm25({FTS_TABLE}), e.id LIMIT %s",
                [_fts5_query(terms), *langs, limit],
            )
        return [row[0] for row in cursor.fetchall()]


# --- reads --------------------------------------------------------------------------------------------------------
def search_entries(*, query: str, lang: str, limit: int = 50) -> list[SearchEntry]:
    """Entries matching ``query`` in the learner's language first, then in the other one, best first; no access
    check here (``modules.selectors.search_results`` applies it)."""
    terms = query_terms(query)
    if not terms:
        return []
    own = "zh" if lang.startswith("zh") else "en"
    other = "en" if own == "zh" else "zh"
    ids = _matching_ids(terms, langs=[own, ""], limit=limit)
    if len(ids) < limit:
        ids += _matching_ids(terms, langs=[other], limit=limit - len(ids))
    rows = SearchEntry.objects.select_related("module").defer("module__payload").in_bulk(ids)
    return [rows[i] for i in ids if i in rows]


def excerpt(body: str, query: str, width: int = 160) -> str:
    """About ``width`` characters of ``body`` around the first place a query term occurs (its start otherwise)."""
    lowered = unicodedata.normalize("NFKC", body).lower()
    at = min((i for t in query_terms(query) if (i := lowered.find(t.text)) >= 0), default=0)
    start = max(0, at - width // 3)
    text = body[start : start + width]
    return ("…" if start else "") + text + ("…" if start + width < len(body) else "")


# --- writes -------------------------------------------------------------------------------------------------------
def entry_put(
    *, kind: str, lang: str, module: Module, key: str, title: str, body: str, url: str
) -> SearchEntry:
    """Create or replace the entry (kind, lang, module, key)."""
    body = body[:MAX_BODY_CHARS]
    entry, _ = SearchEntry.objects.update_or_create(
        kind=kind,
        lang=lang,
        module=module,
        key=key,
        defaults={
            "title": title[:300],
            "body": body,
            "url": url[:300],
            "tokens": " ".join(index_tokens(f"{title}\n{body}")),
        },
    )
    return entry


class _Sections(HTMLParser):
    """A rendered guide cut at its ``h2``/``h3`` headings: [(anchor, heading, text)] (text before the first heading
    belongs to the guide's title, anchor "")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[list[str]] = [["", "", ""]]
        self._heading: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"h2", "h3"}:
            anchor = dict(attrs).get("id") or ""
            self.sections.append([anchor, "", ""])
            self._heading = tag
        elif tag in {"script", "style", "svg", "annotation"}:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == self._heading:
            self._heading = None
        elif tag in {"script", "style", "svg", "annotation"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.sections[-1][1 if self._heading else 2] += data


def guide_sections(html: str) -> list[tuple[str, str, str]]:
    """(anchor, heading, text) of each headed section of a rendered guide, whitespace folded."""
    parser = _Sections()
    parser.feed(html)
    fold = lambda s: " ".join(s.split())  # noqa: E731
    return [(a, fold(h), fold(t)) for a, h, t in parser.sections if a and (h or t)]


def module_index(
    *,
    module: Module,
    guides: dict[str, str],
    glossary: list[dict[str, dict[str, str]]],
) -> int:
    """Replace ``module``'s title, guide-section and glossary entries: ``guides`` {lang: rendered HTML},
    ``glossary`` [{term: {en, zh}, definition: {en, zh}}]; its threads' entries stay. Returns the entry count."""
    url = f"/modules/{module.slug}/"
    count = 0
    with transaction.atomic():
        SearchEntry.objects.filter(module=module).exclude(kind=SearchEntry.Kind.THREAD).delete()
        for lang in ("en", "zh"):
            title = module.title.get(lang) or module.title.get("en") or module.slug
            summary = module.summary.get(lang) or ""
            entry_put(
                kind="module",
                lang=lang,
                module=module,
                key=module.content_hash,
                title=title,
                body=summary,
                url=url,
            )
            count += 1
            for anchor, heading, text in guide_sections(guides.get(lang, "")):
                entry_put(
                    kind="section",
                    lang=lang,
                    module=module,
                    key=anchor,
                    title=heading or title,
                    body=text,
                    url=f"{url}#{anchor}",
                )
                count += 1
            for item in glossary:
                term = item["term"].get(lang) or item["term"].get("en", "")
                definition = item["definition"].get(lang) or item["definition"].get("en", "")
                if term:
                    entry_put(
                        kind="term",
                        lang=lang,
                        module=module,
                        key=term,
                        title=term,
                        body=definition,
                        url=f"/references/#{module.slug}",
                    )
                    count += 1
    return count


def thread_index(*, module: Module, thread_id: int, title: str, posts: list[str]) -> SearchEntry:
    """Index one question thread (its title and posts) with no language (``lang`` ""): a post is written in one
    language, and learners of either may search for its words."""
    body = "\n".join(posts)
    url = f"/modules/{module.slug}/#thread-{thread_id}"
    return entry_put(
        kind="thread", lang="", module=module, key=str(thread_id), title=title, body=body, url=url
    )
