"""Every spelling of an entity finds it: the real model, the real Elasticsearch, search and alert rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from enrich.canonical import EntityRules, default_rules
from newsflow.alerts import AlertStore, RuleStore, match_articles
from newsflow.alerts.rules import rules_index
from newsflow.core.models import Article, article_id_for
from newsflow.index.search import search_articles
from newsflow.index.setup import names_for
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


# One article per way of writing a name, for entities the table knows and entities it does not.
WRITINGS = [
    _article("https://tr.example.com/a", "Talks in Ankara", "Turkish President Recep Tayyip Erdoğan met "
             "officials in Ankara on Monday. Erdoğan said talks would continue.", "Diacritics, table"),
    _article("https://br.example.com/a", "March", "Thousands marched in São Paulo on Sunday. Police in São "
             "Paulo said the protest was peaceful.", "Diacritics, gazetteer"),
    _article("https://es.example.com/a", "Two goals", "Striker Ramón Pérez scored twice for the club on "
             "Saturday. Pérez has now scored ten goals.", "Diacritics, unknown"),
    _article("https://sy.example.com/a", "Damascus", "Syrian President Bashar Al-Assad spoke in Damascus. "
             "Al-Assad thanked his allies.", "Case and hyphen, table"),
    _article("https://ie.example.com/a", "Library", "Local councillor Mary-Kate Dunleavy-Smith opened the "
             "new library on Friday. She said it was overdue.", "Hyphens, unknown"),
    _article("https://tx.example.com/a", "Campaign", "Former congressman Beto O’Rourke campaigned in El "
             "Paso on Tuesday. He spoke to voters.", "Curly apostrophe, unknown"),
    _article("https://ly.example.com/a", "Libya", "Libya's former ruler Muammar Qaddafi was killed in "
             "2011. Qaddafi ruled for 42 years.", "Transliteration, table"),
    _article("https://ru.example.com/a", "Talks stalled", "Russian President Vladimir Putin said on "
             "Tuesday that talks had stalled. Putin's spokesman confirmed it.", "Titles, table"),
]
# query -> the one article it must find, as a search, as a --filter and as an alert rule.
FINDS = {
    "persons:Erdogan": "Diacritics, table", 'persons:"Tayyip Erdoğan"': "Diacritics, table",
    "persons:ERDOGAN": "Diacritics, table",
    'locations:"Sao Paulo"': "Diacritics, gazetteer", 'locations:"Sao-Paulo"': "Diacritics, gazetteer",
    'persons:"Ramon Perez"': "Diacritics, unknown", "persons:Pérez": "Diacritics, unknown",
    'persons:"Bashar al-Assad"': "Case and hyphen, table", 'persons:"al Assad"': "Case and hyphen, table",
    "persons:Assad": "Case and hyphen, table", 'persons:"President Assad"': "Case and hyphen, table",
    'persons:"Mary Kate Dunleavy Smith"': "Hyphens, unknown",
    'persons:"Mary-Kate Dunleavy–Smith"': "Hyphens, unknown",  # an en dash
    'persons:"Beto O\'Rourke"': "Curly apostrophe, unknown",
    'persons:"Beto ORourke"': "Curly apostrophe, unknown",
    "persons:Gaddafi": "Transliteration, table", "persons:Kadhafi": "Transliteration, table",
    'persons:"Muammar Gaddafi"': "Transliteration, table",
    'persons:"President Putin"': "Titles, table", "persons:Putin's": "Titles, table",
    'persons:"Mr. Putin"': "Titles, table", 'persons:"former President Vladimir Putin’s"': "Titles, table",
}


@pytest.fixture
def writings(enricher: Any) -> list[Article]:
    return enricher.enrich(WRITINGS)


def test_an_outlet_writing_a_name_its_own_way_gets_the_tables_facet_value(writings: list[Article]) -> None:
    by_source = {a.source: a for a in writings}
    assert by_source["Transliteration, table"].persons == ("Muammar Gaddafi",)
    assert by_source["Diacritics, table"].persons == ("Recep Tayyip Erdogan",)
    assert by_source["Diacritics, gazetteer"].locations == ("Sao Paulo",)


def test_every_writing_of_a_name_finds_it_in_search_filters_and_rules(
    settings: Any, es_client: Any, writings: list[Article]
) -> None:
    store = ArticleStore(es_client, settings)
    store.write(writings)
    store.refresh()
    rules = RuleStore(es_client, settings)
    for n, query in enumerate(FINDS):
        rules.add(f"rule-{n}", query, [f"log:/tmp/rule-{n}.jsonl"])

    for query, source in FINDS.items():
        found = search_articles(es_client, settings, query)
        assert [h.source for h in found.hits] == [source], query
        field, value = query.split(":", 1)
        filtered = search_articles(es_client, settings, "*", filters=[(field, value.strip('"'))])
        assert [h.source for h in filtered.hits] == [source], query
    match_articles(es_client, settings, writings)
    fired = {(r.rule, r.article.source) for r in AlertStore(es_client, settings).all()}
    assert fired == {(f"rule-{n}", source) for n, source in enumerate(FINDS.values())}


def test_a_name_is_not_found_by_another_persons_name_or_by_a_part_the_table_does_not_list(
    settings: Any, es_client: Any, writings: list[Article]
) -> None:
    store = ArticleStore(es_client, settings)
    store.write(writings)
    store.refresh()
    for query in ('persons:"Hafez al-Assad"', "persons:Smith", 'persons:"Ramon"', "persons:Erdo",
                  'persons:"President"', "organizations:Erdogan"):
        assert search_articles(es_client, settings, query).total == 0, query


def test_a_rule_saved_before_an_alias_was_added_fires_after_setup_without_reenrichment(
    settings: Any, es_client: Any
) -> None:
    """An article enriched before the table listed "Qaddafi" has its own name for him; once the table
    lists it, `newsflow setup` saves the rules again and they find the article as it is stored."""
    old = dataclasses.replace(WRITINGS[6], persons=("Muammar Qaddafi",), persons_alias=("Muammar Qaddafi",
                                                                                        "Qaddafi"))
    store = ArticleStore(es_client, settings)
    store.write([old])
    store.refresh()
    rules = RuleStore(es_client, settings)
    rules.add("libya", "persons:Gaddafi", ["log:/tmp/libya.jsonl"])
    # As the rule was stored under the table before the edit: its spellings then, another fingerprint.
    before = 'persons_alias:(Gaddafi OR "Muammar Gaddafi" OR "Moammar Gadhafi" OR "Gadhafi")'
    es_client.update(index=rules_index(settings), id="libya", refresh=True,
                     doc={"query": {"query_string": {"query": before}}})
    es_client.indices.put_mapping(index=rules_index(settings), meta={"rule_query_version": 4,
                                                                    "entity_table": "before the edit"})
    match_articles(es_client, settings, [old])
    assert AlertStore(es_client, settings).all() == []

    rules.ensure()  # what `newsflow setup` does

    match_articles(es_client, settings, [old])
    assert [r.rule for r in AlertStore(es_client, settings).all()] == ["libya"]
    assert search_articles(es_client, settings, "persons:Gaddafi").total == 1  # a search, at once
    hits = es_client.search(index=names_for(settings).alias, query={"match_all": {}})["hits"]["hits"]
    assert hits[0]["_source"]["persons"] == ["Muammar Qaddafi"]  # not enriched again
