"""`newsflow setup` adds the spelling keys to articles stored before documents carried them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.core.models import Article, article_id_for
from newsflow.index.search import search_articles
from newsflow.index.setup import ensure_indices, names_for
from newsflow.index.spelling_keys import META_KEY, SPELLING_KEYS, add_spelling_keys

pytestmark = pytest.mark.es


def _article(url: str, persons: tuple[str, ...], language: str = "en") -> Article:
    return Article(id=article_id_for(url), url=url, title="Library", summary="", body="Opened.",
                   source="Example", feed_url=url + "/feed", language=language,
                   published_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
                   ingested_at=datetime(2026, 11, 30, 9, 5, tzinfo=UTC), story_id=url,
                   persons=persons, persons_alias=persons)


def test_setup_adds_the_keys_to_stored_articles_once_and_marks_the_index(es_client: Any,
                                                                        settings: Any) -> None:
    names = names_for(settings)
    ensure_indices(es_client, settings)
    mapping = es_client.indices.get_mapping(index=names.first_index)[names.first_index]["mappings"]
    assert mapping["_meta"][META_KEY] == SPELLING_KEYS  # a new index is born with keys in its documents
    # Stored as the indexer wrote documents before: the spellings without their keys, no mark.
    old = _article("https://old.example.com/a", ("Mary-Kate Dunleavy-Smith",))
    es_client.index(index=names.alias, id=old.id, document=old.to_document(), refresh=True)
    es_client.indices.put_mapping(index=names.first_index, meta={})
    query = 'persons:"Mary Kate Dunleavy Smith"'
    assert search_articles(es_client, settings, query).total == 0

    ensure_indices(es_client, settings)  # `newsflow setup`
    es_client.indices.refresh(index=names.alias)

    assert search_articles(es_client, settings, query).total == 1
    stored = es_client.get(index=names.alias, id=old.id)["_source"]
    assert stored["persons_alias"] == ["Mary-Kate Dunleavy-Smith", "mary kate dunleavy smith"]
    assert stored["persons"] == ["Mary-Kate Dunleavy-Smith"] and stored["title"] == "Library"
    mapping = es_client.indices.get_mapping(index=names.first_index)[names.first_index]["mappings"]
    assert mapping["_meta"][META_KEY] == SPELLING_KEYS
    assert add_spelling_keys(es_client, names.alias) == 0  # marked: not read again
