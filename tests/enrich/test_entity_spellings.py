"""Every spelling of an entity finds it: the real model, the real Elasticsearch, search and alert rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from enrich.canonical import EntityRules, default_rules
from newsflow.alerts import AlertStore, RuleStore, match_articles
from newsflow.core.models import Article, article_id_for
from newsflow.index.search import search_articles
from newsflow.index.store import ArticleStore


def _article(url: str, title: str, body: str, source: str) -> Article:
    return Article(
        id=article_id_for(url), url=url, title=title, summary="", body=body, source=source,
        feed_url=f"{url}/feed", published_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
        ingested_at=datetime(2026, 11, 30, 9, 5, tzinfo=UTC), story_id=url,
    )


KYIV_POST = _article(
    "https://kyiv.example.com/visit", "President visits troops in the east",
    "Ukrainian President Volodymyr Zelenskyy visited troops near Kharkiv on Monday. Zelenskyy said the "
    "army needed more air defence before winter.", "Kyiv Example")
WIRE = _article(
    "https://wire.example.org/zelensky", "Zelensky asks allies for air defence",
    "KIEV, Nov 30 - Volodymyr Zelensky asked allies for more air defence systems on Monday, "
    "days after a drone attack on Kiev. Zelensky spoke in a video address.", "Wire Example")


@pytest.fixture
def enriched(enricher: Any) -> list[Article]:
    return enricher.enrich([KYIV_POST, WIRE])


def test_outlets_spelling_a_name_differently_share_one_facet_value(enriched: list[Article]) -> None:
    assert [a.persons for a in enriched] == [("Volodymyr Zelenskyy",), ("Volodymyr Zelenskyy",)]
    assert "Kyiv" in enriched[1].locations and "Kiev" not in enriched[1].locations
    assert "Zelensky" in enriched[1].persons_alias  # the article's own form stays findable


def test_a_rule_on_each_spelling_fires_on_the_same_articles(
    settings: Any, es_client: Any, enriched: list[Article]
) -> None:
    rules = RuleStore(es_client, settings)
    rules.add("official", 'persons:"Volodymyr Zelenskyy"', ["log:/tmp/official.jsonl"])
    rules.add("wire", 'persons:"Zelensky"', ["log:/tmp/wire.jsonl"])
    rules.add("old-spelling", "locations:Kiev", ["log:/tmp/kiev.jsonl"])

    match_articles(es_client, settings, enriched)

    fired = {(r.rule, r.article.source) for r in AlertStore(es_client, settings).all()}
    assert fired == {("official", "Kyiv Example"), ("official", "Wire Example"),
                     ("wire", "Kyiv Example"), ("wire", "Wire Example"), ("old-spelling", "Wire Example")}


def test_search_and_filters_on_any_spelling_find_every_copy(
    settings: Any, es_client: Any, enriched: list[Article]
) -> None:
    store = ArticleStore(es_client, settings)
    store.write(enriched)
    store.refresh()

    for query in ('persons:"Volodymyr Zelensky"', "persons:Zelenskiy", 'persons:"volodymyr zelenskyy"'):
        assert search_articles(es_client, settings, query).total == 2, query
    assert search_articles(es_client, settings, "*", filters=[("persons", "Zelensky")]).total == 2
    facets = search_articles(es_client, settings, "*").facets["persons"]
    assert [(f.value, f.count) for f in facets] == [("Volodymyr Zelenskyy", 2)]


@pytest.fixture
def table_with_a_new_alias(enricher: Any) -> Iterator[None]:
    """The entity table after someone added the German spelling (as a data edit would)."""
    component = enricher.nlp.get_pipe("newsflow_entity_canonicalizer_v2")
    original = component.rules
    data = {"entities": {"persons": {"Volodymyr Zelenskyy": ["Zelensky", "Wolodymyr Selenskyj"]}}}
    extra = EntityRules.from_mapping(data)
    component.rules = dataclasses.replace(original, table=extra.table)
    try:
        yield
    finally:
        component.rules = original


def test_a_rule_saved_before_an_alias_was_added_fires_after_reenrichment(
    settings: Any, es_client: Any, enricher: Any, request: pytest.FixtureRequest
) -> None:
    german = _article("https://de.example.net/selenskyj", "President asks for help",
                      "Ukrainian President Wolodymyr Selenskyj asked allies for more help on Monday, "
                      "his office said.", "German Example")
    RuleStore(es_client, settings).add("official", 'persons:"Volodymyr Zelenskyy"', ["log:/tmp/o.jsonl"])
    assert default_rules().table.lookup("Wolodymyr Selenskyj") is None
    match_articles(es_client, settings, enricher.enrich([german]))
    assert AlertStore(es_client, settings).all() == []

    request.getfixturevalue("table_with_a_new_alias")
    match_articles(es_client, settings, enricher.enrich([german]))  # as `newsflow reenrich` would

    assert [r.rule for r in AlertStore(es_client, settings).all()] == ["official"]


def test_places_the_gazetteer_knows_can_be_found_by_distance(
    settings: Any, es_client: Any, enriched: list[Article]
) -> None:
    from newsflow.index.setup import names_for

    assert (50.4547, 30.5238) in enriched[1].geo  # Kiev, as the wire spells it: Kyiv's coordinates
    store = ArticleStore(es_client, settings)
    store.write(enriched)
    store.refresh()

    def within(km: int, lat: float, lon: float) -> set[str]:
        response = es_client.search(index=names_for(settings).alias, query={
            "geo_distance": {"distance": f"{km}km", "geo": {"lat": lat, "lon": lon}}})
        return {hit["_source"]["source"] for hit in response["hits"]["hits"]}

    assert within(50, 50.45, 30.52) == {"Wire Example"}  # the wire copy names Kyiv
    assert within(50, 49.99, 36.23) == {"Kyiv Example"}  # the other names Kharkiv
    assert within(50, 48.85, 2.35) == set()  # Paris: neither
