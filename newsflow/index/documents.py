"""From an Article to the document Elasticsearch stores: pure functions, no I/O.

Truncation is marked, not silent: a body longer than IndexSettings.max_body_chars (or a title longer
than max_title_chars) is cut at a word boundary before indexing and the document gets `truncated: true`,
so a search for `truncated:true` lists every shortened article. The content_hash stays the hash of the
full article, so a truncated article is not seen as "changed" on the next poll.

A cycle builds each article's document once (`index_documents`): the store writes it
(`ArticleStore.write_prepared`) and the alert rules percolate the same one
(`newsflow.alerts.engine.find_alerts(..., documents=...)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from enrich.spellings import with_keys
from newsflow.core.models import Article
from newsflow.core.settings import IndexSettings
from newsflow.index.entity_query import ENTITY_FIELDS, alias_field
from newsflow.index.mappings import LANGUAGE_ANALYZERS


def truncate_text(text: str, limit: int) -> str:
    """At most `limit` characters, cut at the last whitespace when there is one in the last tenth."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space >= limit * 0.9:
        cut = cut[:space]
    return cut.rstrip()


def index_document(article: Article, settings: IndexSettings) -> dict[str, Any]:
    """The document to index for an article: its contract fields plus the index layer's own."""
    document = article.to_document()
    title = truncate_text(article.title, settings.max_title_chars)
    body = truncate_text(article.body, settings.max_body_chars)
    document["truncated"] = title != article.title or body != article.body
    document["title"] = title
    document["body"] = body
    for facet in ENTITY_FIELDS:
        # The canonical names are spellings too, whoever built the article; each spelling's key is
        # beside it (enrich/spellings.py), so "al Assad" finds "al-Assad" and "U.S.A" "U.S.A.".
        document[alias_field(facet)] = with_keys((*document[facet], *document[alias_field(facet)]))
    document.update(language_copy(article, settings))
    return document


def language_copy(article: Article, settings: IndexSettings) -> dict[str, Any]:
    """{"i18n": {language: text}} for an article in a language Elasticsearch has an analyser for, else
    {}. The copy is not kept in _source, so a partial update must send it again (newsflow reenrich)."""
    analyzer_language = article.language.lower()[:2]
    if analyzer_language not in LANGUAGE_ANALYZERS:
        return {}
    title = truncate_text(article.title, settings.max_title_chars)
    body = truncate_text(article.body, settings.max_body_chars)
    return {"i18n": {analyzer_language: "\n\n".join(part for part in (title, article.summary, body) if part)}}


def index_documents(articles: Iterable[Article], settings: IndexSettings) -> dict[str, dict[str, Any]]:
    """Article id -> its document (`index_document`), built once per article; a later copy of an id
    wins. What the store writes and what the alert rules are matched against."""
    return {article.id: index_document(article, settings) for article in articles}
