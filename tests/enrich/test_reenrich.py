"""Re-enrichment of stored articles against the real Elasticsearch."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from enrich.reenrich import reenrich
from enrich.version import ENRICHMENT_VERSION
from newsflow.index.mappings import ANALYSIS, SOURCE_EXCLUDES, article_mappings
from tests.enrich.quality import load_gold

pytestmark = [pytest.mark.es, pytest.mark.slow, pytest.mark.corpus]


def test_stored_articles_are_reenriched_in_place_with_only_enrichment_fields(
    es_client: Any, settings: Any, enricher: Any
) -> None:
    concrete = settings.index_name("articles-000001")
    es_client.indices.create(
        index=concrete, mappings=article_mappings(), settings={"analysis": ANALYSIS},
        aliases={settings.index_name("articles"): {"is_write_index": True}},
    )
    articles = [g.article for g in load_gold()[:7]]
    # As an old enrichment version left them: wrong entities, no topics, a story id of their own.
    for article in articles:
        stale = dataclasses.replace(article, persons=("Nobody",), enrichment_version="2000.01-1",
                                    story_id="story-" + article.id)
        es_client.index(index=settings.index_name("articles"), id=article.id, document=stale.to_document())
    es_client.indices.refresh(index=concrete)

    progress: list[int] = []
    count = reenrich(es_client, settings, batch_size=3, on_progress=progress.append, enricher=enricher)

    assert count == 7 and progress == [3, 6, 7]
    expected = {a.id: a for a in enricher.enrich(articles)}
    for hit in es_client.search(index=settings.index_name("articles"), size=20)["hits"]["hits"]:
        doc, want = hit["_source"], expected[hit["_id"]]
        assert hit["_index"] == concrete
        assert doc["enrichment_version"] == ENRICHMENT_VERSION
        assert doc["persons"] == list(want.persons)
        assert doc["topics"] == list(want.topics)
        assert doc["story_id"] == "story-" + hit["_id"]  # left alone: alerts refer to it
        assert doc["title"] == want.title


def test_a_query_limits_what_is_reenriched(es_client: Any, settings: Any, enricher: Any) -> None:
    es_client.indices.create(
        index=settings.index_name("articles-000001"), mappings=article_mappings(),
        settings={"analysis": ANALYSIS}, aliases={settings.index_name("articles"): {"is_write_index": True}},
    )
    for article in [g.article for g in load_gold()[:4]]:
        es_client.index(index=settings.index_name("articles"), id=article.id, document=article.to_document(),
                        refresh=True)
    never_enriched = "NOT _exists_:enrichment_version"
    assert reenrich(es_client, settings, query=never_enriched, enricher=enricher) == 4
    assert reenrich(es_client, settings, query=never_enriched, enricher=enricher) == 0
    assert reenrich(es_client, settings, query=f'enrichment_version:"{ENRICHMENT_VERSION}"',
                    enricher=enricher) == 4


def test_reenrichment_keeps_the_language_copy_that_search_uses_for_other_languages(
    es_client: Any, settings: Any, enricher: Any
) -> None:
    from datetime import UTC, datetime

    from newsflow.core.models import Article, article_id_for
    from newsflow.index.documents import index_document, language_copy

    # As `newsflow setup` makes the index: the language copy is indexed, not kept in _source.
    es_client.indices.create(
        index=settings.index_name("articles-000001"),
        mappings={**article_mappings(), "_source": {"excludes": SOURCE_EXCLUDES}},
        settings={"analysis": ANALYSIS}, aliases={settings.index_name("articles"): {"is_write_index": True}},
    )
    url = "https://zeitung.example/politik/1"
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    article = Article(id=article_id_for(url), url=url, feed_url="https://zeitung.example/feed",
                      source="Zeitung", title="Der Bundestag beschließt neue Gesetze", summary="",
                      body="Die Abgeordneten stimmten am Donnerstag über mehrere Gesetze zur Energie ab. "
                           "Die Regierung begrüßte die Entscheidungen der Parlamentarier.",
                      published_at=now, ingested_at=now, language="de")
    es_client.index(index=settings.index_name("articles"), id=article.id,
                    document=index_document(article, settings.index), refresh=True)

    def found_by_german_stems() -> int:  # "Gesetz", "Entscheidung": not the forms the text uses
        query = {"match": {"i18n.de": {"query": "Gesetz Entscheidung", "operator": "and"}}}
        hits = es_client.search(index=settings.index_name("articles"), query=query)["hits"]
        return int(hits["total"]["value"])

    assert found_by_german_stems() == 1

    assert reenrich(es_client, settings, enricher=enricher,
                    kept_outside_source=lambda a: language_copy(a, settings.index)) == 1
    es_client.indices.refresh(index=settings.index_name("articles"))

    assert found_by_german_stems() == 1
